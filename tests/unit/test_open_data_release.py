"""The open-data release: valid Frictionless package, no personal data, nothing derivable, a real diff."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml
from frictionless import Package, validate

from maturity.disclosure import audit_release
from maturity.output_contracts import open_data_contracts
from maturity.settings import PROJECT_ROOT, load_settings
from tasks.ledger import read_ledger
from tasks.publish import (
    build_release,
    council_relations,
    disclosure_rules,
    group_relations,
    plan_release,
    write_release,
)
from tasks.release import diff_table, summarise_changes
from warehouse.store import read_table

WAVE = "2018"
TABLES = [
    "councils",
    "response_rates",
    "maturity_levels",
    "statement_results",
    "perception_gaps",
    "public_survey_results",
]


@pytest.fixture(scope="module")
def release(scored_demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One release of the demo study, built once for this module (treat as read-only)."""
    version = tmp_path_factory.mktemp("version")
    return build_release(scored_demo.scores, version).folder


def test_the_release_has_every_table_in_every_format_and_its_metadata(release: Path) -> None:
    names = {p.name for p in release.iterdir()}
    for table in TABLES:
        assert {f"{table}.csv", f"{table}.parquet", f"{table}.json"} <= names
    assert {"datapackage.json", "csv-metadata.json", "README.md", "SHA256SUMS", "CHANGES.json"} <= names
    package = json.loads((release / "datapackage.json").read_text())
    assert package["licenses"][0]["name"] == "OGL-UK-3.0"
    assert package["version"] == "2018.1"
    assert package["created"] == "2018-05-31T00:00:00Z"
    assert [r["name"] for r in package["resources"]] == TABLES


def test_frictionless_validates_the_data_package(release: Path) -> None:
    report = validate(release / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:20]


def test_every_csv_reads_back_with_its_schema_types(release: Path) -> None:
    package = Package(release / "datapackage.json")
    for resource in package.resources:
        rows = resource.read_rows()
        frame = pd.read_csv(release / resource.path, dtype=str, keep_default_na=False)
        assert len(rows) == len(frame) > 0, resource.name
        for field in resource.schema.fields:
            python_type = {"integer": int, "number": (int, float, Decimal), "string": str, "boolean": bool}[
                field.type
            ]
            for row in rows:
                value = row[field.name]
                assert value is None or isinstance(value, python_type), (resource.name, field.name, value)
    statements = package.get_resource("statement_results").read_rows()
    withheld = [row for row in statements if row["status"] == "[c]"]
    assert withheld
    assert all(row["pct_agree"] is None for row in withheld)


def test_parquet_and_json_hold_the_same_data_as_the_csv(release: Path) -> None:
    for table in TABLES:
        csv = pd.read_csv(release / f"{table}.csv", dtype=str, keep_default_na=False)
        parquet = pd.read_parquet(release / f"{table}.parquet")
        records = json.loads((release / f"{table}.json").read_text(encoding="utf-8"))
        assert parquet.columns.tolist() == csv.columns.tolist() == list(records[0])
        assert len(parquet) == len(csv) == len(records)
    rates = pd.read_parquet(release / "response_rates.parquet")
    assert rates["invited"].dtype.kind == "i"


def test_checksums_match_every_file(release: Path) -> None:
    listed = dict(reversed(line.split("  ")) for line in (release / "SHA256SUMS").read_text().splitlines())
    files = {p.name for p in release.iterdir()} - {"SHA256SUMS"}
    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((release / name).read_bytes()).hexdigest() == digest


def _release_text(release: Path) -> str:
    """Every file of a release as text: CSV/JSON/Markdown as they are, Parquet through its values."""
    parts = []
    for path in sorted(release.iterdir()):
        if path.suffix == ".parquet":
            parts.append(pd.read_parquet(path).to_csv(index=False))
        else:
            parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


def test_no_personal_data_free_text_or_ids_in_any_file(scored_demo, demo_study: Path, release: Path) -> None:
    published = _release_text(release)
    seeded = []
    for path in sorted((demo_study / "responses").glob("*.csv")):
        responses = pd.read_csv(path, dtype=str)
        seeded += responses["comments"].dropna().tolist()
        seeded += responses["response_id"].tolist()
        seeded += responses["respondent_email"].dropna().tolist()
    warehouse = scored_demo.warehouse
    seeded += read_table(warehouse, "respondents", WAVE)["response_id"].tolist()
    seeded += read_table(warehouse, "public_survey", WAVE)["respondent_id"].tolist()
    seeded += scored_demo.scores.comment_themes["comment_redacted"].tolist()
    corpus = yaml.safe_load((PROJECT_ROOT / "tests" / "fixtures" / "pii_corpus.yaml").read_text())
    for comment in corpus["comments"]:
        seeded += [value for values in comment["pii"].values() for value in values if len(value) > 8]
    seeded = sorted({s for s in seeded if s})
    assert len(seeded) > 500
    assert [s for s in seeded if s in published] == []
    assert "@" not in published.replace("@context", "").replace("@id", "")


