"""Publish: the open-data release (tables, metadata, diff); disclosure control before anything is written."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from maturity.disclosure import (
    AuditTable,
    DisclosureRules,
    Relation,
    Snapshot,
    past_public_rule,
    protect_release,
    published_then_small,
    relations_within,
)
from maturity.output_contracts import OutputContractError, check_open_table
from maturity.rounding import round_half_away, round_within_level
from maturity.settings import ALL_GROUPS, TOTAL_GROUP, WALES_GSS_CODE, load_settings
from tasks.ledger import read_ledger, write_ledger
from tasks.release import (
    CHANGES_JSON,
    CHANGES_MD,
    CHECKSUMS,
    CSVW_METADATA,
    DATAPACKAGE,
    HISTORY_FILES,
    README,
    build_changes_markdown,
    build_checksums,
    build_csvw_metadata,
    build_datapackage,
    build_readme,
    csv_name,
    diff_releases,
    next_release_version,
    release_contracts,
    resolve_release_date,
    to_json_bytes,
)
from tasks.score import LEVELS, Scores, flag_comparisons
from warehouse.store import replace_file
from warehouse.versions import inside, remove_tree

WALES_NAMES = ("Wales", "Cymru")
NAME_COLUMNS = ["gss_code", "council_name_en", "council_name_cy"]
SHARE_COLUMNS = ["share_level_1_pct", "share_level_2_pct", "share_level_3_pct"]
PROBABILITY_COLUMNS = ["p_level_1", "p_level_2", "p_level_3"]
COMPARISON_COLUMNS = ["p_value_vs_rest_of_wales", "differs_from_rest_of_wales"]
ANSWER_STATISTICS = [
    *SHARE_COLUMNS,
    "mean_level",
    "level",
    "ci_lower",
    "ci_upper",
    *PROBABILITY_COLUMNS,
    "likely_level_low",
    "likely_level_high",
    "consensus",
    "n_effective",
]
STATEMENT_STATISTICS = ["pct_agree", "ci_lower", "ci_upper"]


def council_names() -> pd.DataFrame:
    """GSS code with English and Welsh names for every council and for Wales."""
    rows = [(c.gss_code, c.name_en, c.name_cy) for c in load_settings().councils]
    rows.append((WALES_GSS_CODE, *WALES_NAMES))
    return pd.DataFrame(rows, columns=NAME_COLUMNS)


def open_response_rates(scores: Scores) -> pd.DataFrame:
    """Response counts and rates: not answers, so published in full."""
    table = scores.response_rates.merge(council_names(), on="gss_code", how="left")
    table["wave"] = scores.wave
    table["response_rate_pct"] = as_percent(table["response_rate"])
    return table


def disclosure_rules() -> DisclosureRules:
    """The one disclosure rule (config/method.yaml disclosure), typed."""
    rules = load_settings().disclosure
    return DisclosureRules(
        rules.min_valid_answers,
        rules.protection_interval,
        rules.withheld_status,
        rules.larger_rows_beside_small,
    )


def group_relations(table: pd.DataFrame, item: str) -> list[Relation]:
    """Each council's all-respondents figure for an item is made of its two groups' answers."""
    return relations_within(table, ["gss_code", item], "recipient_group", ALL_GROUPS, kind="group")


def council_relations(table: pd.DataFrame, item: str) -> list[Relation]:
    """A Wales figure pools the councils' answers for the same item and group."""
    return relations_within(table, [item, "recipient_group"], "gss_code", WALES_GSS_CODE, kind="area")


def as_percent(share: pd.Series) -> pd.Series:
    """A share (0-1) as a percentage rounded for publication (half away from zero)."""
    return round_half_away(100 * share, load_settings().publication.percent_decimals)


