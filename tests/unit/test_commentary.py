"""Auditors' commentary: every bad file stops the run in one line naming it, rendering is safe, and the
demo's commentary reaches Denbighshire's report in English and Welsh and the run's quality record."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import Markup

from maturity.commentary import render_commentary
from maturity.settings import load_limits
from tasks.commentary import (
    COMMENTARY_RECORD_FILE,
    check_commentary,
    council_commentary,
    write_commentary_record,
)
from tasks.contracts import DatasetError
from tasks.report import render_reports
from tasks.study import read_study

DENBIGHSHIRE = "W06000004"
THEME = "data_protection"


def write(root: Path, relative: str, data: bytes | str = "Some commentary.\n") -> Path:
    """Write a file under the study folder (folders made as needed)."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def pair(
    root: Path, council: str = DENBIGHSHIRE, theme: str = THEME, text: str = "Some commentary.\n"
) -> None:
    """A theme's commentary in English and Welsh."""
    for language in ("en", "cy"):
        write(root, f"commentary/{council}/{theme}.{language}.md", text)


def stop_message(root: Path) -> str:
    with pytest.raises(DatasetError) as stopped:
        check_commentary(root)
    message = str(stopped.value)
    assert "\n" not in message  # one line
    assert "run again" in message  # and what to do
    return message


# ---------------------------------------------------------------- what is found


def test_no_commentary_folder_means_no_commentary(tmp_path: Path) -> None:
    assert check_commentary(tmp_path) == []


def test_a_pair_is_read_with_its_subject_and_checksum(tmp_path: Path) -> None:
    pair(tmp_path, text="Good practice.\n")
    write(tmp_path, f"commentary/{DENBIGHSHIRE}/.DS_Store", b"\x00\x01")  # hidden: skipped, never read
    files = check_commentary(tmp_path)
    assert [(f.source_file, f.gss_code, f.theme, f.language) for f in files] == [
        (f"commentary/{DENBIGHSHIRE}/{THEME}.cy.md", DENBIGHSHIRE, THEME, "cy"),
        (f"commentary/{DENBIGHSHIRE}/{THEME}.en.md", DENBIGHSHIRE, THEME, "en"),
    ]
    assert files[0].sha256 == hashlib.sha256(b"Good practice.\n").hexdigest()


# ---------------------------------------------------------------- each bad file stops in one line naming it


def unknown_council(root: Path) -> Path:
    pair(root, council="W06099999")
    return root / "commentary" / "W06099999"


def not_a_council_code(root: Path) -> Path:
    pair(root, council="Denbighshire")
    return root / "commentary" / "Denbighshire"


def unknown_theme(root: Path) -> Path:
    pair(root, theme="finance")
    return root / "commentary" / DENBIGHSHIRE / "finance.cy.md"


def unknown_language(root: Path) -> Path:
    pair(root)
    return write(root, f"commentary/{DENBIGHSHIRE}/{THEME}.fr.md")


def wrong_extension(root: Path) -> Path:
    pair(root)
    return write(root, f"commentary/{DENBIGHSHIRE}/{THEME}.en.txt")


def no_language_in_name(root: Path) -> Path:
    return write(root, f"commentary/{DENBIGHSHIRE}/{THEME}.md")


def file_outside_a_council_folder(root: Path) -> Path:
    return write(root, f"commentary/{THEME}.en.md")


def folder_in_a_council_folder(root: Path) -> Path:
    pair(root)
    path = root / "commentary" / DENBIGHSHIRE / "drafts"
    path.mkdir()
    return path


def english_without_welsh(root: Path) -> Path:
    return write(root, f"commentary/{DENBIGHSHIRE}/{THEME}.en.md")


def welsh_without_english(root: Path) -> Path:
    return write(root, f"commentary/{DENBIGHSHIRE}/{THEME}.cy.md")


def not_utf8(root: Path) -> Path:
    pair(root)
    return write(root, f"commentary/{DENBIGHSHIRE}/{THEME}.cy.md", "Sir Gâr: caffi\n".encode("cp1252"))


def empty(root: Path) -> Path:
    pair(root)
    return write(root, f"commentary/{DENBIGHSHIRE}/{THEME}.en.md", b" \n\n")


def control_character(root: Path) -> Path:
    pair(root)
    return write(root, f"commentary/{DENBIGHSHIRE}/{THEME}.en.md", "Fine\x1b[2J text\n")


def too_large(root: Path) -> Path:
    pair(root)
    most = load_limits().inputs.max_commentary_bytes
    return write(root, f"commentary/{DENBIGHSHIRE}/{THEME}.en.md", b"a" * (most + 1))


