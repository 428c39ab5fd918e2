"""An independent attack on the open-data release (written apart from maturity/disclosure.py)."""
