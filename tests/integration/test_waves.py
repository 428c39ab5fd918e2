"""Two waves in one OUT: the 2021 follow-up beside 2018, its change since then, and 2018 left alone."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from frictionless import Package, validate

from flows.national import national_run
from flows.publish import publish_release
from flows.rerun import council_rerun
from maturity.demo import write_demo_study
from tests.integration.conftest import DemoRun
from tests.unit.test_report_accessibility import check_pages, require_checker

DENBIGHSHIRE = "W06000004"
PUBLISHED = ("warehouse", "reports", "open-data")
KEY = ["gss_code", "characteristic", "recipient_group"]


@dataclass(frozen=True)
class TwoWaves:
    out: Path
    later_study: Path
    earlier_files: dict[str, str]  # the earlier wave's files as its own run left them


def wave_files(out: Path, wave: str) -> dict[str, str]:
    """sha256 of every published file of one wave, as a reader sees them through OUT's links."""
    prints = {}
    for area in PUBLISHED:
        for folder, _, files in os.walk(out / area, followlinks=True):
            for name in files:
                path = Path(folder) / name
                relative = str(path.relative_to(out))
                if f"/{wave}/" in f"/{relative}" or f"wave={wave}" in relative:
                    prints[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return prints


@pytest.fixture(scope="module")
def two_waves(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> TwoWaves:
    """The 2018 demo and its 2021 follow-up, each run nationally into the same OUT (2018 first: a copy
    of the session's run of the demo)."""
    root = tmp_path_factory.mktemp("waves")
    later = write_demo_study(root / "study-2021", wave="2021")
    out = root / "out"
    demo_run.copy_to(out)
    earlier_files = wave_files(out, "2018")
    national_run(inputs=later, out=out)
    return TwoWaves(out, later, earlier_files)


def test_a_later_waves_national_run_leaves_the_earlier_wave_byte_identical(two_waves: TwoWaves) -> None:
    assert len(two_waves.earlier_files) > 100
    assert wave_files(two_waves.out, "2018") == two_waves.earlier_files


def test_publishing_the_later_wave_again_keeps_its_change_tables_and_version(two_waves: TwoWaves) -> None:
    before = wave_files(two_waves.out, "2021")
    summary = publish_release(out=two_waves.out, wave="2021")
    assert summary.version == "2021.1"
    assert not summary.changed
    assert wave_files(two_waves.out, "2021") == before
    assert wave_files(two_waves.out, "2018") == two_waves.earlier_files


def section(html: str, name: str) -> str:
    """The text of one <section id=...> of a page, tags removed."""
    found = re.search(rf'<section id="{name}".*?</section>', html, re.S)
    assert found, f"no section {name}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0)))


def test_the_later_waves_reports_say_what_changed_since_the_earlier_one(two_waves: TwoWaves) -> None:
    reports = two_waves.out / "reports"
    for language, heading in (("en", "Since 2018"), ("cy", "Ers 2018")):
        council = section((reports / "2021" / f"{DENBIGHSHIRE}.{language}.html").read_text("utf-8"), "change")
        assert heading in council
        national = section((reports / "2021" / f"national.{language}.html").read_text("utf-8"), "change")
        assert "2018" in national
    council = section((reports / "2021" / f"{DENBIGHSHIRE}.en.html").read_text("utf-8"), "change")
    for part in ("What moved", "What did not clearly move", "What cannot be compared", "new in 2021"):
        assert part in council
    # The earlier wave's reports have nothing to compare with.
    assert 'id="change"' not in (reports / "2018" / f"{DENBIGHSHIRE}.en.html").read_text("utf-8")


def test_the_change_tables_validate_and_only_the_later_release_has_them(two_waves: TwoWaves) -> None:
    release = two_waves.out / "open-data" / "2021"
    report = validate(release / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:20]
    for table in ("maturity_change", "statement_change"):
        assert (release / f"{table}.csv").is_file()
        assert not (two_waves.out / "open-data" / "2018" / f"{table}.csv").exists()
    # The change table on its own, against the schema its release publishes for it.
    table = Package(release / "datapackage.json").get_resource("maturity_change")
    checked = table.validate()
    assert checked.valid, checked.flatten(["rowNumber", "fieldName", "type", "note"])[:20]
    assert checked.tasks[0].stats["rows"] > 100


def read_release(out: Path, wave: str, table: str) -> pd.DataFrame:
    return pd.read_csv(out / "open-data" / wave / f"{table}.csv", dtype=str, keep_default_na=False)


def test_no_change_figure_rests_on_a_figure_either_release_withholds(two_waves: TwoWaves) -> None:
    """Differencing across waves: a published change and one published level must not give the other."""
    change = read_release(two_waves.out, "2021", "maturity_change").set_index(KEY)
    now = read_release(two_waves.out, "2021", "maturity_levels").set_index(KEY)
    then = read_release(two_waves.out, "2018", "maturity_levels")
    then = then.rename(columns={"characteristic": "earlier_characteristic"}).set_index(
        ["gss_code", "earlier_characteristic", "recipient_group"]
    )
    earlier_key = pd.MultiIndex.from_arrays(
        [
            change.index.get_level_values("gss_code"),
            change["earlier_characteristic"],
            change.index.get_level_values("recipient_group"),
        ]
    )
    shown_now = now.loc[change.index, "status"].to_numpy() == ""
    shown_then = then.loc[earlier_key, "status"].to_numpy() == ""
    published = change["status"].to_numpy() == ""
    assert (published == (shown_now & shown_then)).all()
    assert (~published).any()
    assert published.any()
    withheld = change[~published]
    assert (
        (withheld[["mean_level_change", "mean_level", "mean_level_earlier", "change_ci_lower"]] == "")
        .all()
        .all()
    )
    shown = change[published]
    assert (shown["mean_level"] == now.loc[shown.index, "mean_level"]).all()
    difference = shown["mean_level"].astype(float) - shown["mean_level_earlier"].astype(float)
    assert ((difference - shown["mean_level_change"].astype(float)).abs() < 1e-9).all()


def test_a_later_wave_council_rerun_leaves_every_earlier_wave_file_byte_identical(
    two_waves: TwoWaves,
) -> None:
    before = wave_files(two_waves.out, "2018")
    later_before = wave_files(two_waves.out, "2021")
    assert len(before) > 100
    path = two_waves.later_study / "responses" / "digital_ict.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = frame.index[frame["council"].isin(["Denbighshire", "Denbighshire County Council", "Sir Ddinbych"])]
    frame.loc[rows[:1], "lvl_open_data"] = "3" if frame.loc[rows[0], "lvl_open_data"] != "3" else "1"
    frame.to_csv(path, index=False)
    summary = council_rerun(council=DENBIGHSHIRE, inputs=two_waves.later_study, out=two_waves.out)
    assert summary.wave == "2021"
    assert wave_files(two_waves.out, "2018") == before
    after = wave_files(two_waves.out, "2021")
    changed = {p for p in after if later_before.get(p) != after[p]}
    assert f"warehouse/maturity_change/wave=2021/gss_code={DENBIGHSHIRE}/part-0.parquet" in changed


def test_the_change_sections_pass_axe(two_waves: TwoWaves) -> None:
    """The later wave's pages, change sections and charts included, have no WCAG 2.1 A/AA problems."""
    node = require_checker()
    folder = two_waves.out / "reports" / "2021"
    pages = [
        str(folder / name)
        for name in (f"{DENBIGHSHIRE}.en.html", f"{DENBIGHSHIRE}.cy.html", "national.en.html")
    ]
    for page, result in check_pages(node, pages).items():
        assert result["violations"] == [], f"{Path(page).name}: {json.dumps(result['violations'], indent=1)}"
        assert "color-contrast" in result["passes"]