def response_bounds(scores: Scores, table: pd.DataFrame) -> np.ndarray:
    """Per row, the published responses of its council and group: what a reader knows bounds its base."""
    rates = scores.response_rates
    councils = rates[rates["gss_code"] != WALES_GSS_CODE]
    by_group = councils.set_index(["gss_code", "recipient_group"])["responses"]
    totals = councils.groupby("recipient_group")["responses"].sum()
    group = table["recipient_group"].replace(ALL_GROUPS, TOTAL_GROUP)
    keys = pd.MultiIndex.from_arrays([table["gss_code"].astype(str), group.astype(str)])
    bound = by_group.reindex(keys).to_numpy(dtype="float64", copy=True)
    wales = (table["gss_code"] == WALES_GSS_CODE).to_numpy()
    bound[wales] = totals.reindex(group[wales]).to_numpy(dtype="float64")
    return np.nan_to_num(bound, nan=0.0).astype("int64")


def cell_names(table: pd.DataFrame, name: str, item: str) -> list[str]:
    """Stable ids of a table's cells, the same in every release of a wave."""
    parts = [table[column].astype(str) for column in ("gss_code", item, "recipient_group")]
    # Column by column, not row by row: pandas joins a row at a time in Python (0.7 s a run).
    return (name + "|" + parts[0] + "|" + parts[1] + "|" + parts[2]).tolist()


def maturity_audit_table(scores: Scores, table: pd.DataFrame) -> AuditTable:
    """The maturity table in audit form: level counts per row; all rows and Wales rows are sums."""
    counts = table[[f"n_level_{level}" for level in LEVELS]].to_numpy(dtype="int64")
    return AuditTable(
        cell_names(table, "maturity_levels", "characteristic"),
        counts,
        response_bounds(scores, table),
        group_relations(table, "characteristic") + council_relations(table, "characteristic"),
    )


def statement_audit_table(scores: Scores, table: pd.DataFrame) -> AuditTable:
    """The statement table in audit form: agreeing and not agreeing counts; all and Wales rows are sums."""
    agree = table["n_agree"].to_numpy(dtype="int64")
    counts = np.column_stack([agree, table["n_valid"].to_numpy(dtype="int64") - agree])
    return AuditTable(
        cell_names(table, "statement_results", "statement_id"),
        counts,
        response_bounds(scores, table),
        group_relations(table, "statement_id") + council_relations(table, "statement_id"),
    )


def control_disclosure(
    table: pd.DataFrame, statistics: list[str], audit: AuditTable, earlier: list[Snapshot]
) -> tuple[pd.DataFrame, Snapshot]:
    """Withhold what the rule and the integer audit require; blank those figures and mark their status."""
    rules = disclosure_rules()
    withheld, primary = protect_release(audit, earlier, rules)
    table = table.copy()
    for column in [*statistics, "n_valid", "low_base"]:
        if column in table:
            table[column] = _nullable(table[column]).mask(withheld)
    table["status"] = np.where(withheld, rules.withheld_status, "")
    beyond = past_public_rule(audit, earlier, rules, withheld)
    return table, Snapshot(audit.cells, audit.counts, audit.bound, withheld, primary, beyond)


def _nullable(values: pd.Series) -> pd.Series:
    """The same values in a dtype that can hold a missing value without turning into objects."""
    if isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        return values
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    if pd.api.types.is_integer_dtype(values):
        return values.astype("Int64")
    return values.astype("Float64")


def open_maturity_levels(
    scores: Scores, earlier: list[Snapshot] | None = None
) -> tuple[pd.DataFrame, Snapshot]:
    """Council maturity levels for officers, elected members and all respondents, disclosure-controlled."""
    table = scores.maturity_levels.merge(council_names(), on="gss_code", how="left")
    table = table.sort_values(["gss_code", "characteristic", "recipient_group"], ignore_index=True)
    table["wave"] = scores.wave
    audit = maturity_audit_table(scores, table)
    for level in LEVELS:
        table[f"share_level_{level}_pct"] = as_percent(table[f"share_level_{level}"])
    settings = load_settings()
    rules = settings.publication
    cut_offs = (settings.maturity.level_2_from, settings.maturity.level_3_from)
    table["mean_level"] = round_within_level(table["mean_level"], cut_offs, rules.level_decimals)
    for column in ("ci_lower", "ci_upper", "consensus"):
        table[column] = round_half_away(table[column], rules.level_decimals)
    for column in PROBABILITY_COLUMNS:
        table[column] = round_half_away(table[column], rules.probability_decimals)
    table["n_effective"] = round_half_away(table["n_effective"], rules.base_decimals)
    table, snapshot = control_disclosure(table, ANSWER_STATISTICS, audit, earlier or [])
    for column in ("level", "likely_level_low", "likely_level_high"):
        table[column] = table[column].astype("Int64")
    return table, snapshot


