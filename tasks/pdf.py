"""Printing a rendered HTML report to tagged PDF with WeasyPrint, in a worker process.

Kept apart from tasks/report.py so that a spawned worker imports only WeasyPrint, not Prefect or pandas.
"""

from __future__ import annotations

# Tagged PDF (structure tree, reading order, alt text) meeting PDF/UA-1 as far as WeasyPrint supports it.
PDF_OPTIONS = {"pdf_tags": True, "pdf_variant": "pdf/ua-1"}


def print_pdf_bytes(html_path: str) -> bytes:
    """One report printed from its HTML file (print media, relative links kept) to tagged PDF bytes."""
    from weasyprint import HTML  # imported here: only PDF workers need WeasyPrint and its Pango libraries

    return HTML(filename=html_path, media_type="print").write_pdf(**PDF_OPTIONS)