@pytest.mark.parametrize(
    ("table", "item", "statistics"),
    [
        ("maturity_levels", "characteristic", ["mean_level", "level", "ci_lower", "share_level_1_pct"]),
        ("statement_results", "statement_id", ["pct_agree", "ci_lower", "ci_upper"]),
    ],
)
def test_every_withheld_cell_is_empty_and_not_derivable(
    release: Path, table: str, item: str, statistics: list[str]
) -> None:
    frame = pd.read_csv(release / f"{table}.csv", dtype=str, keep_default_na=False)
    withheld = (frame["status"] == "[c]").to_numpy()
    assert withheld.any()
    assert (frame.loc[withheld, statistics] == "").all().all()
    assert (frame.loc[~withheld, statistics[0]] != "").any()
    assert (frame.loc[withheld, "n_valid"] == "").all(), "a withheld row's base is withheld too"
    minimum = load_settings().disclosure.min_valid_answers
    assert (frame.loc[~withheld, "n_valid"].astype(int) >= minimum).all()
    relations = group_relations(frame, item) + council_relations(frame, item)
    (snapshot,) = read_ledger(release.parent.parent, "2018")[table]
    assert snapshot.withheld.tolist() == withheld.tolist()
    assert audit_release([snapshot], relations, disclosure_rules()) == []


def test_the_same_scores_give_a_byte_identical_release(scored_demo, release: Path, tmp_path: Path) -> None:
    again = build_release(scored_demo.scores, tmp_path).folder
    contents = {p.name: p.read_bytes() for p in release.iterdir()}
    assert {p.name: p.read_bytes() for p in again.iterdir()} == contents


def test_republishing_unchanged_scores_keeps_the_release_and_says_no_changes(
    scored_demo, tmp_path: Path
) -> None:
    first = build_release(scored_demo.scores, tmp_path)
    inodes = {p.name: p.stat().st_ino for p in first.folder.iterdir()}
    second = build_release(scored_demo.scores, tmp_path)
    assert not second.changed
    assert second.version == first.version == "2018.1"
    assert summarise_changes(second.changes) == ["no changes"]
    assert {p.name: p.stat().st_ino for p in second.folder.iterdir()} == inodes


def test_planning_a_release_writes_nothing_and_names_the_version_then_written(
    scored_demo, tmp_path: Path
) -> None:
    scores = scored_demo.scores
    first = build_release(scores, tmp_path)
    before = {p.name: p.read_bytes() for p in first.folder.iterdir()}
    rates = scores.response_rates.copy()
    rates.loc[rates.index[0], "responses"] += 1
    plan = plan_release(dataclasses.replace(scores, response_rates=rates), tmp_path)
    assert (plan.changed, plan.previous_version, plan.version) == (True, "2018.1", "2018.2")
    assert {p.name: p.read_bytes() for p in first.folder.iterdir()} == before  # the reports come first
    written = write_release(plan, tmp_path)
    assert written.version == json.loads((written.folder / "datapackage.json").read_bytes())["version"]
    assert all((written.folder / name).read_bytes() == data for name, data in plan.files.items())


def test_a_changed_figure_makes_a_new_version_with_its_diff(scored_demo, tmp_path: Path) -> None:
    scores = scored_demo.scores
    build_release(scores, tmp_path)
    rates = scores.response_rates.copy()
    row = rates.index[(rates["gss_code"] == "W06000004") & (rates["recipient_group"] == "officers")][0]
    rates.loc[row, "responses"] = 70
    rates.loc[row, "response_rate"] = 70 / rates.loc[row, "invited"]
    second = build_release(dataclasses.replace(scores, response_rates=rates), tmp_path)
    assert second.changed
    assert second.version == "2018.2"
    changed = second.changes["tables"]["response_rates"]["values_changed"]
    assert {(c["column"], c["old"], c["new"]) for c in changed} >= {("responses", "67", "70")}
    assert summarise_changes(second.changes) == ["response_rates: 2 values changed"]
    markdown = (second.folder / "CHANGES.md").read_text()
    assert "since 2018.1" in markdown
    row = "wave=2018, gss_code=W06000004, recipient_group=officers"
    assert f"| response_rates | {row} | responses | 67 | 70 |" in markdown


def test_diff_finds_rows_added_removed_and_values_changed() -> None:
    old = pd.DataFrame({"k": ["a", "b", "c"], "v": ["1", "2", ""]})
    new = pd.DataFrame({"k": ["b", "c", "d"], "v": ["2", "3", "4"]})
    diff = diff_table(old, new, ["k"])
    assert diff["rows_added"] == [{"k": "d"}]
    assert diff["rows_removed"] == [{"k": "a"}]
    assert diff["values_changed"] == [{"key": {"k": "c"}, "column": "v", "old": "", "new": "3"}]


def test_every_table_schema_names_its_keys_among_its_fields() -> None:
    for spec in open_data_contracts():
        assert set(spec.primary_key) <= set(spec.columns), spec.name
        assert set(spec.foreign_keys) <= set(spec.columns), spec.name
        assert all(field["description"] for field in spec.fields)


