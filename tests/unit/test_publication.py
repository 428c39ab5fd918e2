"""Publishing the reports: cover, provenance, Part 3, the site index, PDF links, fonts and page breaks."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from maturity.config_models import PublicationSettings
from maturity.settings import ConfigError, _typed, load_publication_config, load_settings
from tasks.contracts import DatasetError
from tasks.publish import publish_open_data
from tasks.report import print_pdfs, render_reports, write_index
from tasks.study import read_study
from tests.unit.test_reports import DENBIGHSHIRE, page_text, pdf_objects, require_tool

# The six good-practice examples of the reference report, as each language names them.
CASE_STUDIES = {  # in the order Part 3 gives them: grouped by the lesson each offers
    "en": (
        "Conwy and Denbighshire",
        "Carmarthenshire",
        "London Fire Brigade",
        "Camden Residents Index",
        "Digital Flintshire",
        "Data Mill North",
    ),
    "cy": (
        "Conwy a Sir Ddinbych",
        "Sir Gaerfyrddin",
        "Brigâd Dân Llundain",
        "Mynegai Preswylwyr Camden",
        "Sir y Fflint Ddigidol",
        "Data Mill North",
    ),
}
# A link a report may carry: within the page, relative to it, to an e-mail address or to an https site.
ALLOWED_HREF = re.compile(r"^(#|mailto:|https://|(?![a-z][a-z0-9+.-]*:)(?!/)[^\\]+$)")
# A page holds at least this share of the text of the report's median page, so none is left mostly blank.
MIN_PAGE_TEXT_SHARE = 0.3


@pytest.fixture(scope="module")
def site(scored_demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A version with every report (HTML) and the open-data release, as a run leaves them."""
    version = tmp_path_factory.mktemp("site")
    render_reports(scored_demo.scores, scored_demo.study, version, pdf=False)
    publish_open_data(scored_demo.scores, version)
    return version


@pytest.fixture(scope="module")
def printed(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Denbighshire's English report and the Welsh national report printed as a run prints them."""
    folder = tmp_path_factory.mktemp("printed") / "reports" / "2018"
    shutil.copytree(site / "reports" / "2018", folder)
    print_pdfs([folder / f"{DENBIGHSHIRE}.en.html", folder / "national.cy.html"])
    write_index(folder)
    return folder


def hrefs(page: str) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'href="([^"]*)"', page)]


def pdf_uris(pdf: Path) -> list[str]:
    return [uri.decode() for uri in re.findall(rb"/URI\s*\(((?:\\.|[^\\)])*)\)", pdf_objects(pdf))]


def test_every_report_carries_a_cover_and_provenance_in_its_language(site: Path) -> None:
    reports = site / "reports" / "2018"
    for stem in (DENBIGHSHIRE, "national"):
        for language, publisher, date, title in (
            ("en", "Data maturity study team", "31 May 2018", "national study (demo)"),
            ("cy", "Tîm yr astudiaeth aeddfedrwydd data", "31 Mai 2018", "astudiaeth genedlaethol (demo)"),
        ):
            page = (reports / f"{stem}.{language}.html").read_text()
            cover = page_text(page[page.index('<section id="cover"') : page.index("</section>")])
            assert publisher in cover, (stem, language)
            assert date in cover, (stem, language)
            assert "2018.1" in cover  # the open-data release these figures go out in
            assert "data-maturity@example.org" in cover
            links = hrefs(page)
            assert "index.html" in links
            assert "../../open-data/2018/maturity_levels.csv" in links
            if stem != "national":
                assert f"national.{language}.html" in links
                assert DENBIGHSHIRE in cover  # whose rows of the open data are this council's
            footer = page_text(page[page.index("<footer") :])
            assert title in footer, (stem, language)  # the study title in the page's own language