def open_statement_results(
    scores: Scores, earlier: list[Snapshot] | None = None
) -> tuple[pd.DataFrame, Snapshot]:
    """% agree per council, statement and group, and for Wales (all pooled), disclosure-controlled."""
    table = scores.statement_results.merge(council_names(), on="gss_code", how="left")
    table = table.sort_values(["gss_code", "statement_id", "recipient_group"], ignore_index=True)
    table["wave"] = scores.wave
    audit = statement_audit_table(scores, table)
    table["pct_agree"] = as_percent(table["share_agree"])
    table["ci_lower"] = as_percent(table["ci_lower"])
    table["ci_upper"] = as_percent(table["ci_upper"])
    table["low_base"] = table["n_valid"] < load_settings().maturity.low_base_below
    return control_disclosure(table, STATEMENT_STATISTICS, audit, earlier or [])


def open_perception_gaps(scores: Scores, answers: AnswerTables) -> pd.DataFrame:
    """Officers minus members per council and item, only where both groups' rows are published.

    Every published gap is then a function of published counts, so it reveals nothing withheld.
    """
    first, second = load_settings().maturity.perception_gap_groups
    gaps = scores.perception_gaps
    both = np.zeros(len(gaps), dtype=bool)
    for measure, table, item in (
        ("mean_level", answers.maturity_levels, "characteristic"),
        ("pct_agree", answers.statement_results, "statement_id"),
    ):
        rows = published_rows(table, item)
        keys = gaps[["gss_code", "item_id"]].astype(str)
        shown = [is_published(rows, keys.assign(group=group)) for group in (first, second)]
        both |= (gaps["measure"].to_numpy() == measure) & shown[0] & shown[1]
    table = gaps[both].merge(council_names(), on="gss_code", how="left")
    table = table.sort_values(["gss_code", "measure", "item_id"], ignore_index=True)
    table["wave"] = scores.wave
    settings = load_settings()
    rules = settings.publication
    cut_offs = (settings.maturity.level_2_from, settings.maturity.level_3_from)
    percent = table["measure"] == "pct_agree"
    for column in ("officers", "elected_members", "gap", "gap_ci_lower", "gap_ci_upper"):
        as_points = round_half_away(100 * table[column], rules.percent_decimals)
        if column in (first, second):  # a group's mean level, printed as maturity_levels prints it
            as_levels = round_within_level(table[column], cut_offs, rules.level_decimals)
        else:
            as_levels = round_half_away(table[column], rules.level_decimals)
        table[column] = as_points.where(percent, as_levels)
    return table


def open_public_survey_results(scores: Scores) -> pd.DataFrame:
    """Weighted % yes for Wales per question, with interval, respondents and effective sample size.

    Wales only (about 750 respondents): no council figure is published, so no cell is small.
    """
    names = council_names()
    names.columns = ["area_code", "area_name_en", "area_name_cy"]
    table = scores.public_survey_results.rename(columns={"gss_code": "area_code"})
    table = table.merge(names, on="area_code", how="left").sort_values("question_id", ignore_index=True)
    table["wave"] = scores.wave
    table["estimate_pct"] = as_percent(table["share_yes"])
    table["ci_lower"] = as_percent(table["ci_lower"])
    table["ci_upper"] = as_percent(table["ci_upper"])
    table["n_respondents"] = table["n_valid"]
    table["n_effective"] = round_half_away(table["effective_size"], load_settings().publication.base_decimals)
    table["status"] = np.where(
        table["n_valid"] < disclosure_rules().min_valid_answers, disclosure_rules().withheld_status, ""
    )
    for column in ("estimate_pct", "ci_lower", "ci_upper", "n_effective"):
        table[column] = _nullable(table[column]).mask(table["status"] != "")
    return table


