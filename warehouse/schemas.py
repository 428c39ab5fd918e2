"""Explicit pyarrow schemas for every warehouse table, and how each is partitioned."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

_LINEAGE = [
    pa.field("source_file", pa.string(), nullable=False),
    pa.field("source_row", pa.int64(), nullable=False),
    pa.field("source_sha256", pa.string(), nullable=False),
]


@dataclass(frozen=True)
class TableSpec:
    """A warehouse table: its columns (partition keys excluded), sort order and restriction."""

    name: str
    schema: pa.Schema
    sort_by: tuple[str, ...]
    restricted: bool = False
    description: str = ""


# Every table is partitioned by wave and council (wave=<w>/gss_code=<code>, warehouse/store.py); the
# partition keys are in the directory names, not the files.

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        TableSpec(
            "invitations",
            pa.schema(
                [
                    pa.field("tool_id", pa.string(), nullable=False),
                    pa.field("recipient_group", pa.string(), nullable=False),
                    pa.field("invited", pa.int64(), nullable=False),
                    *_LINEAGE,
                ]
            ),
            sort_by=("tool_id",),
            description="People invited to each data tool.",
        ),
        TableSpec(
            "respondents",
            pa.schema(
                [
                    pa.field("response_id", pa.string(), nullable=False),
                    pa.field("tool_id", pa.string(), nullable=False),
                    pa.field("recipient_group", pa.string(), nullable=False),
                    pa.field("submitted_at", pa.timestamp("s"), nullable=False),
                    pa.field("role", pa.string()),
                    *_LINEAGE,
                ]
            ),
            sort_by=("tool_id", "response_id"),
            restricted=True,
            description="One row per data-tool response (pseudonymised id, role). Restricted.",
        ),
        TableSpec(
            "answers",
            pa.schema(
                [
                    pa.field("response_id", pa.string(), nullable=False),
                    pa.field("tool_id", pa.string(), nullable=False),
                    pa.field("recipient_group", pa.string(), nullable=False),
                    pa.field("item_type", pa.string(), nullable=False),
                    pa.field("item_id", pa.string(), nullable=False),
                    pa.field("answer", pa.string()),
                    pa.field("answer_value", pa.int8()),
                ]
            ),
            sort_by=("tool_id", "response_id", "item_type", "item_id"),
            restricted=True,
            description="One row per answer (level or statement); answer_value is empty for DK or skipped.",
        ),
        TableSpec(
            "comments",
            pa.schema(
                [
                    pa.field("response_id", pa.string(), nullable=False),
                    pa.field("tool_id", pa.string(), nullable=False),
                    pa.field("comment", pa.string(), nullable=False),
                ]
            ),
            sort_by=("tool_id", "response_id"),
            restricted=True,
            description="Free-text comments as given. Restricted: never published as data.",
        ),
        TableSpec(
            "public_survey",
            pa.schema(
                [
                    pa.field("respondent_id", pa.string(), nullable=False),
                    pa.field("age_band", pa.string(), nullable=False),
                    pa.field("sex", pa.string(), nullable=False),
                    pa.field("question_id", pa.string(), nullable=False),
                    pa.field("answer", pa.string()),
                ]
            ),
            sort_by=("respondent_id", "question_id"),
            restricted=True,
            description="Public survey answers, long form, one row per respondent and question.",
        ),
        TableSpec(
            "population",
            pa.schema(
                [
                    pa.field("age_band", pa.string(), nullable=False),
                    pa.field("sex", pa.string(), nullable=False),
                    pa.field("population", pa.int64(), nullable=False),
                ]
            ),
            sort_by=("age_band", "sex"),
            description="Adult population by age band and sex: the survey's weighting margins.",
        ),
        TableSpec(
            "load_manifest",
            pa.schema(
                [
                    pa.field("dataset", pa.string(), nullable=False),
                    pa.field("source_file", pa.string(), nullable=False),
                    pa.field("source_sha256", pa.string(), nullable=False),
                    pa.field("method_sha256", pa.string(), nullable=False),
                    pa.field("rows_loaded", pa.int64(), nullable=False),
                ]
            ),
            sort_by=("dataset",),
            description=(
                "Which input each council's rows were loaded from (file and sha256) under which code, "
                "config and expectations (method_sha256): a council rerun skips inputs unchanged since."
            ),
        ),
        TableSpec(
            "response_rates",
            pa.schema(
                [
                    pa.field("recipient_group", pa.string(), nullable=False),
                    pa.field("invited", pa.int64(), nullable=False),
                    pa.field("responses", pa.int64(), nullable=False),
                    pa.field("response_rate", pa.float64()),
                ]
            ),
            sort_by=("recipient_group",),
            description="Responses received over people invited, by recipient group and in total.",
        ),
        TableSpec(
            "maturity_levels",
            pa.schema(
                [
                    pa.field("characteristic", pa.string(), nullable=False),
                    pa.field("recipient_group", pa.string(), nullable=False),
                    pa.field("n_answered", pa.int64(), nullable=False),
                    pa.field("n_valid", pa.int64(), nullable=False),
                    pa.field("n_dont_know", pa.int64(), nullable=False),
                    pa.field("share_level_1", pa.float64()),
                    pa.field("share_level_2", pa.float64()),
                    pa.field("share_level_3", pa.float64()),
                    pa.field("mean_level", pa.float64()),
                    pa.field("level", pa.int8()),
                    pa.field("ci_lower", pa.float64()),
                    pa.field("ci_upper", pa.float64()),
                    pa.field("low_base", pa.bool_(), nullable=False),
                ]
            ),
            sort_by=("characteristic", "recipient_group"),
            description="Maturity level per characteristic and recipient group, with a bootstrap interval.",
        ),
        TableSpec(
            "maturity_themes",
            pa.schema(
                [
                    pa.field("theme", pa.string(), nullable=False),
                    pa.field("recipient_group", pa.string(), nullable=False),
                    pa.field("characteristics", pa.int64(), nullable=False),
                    pa.field("characteristics_scored", pa.int64(), nullable=False),
                    pa.field("mean_level", pa.float64()),
                    pa.field("min_n_valid", pa.int64(), nullable=False),
                    pa.field("low_base", pa.bool_(), nullable=False),
                    pa.field("characteristics_level_1", pa.int64(), nullable=False),
                    pa.field("characteristics_level_2", pa.int64(), nullable=False),
                    pa.field("characteristics_level_3", pa.int64(), nullable=False),
                    pa.field("level", pa.int8()),
                ]
            ),
            sort_by=("theme", "recipient_group"),
            description="Per theme and recipient group: characteristics at each level, mean of their means.",
        ),
        TableSpec(
            "statement_results",
            pa.schema(
                [
                    pa.field("statement_id", pa.string(), nullable=False),
                    pa.field("theme", pa.string(), nullable=False),
                    pa.field("recipient_group", pa.string(), nullable=False),
                    pa.field("n_answered", pa.int64(), nullable=False),
                    pa.field("n_dont_know", pa.int64(), nullable=False),
                    pa.field("n_valid", pa.int64(), nullable=False),
                    pa.field("n_agree", pa.int64(), nullable=False),
                    pa.field("share_agree", pa.float64()),
                    pa.field("ci_lower", pa.float64()),
                    pa.field("ci_upper", pa.float64()),
                ]
            ),
            sort_by=("statement_id", "recipient_group"),
            description=(
                "Share agreeing (4 or 5, don't know excluded) with a Wilson interval, per statement and "
                "group; Wales (W92000004) pools all councils. Whether a council differs from Wales is "
                "derived when scoring nationally, not stored, so a council rerun touches only its rows."
            ),
        ),
        TableSpec(
            "public_survey_results",
            pa.schema(
                [
                    pa.field("question_id", pa.string(), nullable=False),
                    pa.field("n_valid", pa.int64(), nullable=False),
                    pa.field("n_yes", pa.int64(), nullable=False),
                    pa.field("n_dont_know", pa.int64(), nullable=False),
                    pa.field("share_yes_unweighted", pa.float64(), nullable=False),
                    pa.field("share_yes", pa.float64(), nullable=False),
                    pa.field("ci_lower", pa.float64(), nullable=False),
                    pa.field("ci_upper", pa.float64(), nullable=False),
                    pa.field("effective_size", pa.float64(), nullable=False),
                    pa.field("design_effect", pa.float64(), nullable=False),
                    pa.field("weight_min", pa.float64(), nullable=False),
                    pa.field("weight_max", pa.float64(), nullable=False),
                    pa.field("weight_max_to_mean", pa.float64(), nullable=False),
                ]
            ),
            sort_by=("question_id",),
            description=(
                "Public survey, Wales only: raked share answering yes (don't know in the base), Wilson "
                "interval on Kish's effective sample size, design effect and weight range."
            ),
        ),
        TableSpec(
            "comment_themes",
            pa.schema(
                [
                    pa.field("response_id", pa.string(), nullable=False),
                    pa.field("tool_id", pa.string(), nullable=False),
                    pa.field("recipient_group", pa.string(), nullable=False),
                    pa.field("theme", pa.string(), nullable=False),
                    pa.field("comment_redacted", pa.string(), nullable=False),
                    pa.field("theme_hits", pa.int64(), nullable=False),
                    pa.field("themes_coded", pa.int64(), nullable=False),
                    pa.field("redactions", pa.int64(), nullable=False),
                    pa.field("quote_rank", pa.int8()),
                ]
            ),
            sort_by=("theme", "response_id"),
            restricted=True,
            description=(
                "Redacted comments, one row per comment and barrier theme; quote_rank marks the chosen "
                "quotes. Restricted: never published as data."
            ),
        ),
    ]
}
