"""Printing a rendered HTML report to tagged PDF with WeasyPrint, in a worker process.

Kept apart from tasks/report.py so that a spawned worker imports only WeasyPrint, not Prefect or pandas.
"""

from __future__ import annotations

from pathlib import Path

# Tagged PDF (structure tree, reading order, alt text) meeting PDF/UA-1 as far as WeasyPrint supports it.
PDF_OPTIONS = {"pdf_tags": True, "pdf_variant": "pdf/ua-1"}


def print_pdf_bytes(html_path: str, base_url: str | None = None) -> bytes:
    """One report printed from its HTML file (print media) to tagged PDF bytes, its links never local.

    The HTML is read as text, not opened by file name: WeasyPrint would resolve every relative link
    against the file's folder and print file:///… build paths into the PDF. With base_url None relative
    links stay relative (they open beside the PDF, as in the HTML); with the page's published address
    they become absolute under it.
    """
    from weasyprint import HTML  # imported here: only PDF workers need WeasyPrint and its Pango libraries

    text = Path(html_path).read_text(encoding="utf-8")
    return HTML(string=text, base_url=base_url, media_type="print").write_pdf(**PDF_OPTIONS)