@dataclass(frozen=True)
class AnswerTables:
    """The disclosure-controlled answer tables of a release, and the audit's record of them.

    changes: the change since the earlier wave (maturity_change, statement_change), when there is one.
    published_then_small: cells withheld as small that an earlier release of the wave published.
    past_public_rule: cells the audit withheld beyond the public rule.
    """

    maturity_levels: pd.DataFrame
    statement_results: pd.DataFrame
    snapshots: dict[str, Snapshot]
    changes: dict[str, pd.DataFrame] = field(default_factory=dict)
    published_then_small: list[str] = field(default_factory=list)
    past_public_rule: list[str] = field(default_factory=list)


def open_answer_tables(scores: Scores, version: Path | None) -> AnswerTables:
    """Maturity and statement tables controlled together with every earlier release of the wave in OUT.

    version: the run's version folder, whose ledger lists the earlier releases (None: a first release).
    """
    earlier = read_ledger(version, scores.wave) if version is not None else {}
    levels, level_snapshot = open_maturity_levels(scores, earlier.get("maturity_levels", []))
    statements, statement_snapshot = open_statement_results(scores, earlier.get("statement_results", []))
    levels, statements = add_published_comparisons(scores.wales_comparisons, levels, statements)
    snapshots = {"maturity_levels": level_snapshot, "statement_results": statement_snapshot}
    changes = open_wave_changes(scores, levels, statements, version)
    revealed = [
        cell for name, snap in snapshots.items() for cell in published_then_small(snap, earlier.get(name, []))
    ]
    beyond = [cell for snap in snapshots.values() for cell in snap.past_public_rule]
    return AnswerTables(levels, statements, snapshots, changes, revealed, beyond)


def read_earlier_release(version: Path | None, wave: str, table: str) -> pd.DataFrame | None:
    """A table of the earlier wave's release as it stands in this version (None: no such release)."""
    if version is None:
        return None
    path = inside(version, "open-data", wave) / csv_name(table)
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def open_wave_changes(
    scores: Scores, levels: pd.DataFrame, statements: pd.DataFrame, version: Path | None
) -> dict[str, pd.DataFrame]:
    """The change tables, each row's figures published only where both waves publish the row.

    The earlier wave's published rows are read from its release in this version, so a change never
    rests on a figure that release withholds; nothing is published without that release.
    """
    if scores.earlier_wave is None or scores.maturity_change is None or scores.statement_change is None:
        return {}
    earlier_levels = read_earlier_release(version, scores.earlier_wave, "maturity_levels")
    earlier_statements = read_earlier_release(version, scores.earlier_wave, "statement_results")
    if earlier_levels is None or earlier_statements is None:
        return {}
    return {
        "maturity_change": open_maturity_change(scores, levels, earlier_levels),
        "statement_change": open_statement_change(scores, statements, earlier_statements),
    }


def shown_in_both(
    change: pd.DataFrame, later: pd.DataFrame, earlier: pd.DataFrame, item: str, earlier_item: str
) -> np.ndarray:
    """Whether each change row's figure is published in this wave's table and in the earlier release's."""
    now = is_published(published_rows(later, item), change[["gss_code", item, "recipient_group"]])
    before_keys = change[["gss_code", earlier_item, "recipient_group"]]
    then = is_published(published_rows(earlier, item), before_keys)
    return now & then


def withhold_change_rows(table: pd.DataFrame, shown: np.ndarray, figures: list[str]) -> pd.DataFrame:
    """Blank every figure of a change row not shown in both waves, and mark its status."""
    rules = disclosure_rules()
    table = table.copy()
    for column in figures:
        table[column] = _nullable(table[column]).mask(~shown)
    table["status"] = np.where(shown, "", rules.withheld_status)
    return table