BAD = {
    "unknown council": (unknown_council, "not the GSS code of a council"),
    "not a council code": (not_a_council_code, "not the GSS code of a council"),
    "unknown theme": (unknown_theme, "'finance' is not a theme in config/framework.yaml"),
    "unknown language": (unknown_language, "'fr' is not a report language"),
    "wrong extension": (wrong_extension, "is not a commentary file"),
    "no language in name": (no_language_in_name, "is not a commentary file"),
    "file outside a council folder": (file_outside_a_council_folder, "a folder per council"),
    "folder in a council folder": (folder_in_a_council_folder, "is not a commentary file"),
    "English without Welsh": (english_without_welsh, "has no Welsh twin data_protection.cy.md"),
    "Welsh without English": (welsh_without_english, "has no English twin data_protection.en.md"),
    "not UTF-8": (not_utf8, "line 1 is not UTF-8"),
    "empty": (empty, "is empty"),
    "control character": (control_character, "control character (U+001B escape)"),
    "too large": (too_large, "more than inputs.max_commentary_bytes"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_bad_commentary_stops_naming_the_file(case: str, tmp_path: Path) -> None:
    make, expected = BAD[case]
    path = make(tmp_path)
    message = stop_message(tmp_path)
    assert message.startswith(f"{path}: "), message
    assert expected in message


def test_a_hostile_file_name_is_shown_escaped(tmp_path: Path) -> None:
    pair(tmp_path)
    write(tmp_path, f"commentary/{DENBIGHSHIRE}/\x1b[2J.en.md")
    message = stop_message(tmp_path)
    assert "\x1b" not in message
    assert "'\\x1b[2J.en.md'" in message


# ---------------------------------------------------------------- links are never followed out


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A secret file outside the study folder that a link tries to reach."""
    secret = tmp_path / "elsewhere" / "secret.md"
    secret.parent.mkdir()
    secret.write_text("SECRET-CONTENT\n", encoding="utf-8")
    return secret


@pytest.mark.parametrize("linked", ["file", "council folder", "commentary folder"])
def test_a_link_out_of_the_study_folder_is_refused(linked: str, tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "study"
    pair(root, text="Kept.\n")
    council = root / "commentary" / DENBIGHSHIRE
    if linked == "file":
        link = council / f"{THEME}.en.md"
        link.unlink()
        link.symlink_to(outside)
    elif linked == "council folder":
        (outside.parent / f"{THEME}.en.md").write_text("x\n", encoding="utf-8")
        (outside.parent / f"{THEME}.cy.md").write_text("x\n", encoding="utf-8")
        link = root / "commentary" / "W06000015"
        link.symlink_to(outside.parent, target_is_directory=True)
    else:
        link = root / "commentary"
        moved = link.rename(tmp_path / "elsewhere" / "commentary")
        link.symlink_to(moved, target_is_directory=True)
    message = stop_message(root)
    assert message.startswith(f"{link}: is a symbolic link"), message
    assert str(outside) not in message
    assert "SECRET" not in message
    study_yaml = "wave: 2018\ntitle: T\nfieldwork_start: 2018-01-01\nfieldwork_end: 2018-02-01\n"
    write(root, "study.yaml", study_yaml)
    with pytest.raises(DatasetError, match="symbolic link"):  # the run stops with the study, before scoring
        read_study(root)


def test_a_bad_commentary_file_stops_read_study(study_copy: Path) -> None:
    path = write(study_copy, f"commentary/{DENBIGHSHIRE}/skills_capacity.en.md")  # demo has its Welsh
    path.unlink()
    with pytest.raises(DatasetError) as stopped:
        read_study(study_copy)
    assert str(stopped.value).startswith(
        f"{study_copy / 'commentary' / DENBIGHSHIRE / 'skills_capacity.cy.md'}: "
    )


# ---------------------------------------------------------------- rendering is safe


def rendered(text: str) -> str:
    html = render_commentary(text)
    assert isinstance(html, Markup)
    return str(html)


def test_raw_html_and_script_tags_are_shown_as_text() -> None:
    html = rendered(
        '<script>alert(1)</script>\n\nSee <b onclick="x()">this</b> <img src=x onerror=alert(1)>\n\n'
        '<iframe src="https://evil.example"></iframe>\n'
    )
    assert "<script" not in html
    assert "<b" not in html
    assert "<img" not in html
    assert "<iframe" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java&#115;cript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
        "//evil.example/page",
    ],
)
def test_unsafe_links_are_not_links(target: str) -> None:
    for text in (f"[click]({target})", f"[click][ref]\n\n[ref]: {target}", f"<{target}>"):
        html = rendered(text)
        assert "<a " not in html, text
        assert "href" not in html


@pytest.mark.parametrize(
    "target",
    ["https://www.audit.wales/", "http://example.org/a?b=c", "mailto:tim@example.org", "national.en.html"],
)
def test_safe_links_are_kept(target: str) -> None:
    assert f'<a href="{target}">read more</a>' in rendered(f"[read more]({target})")


def test_images_are_never_shown() -> None:
    for text in ("![a chart](https://evil.example/track.png)", "![x][img]\n\n[img]: https://e.example/t.png"):
        html = rendered(text)
        assert "<img" not in html
        assert "src=" not in html
    assert "<img" not in rendered("![x](javascript:alert(1))")


def test_headings_move_below_the_reports_own() -> None:
    html = rendered("# One\n\ntext\n\n## Two\n\n### Three\n")
    assert re.findall(r"<(h\d)>", html) == ["h5", "h6", "h6"]
    assert rendered("### Only\n").startswith("<h5>Only</h5>")
    assert "<h1" not in rendered("Title\n=====\n")
    assert "<h5>Title</h5>" in rendered("Title\n=====\n")


# ---------------------------------------------------------------- the demo's commentary: reports, lineage


def test_demo_commentary_reaches_denbighshire_in_english_and_welsh(scored_demo, tmp_path: Path) -> None:
    render_reports(scored_demo.scores, scored_demo.study, tmp_path, [DENBIGHSHIRE], pdf=False)
    folder = tmp_path / "reports" / "2018"
    english = (folder / f"{DENBIGHSHIRE}.en.html").read_text(encoding="utf-8")
    welsh = (folder / f"{DENBIGHSHIRE}.cy.html").read_text(encoding="utf-8")
    assert english.count('<div class="commentary">') == 3
    assert welsh.count('<div class="commentary">') == 3
    assert "Auditors&#39; commentary</h4>" in english
    assert "Sylwebaeth yr archwilwyr</h4>" in welsh
    assert "<h5>Analytical capacity</h5>" in english
    assert "<h5>Capasiti dadansoddi</h5>" in welsh
    assert '<a href="national.en.html">national report</a>' in english
    assert '<a href="national.cy.html">adroddiad cenedlaethol</a>' in welsh
    # Above the generated findings of its theme, after the theme's introduction.
    section = english.split('id="theme-data_protection"', 1)[1].split("<section", 1)[0]
    assert section.index("commentary") < section.index("The council&#39;s level and the spread")
    assert "wait for legal advice" in section
    assert "Rydym yn argymell" in welsh
    assert "Rydym yn argymell" not in english


def test_a_council_without_commentary_shows_none(scored_demo) -> None:
    assert council_commentary(scored_demo.study, "W06000001", "en") == {}
    assert set(council_commentary(scored_demo.study, "W06000015", "cy")) == {
        "data_protection",
        "evidence_based_decisions",
    }


def test_commentary_is_read_again_when_a_file_changes(study_copy: Path) -> None:
    study = read_study(study_copy)
    before = council_commentary(study, DENBIGHSHIRE, "en")[THEME]
    write(study_copy, f"commentary/{DENBIGHSHIRE}/{THEME}.en.md", "A new and longer finding.\n")
    after = council_commentary(study, DENBIGHSHIRE, "en")[THEME]
    assert "A new and longer finding." in after
    assert after != before


def test_the_quality_record_lists_every_commentary_file_used(demo_study: Path, tmp_path: Path) -> None:
    study = read_study(demo_study)
    path = write_commentary_record(study, tmp_path / "quality")
    assert path == tmp_path / "quality" / COMMENTARY_RECORD_FILE
    record = pd.read_csv(path, dtype=str)
    on_disk = sorted(p for p in (demo_study / "commentary").rglob("*.md"))
    assert len(on_disk) == 10
    assert record["source_file"].tolist() == [p.relative_to(demo_study).as_posix() for p in on_disk]
    assert record["sha256"].tolist() == [hashlib.sha256(p.read_bytes()).hexdigest() for p in on_disk]
    assert set(record["gss_code"]) == {DENBIGHSHIRE, "W06000015"}
    assert set(record["language"]) == {"en", "cy"}
    assert record.loc[0, ["gss_code", "theme", "language"]].tolist() == [DENBIGHSHIRE, THEME, "cy"]


def test_no_commentary_writes_an_empty_listing(study_copy: Path, tmp_path: Path) -> None:
    shutil.rmtree(study_copy / "commentary")
    record = pd.read_csv(write_commentary_record(read_study(study_copy), tmp_path), dtype=str)
    assert record.empty
    assert list(record.columns)[:2] == ["source_file", "sha256"]
