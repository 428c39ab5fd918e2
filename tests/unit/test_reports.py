"""Local and national reports: both languages, status, charts, inert comments, reruns and PDF output."""

from __future__ import annotations

import contextlib
import dataclasses
import html
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from PIL import Image

from maturity.settings import load_settings
from maturity.translations import count_for_review, extract_messages, read_catalogue
from tasks.report import print_pdfs, render_reports

DENBIGHSHIRE = "W06000004"
HOSTILE_COMMENT = "<script>alert('x')</script> <b>bold</b> {{ 7 * 7 }} {% if true %}x{% endif %} &amp;"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|\{[a-z_]+\}")
# A rendered first page counts as blank when fewer pixels than this are not white.
MIN_INKED_PIXELS = 2000
INK_THRESHOLD = 200  # grey level below which a pixel counts as ink


def page_text(page: str) -> str:
    """The visible text of a page: no style block, no tags, whitespace collapsed, entities decoded."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture(scope="module")
def rendered(scored_demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every report, HTML only, rendered once for the module (draft status)."""
    version = tmp_path_factory.mktemp("version")
    render_reports(scored_demo.scores, scored_demo.study, version, pdf=False)
    return version / "reports" / "2018"


def test_welsh_report_reproduces_the_reference_table_in_welsh(rendered: Path) -> None:
    page = (rendered / f"{DENBIGHSHIRE}.cy.html").read_text()
    text = page_text(page)
    assert '<html lang="cy">' in page
    assert "Derbynwyr yr offeryn data Nifer a wahoddwyd Ymatebion a ddaeth i law Canran a ymatebodd" in text
    assert "Swyddogion 133 67 50%" in text
    assert "Aelodau Etholedig 47 9 19%" in text
    assert "Cyfanswm 180 76 42%" in text
    assert "Cyngor Sir Ddinbych" in text
    assert "15 Ionawr 2018" in text  # fieldwork start, a Welsh date
    assert "Rhan 3: arferion da" in text
    assert "What we found" not in text


def test_each_language_version_uses_only_its_own_catalogue(rendered: Path) -> None:
    for stem in (DENBIGHSHIRE, "national"):
        english = page_text((rendered / f"{stem}.en.html").read_text())
        welsh = page_text((rendered / f"{stem}.cy.html").read_text())
        assert "Drafft i wirio cywirdeb ffeithiol" not in english
        assert "Draft for factual accuracy check" in english
        assert "Drafft i wirio cywirdeb ffeithiol" in welsh
        assert "Draft for factual accuracy check" not in welsh
        assert "cylch 2018" in welsh
        assert "cylch 2018" not in english


def test_each_language_links_to_the_other(rendered: Path) -> None:
    for stem in (DENBIGHSHIRE, "national"):
        english = (rendered / f"{stem}.en.html").read_text()
        welsh = (rendered / f"{stem}.cy.html").read_text()
        assert f'<a href="{stem}.cy.html" hreflang="cy" lang="cy">Cymraeg</a>' in english
        assert f'<a href="{stem}.en.html" hreflang="en" lang="en">English</a>' in welsh


def test_national_report_lists_councils_alphabetically_in_each_language(rendered: Path) -> None:
    settings = load_settings()
    for language, name in (("en", "name_en"), ("cy", "name_cy")):
        page = (rendered / f"national.{language}.html").read_text()
        start = page.index('id="levels-heatmap"')
        heatmap = page[start : page.index("</table>", start)]
        row_names = re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', heatmap)
        assert [html.unescape(n) for n in row_names] == sorted(getattr(c, name) for c in settings.councils)
        cells = re.findall(r'<td class="num(?: level-(\d))?">(\d|\[c\])(?:<sup>[†‡]</sup>)?\*?</td>', heatmap)
        assert len(cells) == len(settings.councils) * len(settings.characteristics)
        # The printed number repeats what the shade shows, so the heatmap reads without colour.
        assert all(shade == shown for shade, shown in cells if shown != "[c]")
        assert all(shade == "" for shade, shown in cells if shown == "[c]")  # a withheld cell: no shade


def test_every_chart_has_a_title_a_description_and_a_table(rendered: Path) -> None:
    page = (rendered / f"{DENBIGHSHIRE}.en.html").read_text()
    charts = re.findall(r"<svg role=\"img\" aria-labelledby=\"([^ ]+) ([^\"]+)\".*?</svg>", page, flags=re.S)
    assert len(charts) >= len(load_settings().themes)
    for title_id, description_id in charts:
        assert f'<title id="{title_id}">' in page
        assert re.search(rf'<desc id="{description_id}">[^<]{{20,}}</desc>', page)
    assert page.count("<figure") <= page.count("<table")


def test_draft_reports_are_watermarked_and_final_ones_are_not(
    scored_demo, rendered: Path, tmp_path: Path
) -> None:
    draft = (rendered / f"{DENBIGHSHIRE}.en.html").read_text()
    assert "Draft for factual accuracy check" in draft
    assert 'class="watermark"' in draft
    render_reports(scored_demo.scores, scored_demo.study, tmp_path, [DENBIGHSHIRE], draft=False, pdf=False)
    final = (tmp_path / "reports" / "2018" / f"{DENBIGHSHIRE}.cy.html").read_text()
    assert "Drafft i wirio cywirdeb ffeithiol" not in final
    assert 'class="watermark"' not in final
    assert "Adroddiad terfynol." in final