def _named_change(change: pd.DataFrame, wave: str, keys: list[str]) -> pd.DataFrame:
    table = change.merge(council_names(), on="gss_code", how="left")
    table = table.sort_values(keys, ignore_index=True)
    table["wave"] = wave
    return table


def open_maturity_change(scores: Scores, levels: pd.DataFrame, earlier: pd.DataFrame) -> pd.DataFrame:
    """Mean level and level then and now, and the change, where both waves publish the council's row."""
    assert scores.maturity_change is not None
    table = _named_change(
        scores.maturity_change, scores.wave, ["gss_code", "characteristic", "recipient_group"]
    )
    shown = shown_in_both(
        table, levels, earlier.rename(columns={}), "characteristic", "earlier_characteristic"
    )
    settings = load_settings()
    decimals = settings.publication.level_decimals
    cut_offs = (settings.maturity.level_2_from, settings.maturity.level_3_from)
    for column in ("mean_level_earlier", "mean_level"):
        table[column] = round_within_level(table[column], cut_offs, decimals)
    # The difference of the two printed means, so the three figures add up (to the third place when one
    # of them needed it near a cut-off).
    table["mean_level_change"] = round_half_away(
        table["mean_level"] - table["mean_level_earlier"], decimals + 1
    )
    for column in ("change_ci_lower", "change_ci_upper"):
        table[column] = round_half_away(table[column], decimals)
    table["level_change"] = table["level"].astype("Int64") - table["level_earlier"].astype("Int64")
    for column in ("level", "level_earlier"):
        table[column] = table[column].astype("Int64")
    figures = [
        "n_valid_earlier",
        "n_valid",
        "mean_level_earlier",
        "mean_level",
        "mean_level_change",
        "change_ci_lower",
        "change_ci_upper",
        "change_is_clear",
        "level_earlier",
        "level",
        "level_change",
    ]
    return withhold_change_rows(table, shown, figures)


def open_statement_change(scores: Scores, statements: pd.DataFrame, earlier: pd.DataFrame) -> pd.DataFrame:
    """% agree then and now, and the change in points, where both waves publish the council's row."""
    assert scores.statement_change is not None
    table = _named_change(
        scores.statement_change, scores.wave, ["gss_code", "statement_id", "recipient_group"]
    )
    shown = shown_in_both(table, statements, earlier, "statement_id", "earlier_statement_id")
    table["pct_agree_earlier"] = as_percent(table["share_agree_earlier"])
    table["pct_agree"] = as_percent(table["share_agree"])
    places = load_settings().publication.percent_decimals
    table["pct_agree_change"] = round_half_away(table["pct_agree"] - table["pct_agree_earlier"], places)
    for column in ("change_ci_lower", "change_ci_upper"):
        table[column] = round_half_away(100 * table[column], places)
    figures = [
        "n_valid_earlier",
        "n_valid",
        "pct_agree_earlier",
        "pct_agree",
        "pct_agree_change",
        "change_ci_lower",
        "change_ci_upper",
        "change_is_clear",
    ]
    return withhold_change_rows(table, shown, figures)


def published_rows(table: pd.DataFrame, item: str) -> pd.Series:
    """Whether each gss_code x item x group row of a controlled table is published, by its key."""
    keys = pd.MultiIndex.from_frame(table[["gss_code", item, "recipient_group"]].astype(str))
    return pd.Series((table["status"] == "").to_numpy(), index=keys)


def is_published(rows: pd.Series, keys: pd.DataFrame) -> np.ndarray:
    """For each gss_code, item, group key (in that column order), whether published_rows shows it."""
    return rows.reindex(pd.MultiIndex.from_frame(keys.astype(str))).fillna(False).to_numpy(dtype=bool)