def test_the_release_the_reports_name_is_the_one_published_and_stays_when_nothing_changes(
    scored_demo, site: Path
) -> None:
    package = json.loads((site / "open-data" / "2018" / "datapackage.json").read_text())
    assert package["version"] == "2018.1"
    render_reports(scored_demo.scores, scored_demo.study, site, [DENBIGHSHIRE], pdf=False)
    assert "2018.1 " in page_text((site / "reports" / "2018" / f"{DENBIGHSHIRE}.en.html").read_text())
    publish_open_data(scored_demo.scores, site)
    assert json.loads((site / "open-data" / "2018" / "datapackage.json").read_text())["version"] == "2018.1"


def part3_html(site: Path, language: str) -> str:
    page = (site / "reports" / "2018" / f"{DENBIGHSHIRE}.{language}.html").read_text()
    return page[page.index("Part 3:" if language == "en" else "Rhan 3:") : page.index("</main>")]


def test_part_3_names_all_six_good_practice_examples_in_both_languages(site: Path) -> None:
    for language in ("en", "cy"):
        page = page_text((site / "reports" / "2018" / f"{DENBIGHSHIRE}.{language}.html").read_text())
        part3 = page[page.index("Part 3:" if language == "en" else "Rhan 3:") :]
        headings = re.findall(r"<h3>([^<]+)</h3>", part3_html(site, language))
        assert len(headings) == len(CASE_STUDIES[language]), headings
        for name, heading in zip(CASE_STUDIES[language], headings, strict=True):
            assert name in html.unescape(heading), (language, name)
            assert name in part3


def test_no_html_page_links_to_a_local_path(site: Path) -> None:
    pages = sorted((site / "reports").rglob("*.html"))
    assert len(pages) == 2 * (len(load_settings().councils) + 1) + 1  # every report, and the index
    for page in pages:
        text = page.read_text()
        assert "file:" not in text, page.name
        assert str(site) not in text, page.name
        for href in hrefs(text):
            assert ALLOWED_HREF.match(href), (page.name, href)


def test_pdf_links_are_relative_to_the_report_never_local_paths(printed: Path) -> None:
    for pdf in sorted(printed.glob("*.pdf")):
        uris = pdf_uris(pdf)
        assert "index.html" in uris, pdf.name
        assert "../../open-data/2018/maturity_levels.csv" in uris, pdf.name
        for uri in uris:
            assert ALLOWED_HREF.match(uri), (pdf.name, uri)
            assert "file:" not in uri, (pdf.name, uri)
        assert str(printed.parent.parent).encode() not in pdf_objects(pdf)