def test_a_hostile_comment_is_shown_as_inert_text_through_the_quote_path(scored_demo, tmp_path: Path) -> None:
    comments = scored_demo.scores.comment_themes.copy()
    chosen = comments.index[
        (comments["gss_code"] == DENBIGHSHIRE)
        & (comments["theme"] == "data_protection")
        & (comments["quote_rank"] == 1)
    ]
    assert len(chosen) == 1
    comments.loc[chosen, "comment_redacted"] = HOSTILE_COMMENT
    scores = dataclasses.replace(scored_demo.scores, comment_themes=comments)
    render_reports(scores, scored_demo.study, tmp_path, [DENBIGHSHIRE], pdf=False)
    for language in ("en", "cy"):
        page = (tmp_path / "reports" / "2018" / f"{DENBIGHSHIRE}.{language}.html").read_text()
        assert "<script>" not in page
        assert "<b>bold</b>" not in page
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt;" in page
        assert "{{ 7 * 7 }} {% if true %}x{% endif %} &amp;amp;" in page
        assert HOSTILE_COMMENT in page_text(page)


def test_a_council_rerun_rewrites_only_its_changed_pages_and_never_another_councils(
    scored_demo, rendered: Path, tmp_path: Path
) -> None:
    target = tmp_path / "reports" / "2018"
    shutil.copytree(rendered, target)
    stale = {f"{DENBIGHSHIRE}.en.html", "national.cy.html"}  # as if the correction moved their figures
    for name in stale:
        (target / name).write_text("stale")
    before = {path.name: path.stat().st_ino for path in target.iterdir()}
    paths = render_reports(scored_demo.scores, scored_demo.study, tmp_path, [DENBIGHSHIRE], pdf=False)
    rendered_now = {f"{stem}.{lang}.html" for stem in (DENBIGHSHIRE, "national") for lang in ("en", "cy")}
    assert {p.name for p in paths} == rendered_now | {"index.html"}  # the site index is kept current
    after = {path.name: path.stat().st_ino for path in target.iterdir()}
    assert after.keys() == before.keys()
    changed = {name for name in after if after[name] != before[name]}
    # A page whose text moved is written by rename (new inode); an unchanged page and every other
    # council's report keep their files.
    assert changed == stale
    fresh = (target / f"{DENBIGHSHIRE}.en.html").read_text()
    assert fresh == (rendered / f"{DENBIGHSHIRE}.en.html").read_text()


def test_a_rerun_reprints_an_existing_pdf_so_it_never_lags_its_html(
    scored_demo, rendered: Path, tmp_path: Path
) -> None:
    target = tmp_path / "reports" / "2018"
    shutil.copytree(rendered, target)
    stale = target / f"{DENBIGHSHIRE}.cy.pdf"
    stale.write_bytes(b"stale")
    paths = render_reports(scored_demo.scores, scored_demo.study, tmp_path, [DENBIGHSHIRE], pdf=False)
    assert stale in paths
    assert stale.read_bytes().startswith(b"%PDF")
    assert not (target / f"{DENBIGHSHIRE}.en.pdf").exists()  # PDFs only on request, or to replace one


def test_welsh_catalogue_translates_every_string_and_keeps_placeholders() -> None:
    welsh = {message.id: message for message in read_catalogue("cy") if message.id}
    for message in extract_messages():
        if not message.id:
            continue
        assert message.id in welsh, f"run scripts/update-translations: {message.id!r} is missing"
        translated = welsh[message.id].string
        assert translated, f"no Welsh for {message.id!r}"
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(message.id)), message.id
    assert 0 < count_for_review("cy") <= len(welsh)


@pytest.fixture(scope="module")
def printed(rendered: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Denbighshire's English and Welsh reports and the Welsh national report printed to PDF."""
    folder = tmp_path_factory.mktemp("pdf")
    sources = [f"{DENBIGHSHIRE}.en.html", f"{DENBIGHSHIRE}.cy.html", "national.cy.html"]
    for name in sources:
        shutil.copy(rendered / name, folder / name)
    return print_pdfs([folder / name for name in sources])


def require_tool(name: str) -> str:
    """The path of a Debian tool the PDF checks need, or a skip naming the package to install."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not installed (Debian poppler-utils; scripts/install-report-deps installs it)")
    return found


def test_pdf_first_page_renders_to_a_non_blank_png(printed: list[Path], tmp_path: Path) -> None:
    pdftoppm = require_tool("pdftoppm")
    for pdf in printed:
        assert pdf.read_bytes().startswith(b"%PDF")
        stem = tmp_path / pdf.stem
        subprocess.run([pdftoppm, "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(stem)], check=True)
        (image_path,) = tmp_path.glob(f"{pdf.stem}*.png")
        image = Image.open(image_path).convert("L")
        inked = sum(count for level, count in enumerate(image.histogram()) if level < INK_THRESHOLD)
        assert inked > MIN_INKED_PIXELS, f"{pdf.name}: first page looks blank"


def test_pdfs_are_tagged_and_carry_title_and_language(printed: list[Path]) -> None:
    pdfinfo = require_tool("pdfinfo")
    for pdf in printed:
        info = subprocess.run([pdfinfo, str(pdf)], check=True, capture_output=True, text=True).stdout
        assert re.search(r"^Tagged:\s+yes$", info, flags=re.M), pdf.name
        assert re.search(r"^Title:\s+\S", info, flags=re.M), pdf.name
        assert int(re.search(r"^Pages:\s+(\d+)$", info, flags=re.M).group(1)) > 1
    assert re.search(rb"/Lang ?\(cy\)", pdf_objects(printed[1]))
    assert re.search(rb"/Lang ?\(en\)", pdf_objects(printed[0]))


def pdf_objects(pdf: Path) -> bytes:
    """A PDF's bytes with every Flate-compressed stream (object streams included) decompressed."""
    raw = pdf.read_bytes()
    parts = [raw]
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", raw, flags=re.S):
        with contextlib.suppress(zlib.error):
            parts.append(zlib.decompress(match.group(1)))
    return b"\n".join(parts)