def add_published_comparisons(
    comparisons: pd.DataFrame, levels: pd.DataFrame, statements: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each published council figure's p-value against the rest of Wales, and its flag.

    A comparison is published only when the council's row and Wales's row are both published (it is
    then a function of published counts), and the Benjamini-Hochberg family is each council's published
    comparisons, so no withheld figure moves a published flag.
    """
    published = {
        "mean_level": published_rows(levels, "characteristic"),
        "pct_agree": published_rows(statements, "statement_id"),
    }
    shown = np.zeros(len(comparisons), dtype=bool)
    for measure, rows in published.items():
        mine = comparisons["measure"].to_numpy() == measure
        keys = comparisons[["council", "item_id", "recipient_group"]].astype(str)
        wales = keys.assign(council=WALES_GSS_CODE)
        shown |= mine & is_published(rows, keys) & is_published(rows, wales)
    shown &= comparisons["p_value"].notna().to_numpy()  # no test (a group under two answers): no flag
    tested = pd.Series(shown, index=comparisons.index)
    flags = flag_comparisons(comparisons, tested)
    decimals = load_settings().publication.p_value_decimals
    result = comparisons.assign(
        p_value_vs_rest_of_wales=round_half_away(comparisons["p_value"], decimals).where(shown),
        differs_from_rest_of_wales=flags.astype("boolean").where(shown),
    )
    return (
        _with_comparisons(levels, result[result["measure"] == "mean_level"], "characteristic"),
        _with_comparisons(statements, result[result["measure"] == "pct_agree"], "statement_id"),
    )


def _with_comparisons(table: pd.DataFrame, comparisons: pd.DataFrame, item: str) -> pd.DataFrame:
    found = comparisons.rename(columns={"council": "gss_code", "item_id": item})
    columns = ["gss_code", item, "recipient_group", *COMPARISON_COLUMNS]
    merged = table.merge(found[columns], on=["gss_code", item, "recipient_group"], how="left")
    merged["differs_from_rest_of_wales"] = merged["differs_from_rest_of_wales"].astype("boolean")
    merged["p_value_vs_rest_of_wales"] = merged["p_value_vs_rest_of_wales"].astype("Float64")
    return merged


def to_csv_bytes(table: pd.DataFrame) -> bytes:
    """UTF-8 CSV with Unix line ends: the same bytes for the same data."""
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def to_parquet_bytes(table: pd.DataFrame) -> bytes:
    """The same data as Parquet, without pandas metadata, an empty status stored as null."""
    frame = with_null_status(table)
    arrow = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer, compression="zstd")
    return buffer.getvalue()


def to_json_records(table: pd.DataFrame) -> bytes:
    """The same data as a JSON array of objects (one per row) for web reuse; missing values are null."""
    frame = with_null_status(table).astype(object)
    records = frame.where(frame.notna(), None).to_dict(orient="records")
    return to_json_bytes(records)


def with_null_status(table: pd.DataFrame) -> pd.DataFrame:
    """A copy where the empty status of a published figure is missing, as the CSV schema reads it."""
    if "status" not in table:
        return table
    return table.assign(status=table["status"].replace("", None))


def open_tables(scores: Scores, answers: AnswerTables) -> dict[str, pd.DataFrame]:
    """Every table of the release, disclosure-controlled, in its contract's columns and checked against it."""
    built = {
        "councils": council_names(),
        "response_rates": open_response_rates(scores),
        "maturity_levels": answers.maturity_levels,
        "statement_results": answers.statement_results,
        "perception_gaps": open_perception_gaps(scores, answers),
        "public_survey_results": open_public_survey_results(scores),
        **answers.changes,
    }
    codes = set(built["councils"]["gss_code"])
    tables = {}
    for contract in release_contracts(built):
        missing = [c for c in contract.columns if c not in built[contract.name].columns]
        if missing:
            raise OutputContractError(
                f"contracts/open_data/{contract.name}.yaml lists {missing}, which the table does not have; "
                "fix the contract's field list or tasks/publish.py."
            )
        tables[contract.name] = built[contract.name][contract.columns]
        check_open_table(tables[contract.name], contract, codes)
    return tables


def build_table_files(tables: dict[str, pd.DataFrame]) -> dict[str, bytes]:
    """Every table of a release in every format, by file name: the same whatever the release's version."""
    files: dict[str, bytes] = {}
    for name, table in tables.items():
        files[csv_name(name)] = to_csv_bytes(table)
        files[f"{name}.parquet"] = to_parquet_bytes(table)
        files[f"{name}.json"] = to_json_records(table)
    return files


def build_metadata_files(
    tables: dict[str, pd.DataFrame], wave: str, version: str, release_date: str | None
) -> dict[str, bytes]:
    """A release's metadata files (Data Package, CSVW, README), which name its version, by file name."""
    return {
        DATAPACKAGE: build_datapackage(wave, version, release_date, tables),
        CSVW_METADATA: build_csvw_metadata(wave, version, release_date, tables),
        README: build_readme(wave, version, release_date, tables),
    }


@dataclass(frozen=True)
class Release:
    """A wave's release as it stands in a version: where, which version, and what changed."""

    wave: str
    folder: Path
    version: str
    files: list[Path]
    changes: dict[str, Any]
    changed: bool


def read_release_files(folder: Path) -> dict[str, bytes]:
    """Every file of a release folder by name (none when there is no release yet)."""
    if not folder.is_dir():
        return {}
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def previous_release_version(files: dict[str, bytes]) -> str | None:
    """The version recorded in a release's datapackage.json (none for no release, or an older layout)."""
    if DATAPACKAGE not in files:
        return None
    return json.loads(files[DATAPACKAGE]).get("version")


@dataclass(frozen=True)
class ReleasePlan:
    """A wave's next release, worked out before anything is written: its version and its content files.

    Made once per run: the reports print its version, and publishing writes its files.
    previous: every file of the release the version held before (none for a first release).
    """

    wave: str
    folder: Path
    version: str
    files: dict[str, bytes]
    previous: dict[str, bytes]
    previous_version: str | None
    snapshots: dict[str, Snapshot]

    @property
    def changed(self) -> bool:
        """Whether the release's content differs from the one before (a first release always does)."""
        return self.version != self.previous_version


def plan_release(
    scores: Scores, version: Path, release_date: str | None = None, answers: AnswerTables | None = None
) -> ReleasePlan:
    """The wave's next release: the previous one's version if its content would not change, else the next.

    answers: the disclosure-controlled tables if already made for this version (the reports use them).
    The tables' files do not name the version, so they are built once whichever version it turns out to be.
    """
    folder = inside(version, "open-data", scores.wave)
    date = resolve_release_date(scores.wave, release_date)
    answers = open_answer_tables(scores, version) if answers is None else answers
    tables = open_tables(scores, answers)
    table_files = build_table_files(tables)
    previous = read_release_files(folder)
    previous_version = previous_release_version(previous)
    if previous_version is not None:
        same = table_files | build_metadata_files(tables, scores.wave, previous_version, date)
        if {name: data for name, data in previous.items() if name not in HISTORY_FILES} == same:
            return ReleasePlan(
                scores.wave, folder, previous_version, same, previous, previous_version, answers.snapshots
            )
    number = next_release_version(scores.wave, previous_version)
    files = table_files | build_metadata_files(tables, scores.wave, number, date)
    return ReleasePlan(scores.wave, folder, number, files, previous, previous_version, answers.snapshots)


def write_release(plan: ReleasePlan, version: Path) -> Release:
    """Write a planned release into the version, with its diff, checksums and ledger; unchanged: leave it."""
    if not plan.changed:
        changes = diff_releases(plan.previous, plan.previous, plan.version, plan.version)
        return Release(plan.wave, plan.folder, plan.version, sorted(plan.folder.iterdir()), changes, False)
    files = dict(plan.files)
    changes = diff_releases(plan.previous, files, plan.previous_version, plan.version)
    files[CHANGES_JSON] = to_json_bytes(changes)
    files[CHANGES_MD] = build_changes_markdown(changes)
    files[CHECKSUMS] = build_checksums(files)
    remove_tree(plan.folder, version)
    for name, content in files.items():
        replace_file(plan.folder / name, content)
    write_ledger(version, plan.wave, plan.version, plan.snapshots, files[CHECKSUMS])
    return Release(
        plan.wave, plan.folder, plan.version, sorted(plan.folder / name for name in files), changes, True
    )


def build_release(
    scores: Scores, version: Path, release_date: str | None = None, answers: AnswerTables | None = None
) -> Release:
    """Build the wave's release in the version; keep the previous one untouched when nothing changed."""
    return write_release(plan_release(scores, version, release_date, answers), version)


def publish_open_data(
    scores: Scores, version: Path, release_date: str | None = None, answers: AnswerTables | None = None
) -> list[Path]:
    """Write the wave's open-data release into the version, replacing the previous release whole."""
    return build_release(scores, version, release_date, answers).files


def publish_planned_release(plan: ReleasePlan, version: Path) -> list[Path]:
    """Write a release planned before the reports into the version: its files, as publish_open_data's."""
    return write_release(plan, version).files


@task(name="control-disclosure", cache_policy=NONE)
def open_answer_tables_task(scores: Scores, version: Path) -> AnswerTables:
    """Prefect wrapper: the disclosure-controlled answer tables, shared by the reports and the release."""
    answers = open_answer_tables(scores, version)
    warn_published_then_small(answers.published_then_small, scores.wave)
    warn_past_public_rule(answers.past_public_rule, scores.wave)
    return answers


def warn_published_then_small(cells: list[str], wave: str) -> None:
    """Tell the auditor which withheld small cells an earlier release published, before anyone publishes.

    The cells' names are no secret (the release marks them withheld); their figures never reach the log.
    """
    if not cells:
        return
    get_run_logger().warning(
        "disclosure: %d cell(s) now rest on fewer than %d answers and are withheld, but an earlier release "
        "of wave %s published them (%s): a reader who knows how many answers the correction changed can "
        "work out their new figures from that release. Clear the correction with the council before you "
        "publish this release (docs/disclosure.md, Limits).",
        len(cells),
        disclosure_rules().min_valid_answers,
        wave,
        name_cells(cells),
    )


def warn_past_public_rule(cells: list[str], wave: str) -> None:
    """Tell the auditor where the audit withheld more than the public rule: there the choice says something.

    A reader who reruns the rule sees that a further round was needed, which tells them the small groups
    beneath sit near an edge of what they could be (docs/disclosure.md, Limits). Names only, never figures.
    """
    if not cells:
        return
    get_run_logger().warning(
        "disclosure: the audit withheld %d cell(s) of wave %s beyond the public rule (%s). That a further "
        "round was needed tells a reader something of the withheld rows under the same Wales row: in a "
        "wave's first release, that small groups sit near an edge of their range (raise "
        "disclosure.larger_rows_beside_small in config/method.yaml and run again); after a correction, that "
        "it changed withheld rows (clear it with the council). See docs/disclosure.md, Limits.",
        len(cells),
        wave,
        name_cells(cells),
    )


def name_cells(cells: list[str]) -> str:
    """The first few cells' names for a warning (names only: the release marks them withheld anyway)."""
    named = load_settings().outputs.cells_named_in_a_warning
    shown = ", ".join(cell.replace("|", " ") for cell in cells[:named])
    return shown + (f" and {len(cells) - named} more" if len(cells) > named else "")


@task(name="plan-release", cache_policy=NONE)
def plan_release_task(scores: Scores, version: Path, answers: AnswerTables) -> ReleasePlan:
    """Prefect wrapper: work out the wave's next release (its version and files) before the reports."""
    return plan_release(scores, version, answers=answers)


@task(name="publish-open-data", cache_policy=NONE)
def publish_open_data_task(plan: ReleasePlan, version: Path) -> list[Path]:
    """Prefect wrapper: publish the open-data release planned before the reports."""
    return publish_planned_release(plan, version)


@task(name="build-release", cache_policy=NONE)
def build_release_task(scores: Scores, version: Path, release_date: str | None = None) -> Release:
    """Prefect wrapper: build the open-data release and its diff."""
    answers = open_answer_tables(scores, version)
    warn_published_then_small(answers.published_then_small, scores.wave)
    warn_past_public_rule(answers.past_public_rule, scores.wave)
    return build_release(scores, version, release_date, answers)