def test_a_target_release_unknown_to_the_ledger_stops_the_publish(scored_demo, tmp_path: Path) -> None:
    from tasks.contracts import DatasetError
    from tasks.distribute import check_target_history, copy_release_to_target
    from tasks.ledger import ledger_checksums

    ours = build_release(scored_demo.scores, tmp_path / "ours")
    target = str(tmp_path / "target")
    copy_release_to_target(ours.folder, ours.version, target)
    check_target_history(target, WAVE, ledger_checksums(tmp_path / "ours", WAVE))  # our own: fine
    with pytest.raises(DatasetError, match="a release this OUT did not make"):
        check_target_history(target, WAVE, ledger_checksums(tmp_path / "elsewhere", WAVE))


def test_the_release_ledger_stays_out_of_the_open_data(release: Path) -> None:
    names = {p.name for p in release.rglob("*")}
    assert not any(name.startswith("count_") or "ledger" in name for name in names)
    ledger = release.parent.parent / "release-ledger" / WAVE / "2018.1"
    expected = {"SHA256SUMS", "maturity_levels.csv", "statement_results.csv"}
    assert {p.name for p in ledger.iterdir()} == expected
    assert (ledger / "SHA256SUMS").read_bytes() == (release / "SHA256SUMS").read_bytes()


def _one_member_now_agrees(scores, statements: pd.DataFrame) -> tuple:
    """Scores after one elected member in a withheld group changed to agreeing, with that row's key."""
    table = scores.statement_results.copy()
    published = statements.set_index(["gss_code", "statement_id", "recipient_group"])["status"]
    small = table[
        (table["recipient_group"] == "elected_members")
        & (table["n_valid"].between(2, 9))
        & (table["n_agree"] < table["n_valid"])
    ]
    row = small.iloc[0]
    key = (row["gss_code"], row["statement_id"])
    assert published[(*key, "elected_members")] == "[c]"
    touched = (
        ((table["gss_code"] == key[0]) & (table["recipient_group"].isin(["elected_members", "all"])))
        | ((table["gss_code"] == "W92000004") & (table["recipient_group"].isin(["elected_members", "all"])))
    ) & (table["statement_id"] == key[1])
    table.loc[touched, "n_agree"] += 1
    table.loc[touched, "share_agree"] = table.loc[touched, "n_agree"] / table.loc[touched, "n_valid"]
    return dataclasses.replace(scores, statement_results=table), key


def test_a_correction_inside_a_withheld_cell_shows_nowhere_in_the_next_release(
    scored_demo, tmp_path: Path
) -> None:
    first = build_release(scored_demo.scores, tmp_path)
    statements = pd.read_csv(first.folder / "statement_results.csv", dtype=str, keep_default_na=False)
    corrected, (council, statement) = _one_member_now_agrees(scored_demo.scores, statements)
    second = build_release(corrected, tmp_path)
    assert second.version == "2018.2"
    after = pd.read_csv(second.folder / "statement_results.csv", dtype=str, keep_default_na=False)
    withheld_before = set(
        statements.loc[
            statements["status"] == "[c]", ["gss_code", "statement_id", "recipient_group"]
        ].itertuples(index=False, name=None)
    )
    withheld_after = set(
        after.loc[after["status"] == "[c]", ["gss_code", "statement_id", "recipient_group"]].itertuples(
            index=False, name=None
        )
    )
    assert withheld_before <= withheld_after, "a cell withheld once stays withheld in the wave"
    changes = json.loads((second.folder / "CHANGES.json").read_text())
    for change in changes["tables"]["statement_results"]["values_changed"]:
        row = (change["key"]["gss_code"], change["key"]["statement_id"], change["key"]["recipient_group"])
        assert row not in withheld_before, change
        # A cell withheld now shows only as emptied: its old, already published value and nothing new.
        assert row not in withheld_after or change["new"] in ("", "[c]"), change
    snapshots = read_ledger(tmp_path, WAVE)["statement_results"]
    assert len(snapshots) == 2
    frame = after
    relations = group_relations(frame, "statement_id") + council_relations(frame, "statement_id")
    assert audit_release(snapshots, relations, disclosure_rules()) == []
    # With every other cell unchanged, only the Wales figure could show the member's change: withheld.
    wales = after.set_index(["gss_code", "statement_id", "recipient_group"]).loc[
        ("W92000004", statement, "all")
    ]
    assert wales["status"] == "[c]", council


def test_the_readme_promises_five_possible_values_only_for_the_counts_the_audit_keeps_that_wide(
    release: Path,
) -> None:
    """The audit keeps a small withheld count 5 values wide; a larger one withheld beside it is only kept
    from being worked out exactly (a review found all-respondents counts 4 values wide)."""
    readme = " ".join((release / "README.md").read_text(encoding="utf-8").split())
    rules = load_settings().disclosure
    width = 2 * rules.protection_interval + 1
    assert (
        f"resting on fewer than {rules.min_valid_answers} answers still has at least {width} possible"
        in readme
    )
    assert "no withheld count of a larger figure can be worked out exactly" in readme