def test_pdf_links_are_absolute_under_a_configured_base_url(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = load_publication_config().model_copy(
        update={"base_url": "https://data.example.org/maturity/"}
    )
    monkeypatch.setattr("tasks.report.load_publication_config", lambda: configured)
    folder = tmp_path / "reports" / "2018"
    folder.mkdir(parents=True)
    shutil.copy(site / "reports" / "2018" / "national.en.html", folder)
    [pdf] = print_pdfs([folder / "national.en.html"], workers=1)
    uris = [uri for uri in pdf_uris(pdf) if not uri.startswith("mailto:")]
    assert "https://data.example.org/maturity/reports/2018/index.html" in uris
    assert "https://data.example.org/maturity/open-data/2018/maturity_levels.csv" in uris
    assert all(uri.startswith("https://") for uri in uris), uris


def test_the_cover_is_page_one_and_no_page_is_mostly_blank_or_ends_with_a_heading(printed: Path) -> None:
    pdftotext = require_tool("pdftotext")
    pdf = printed / f"{DENBIGHSHIRE}.en.pdf"
    source = (printed / f"{DENBIGHSHIRE}.en.html").read_text()
    headings = {page_text(h).strip() for h in re.findall(r"<h[1-4][^>]*>(.*?)</h[1-4]>", source, flags=re.S)}
    pages = subprocess.run([pdftotext, str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    pages = pages.split("\f")[:-1]  # pdftotext ends every page with a form feed
    assert len(pages) > 3
    cover = " ".join(pages[0].split())
    for shown in (
        "How well the council uses data",
        "Denbighshire County Council",
        "Draft for factual",
        "Data maturity study team",
        "31 May 2018",
        "Wave 2018",
        "2018.1",
    ):
        assert shown in cover, shown
    assert "About this report" not in cover  # the report proper starts on page 2
    sizes = sorted(len(page.split()) for page in pages[:-1])  # the last page may be short
    median = sizes[len(sizes) // 2]
    for number, page in enumerate(pages[:-1], start=1):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        assert len(page.split()) >= MIN_PAGE_TEXT_SHARE * median, f"page {number} is mostly blank"
        body = [line for line in lines if not re.fullmatch(r"\d+ / \d+", line)]  # the page number
        last = body[-1]
        assert not any(heading.endswith(last) for heading in headings), f"page {number} ends on {last!r}"


def test_pdfs_use_one_font_family(printed: Path) -> None:
    pdffonts = require_tool("pdffonts")
    for pdf in sorted(printed.glob("*.pdf")):
        listing = subprocess.run([pdffonts, str(pdf)], check=True, capture_output=True, text=True).stdout
        names = [line.split()[0] for line in listing.splitlines()[2:] if line.strip()]
        families = {re.sub(r"(-(Bold|Oblique|BoldOblique))+$", "", name.split("+")[-1]) for name in names}
        assert families == {"DejaVu-Sans"}, (pdf.name, names)


def test_the_site_index_links_every_report_pdf_and_open_data_file_that_exists(
    site: Path, printed: Path
) -> None:
    for folder in (site / "reports" / "2018", printed):
        page = (folder / "index.html").read_text()
        assert '<html lang="cy">' in page
        assert '<section class="index-part" lang="en"' in page
        links = set(hrefs(page))
        outputs = {
            p.name for p in folder.iterdir() if p.suffix in (".html", ".pdf") and p.name != "index.html"
        }
        assert outputs <= links, sorted(outputs - links)
        for link in links:
            assert (folder / link).resolve().is_file() or link.startswith("../../open-data/"), link
    assert {f"{DENBIGHSHIRE}.en.pdf", "national.cy.pdf"} <= set(hrefs((printed / "index.html").read_text()))
    release = site / "open-data" / "2018"
    for link in hrefs((site / "reports" / "2018" / "index.html").read_text()):
        if link.startswith("../../open-data/"):
            assert (site / "reports" / "2018" / link).resolve().is_file(), link
    assert {p.name for p in release.glob("*.csv")} <= {Path(link).name for link in links}


def test_publication_config_refuses_an_address_that_is_not_https() -> None:
    values = yaml.safe_load((Path("config") / "publication.yaml").read_text(encoding="utf-8"))
    for key, value in (("base_url", "http://example.org/"), ("methodology_url", "file:///srv/method")):
        with pytest.raises(ConfigError, match=f"config/publication.yaml: {key}"):
            _typed("publication.yaml", None, PublicationSettings, {**values, key: value})
    with pytest.raises(ConfigError, match="publication_dates"):
        _typed(
            "publication.yaml", None, PublicationSettings, {**values, "publication_dates": {"2018": "soon"}}
        )
    site = _typed("publication.yaml", None, PublicationSettings, {**values, "base_url": "https://a.org/x"})
    assert site.base_url == "https://a.org/x/"


def test_study_title_cy_is_optional_and_checked(demo_study: Path, tmp_path: Path) -> None:
    assert (
        read_study(demo_study).title_cy == "Defnydd llywodraeth leol o ddata: astudiaeth genedlaethol (demo)"
    )
    study = tmp_path / "study"
    shutil.copytree(demo_study, study)
    spec = yaml.safe_load((study / "study.yaml").read_text())
    del spec["title_cy"]
    (study / "study.yaml").write_text(yaml.safe_dump(spec))
    assert read_study(study).title_cy is None
    (study / "study.yaml").write_text(yaml.safe_dump({**spec, "title_cy": ["not", "text"]}))
    with pytest.raises(DatasetError, match="title_cy must be the study's title in Welsh"):
        read_study(study)
