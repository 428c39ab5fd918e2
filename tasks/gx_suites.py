"""Great Expectations: check one suite against a frame, and render a run's Data Docs.

Apart from the rest of validation (tasks/validate.py) so that the validator process (tasks/validator.py)
imports only GX and pandas, not Prefect: in a cold CLI run that process's imports are the ones waited for.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from maturity.settings import configure_offline_environment
from tasks.contracts import DatasetError

# Great Expectations is not thread-safe when several batches share one context.
_GX_LOCK = threading.Lock()
TABLE_LEVEL_PREFIX = "expect_table_"
INDEX_KEY = "suite_position"
DATA_DOCS_FOLDER = "data_docs"
# What a result keeps for Data Docs and the run's records: counts, never values or row numbers (a value may
# be personal data, and a row number points at it). observed_value is kept only for table-level checks
# (a row count); for a column it may be a value.
RESULT_COUNT_KEYS = frozenset(
    {
        "element_count",
        "missing_count",
        "missing_percent",
        "unexpected_count",
        "unexpected_percent",
        "unexpected_percent_total",
        "unexpected_percent_nonmissing",
    }
)


class SuiteError(RuntimeError):
    """An expectation suite in expectations/ is broken: a bug in the project, not in the data."""


_GX_IMPORT_LOCK = threading.Lock()


@cache
def import_gx() -> Any:
    """Great Expectations, imported on first use (it costs seconds) and with its analytics off."""
    with _GX_IMPORT_LOCK:  # the warm-up thread and a validation may get here at once
        configure_offline_environment()
        import great_expectations

    return great_expectations


@cache
def _gx_datasource() -> Any:
    """An ephemeral GX context with one pandas data source, created on first use."""
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX pins one of its own loggers to INFO; its notes about temporary folders are not ours to show.
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context.data_sources.add_pandas("maturity")


def warm_up_gx() -> None:
    """Import GX and build its context now, before the first suite needs them."""
    with _GX_LOCK:
        _gx_datasource()


def start_gx_warm_up() -> threading.Thread:
    """warm_up_gx in the background, e.g. while Prefect's server starts."""
    thread = threading.Thread(target=warm_up_gx, name="gx-warm-up", daemon=True)
    thread.start()
    return thread


@cache
def _gx_batch_definition(name: str) -> Any:
    """A batch definition for in-memory DataFrames checked against one suite."""
    asset = _gx_datasource().add_dataframe_asset(name=name)
    return asset.add_batch_definition_whole_dataframe(f"{name}-batch")


def result_format(row_id: str) -> dict[str, Any]:
    """GX's result format that names every failing row by its row_id, and holds no value of any row.

    COMPLETE lists every failing row, not the first 20. GX takes the row_id from the frame's index, which
    run_suite names after it: from a column it would read each failing row's id cell by cell (about 25 µs
    a row, 12 s for 500,000), from the index it takes them whole. exclude_unexpected_values leaves the
    values out (GX then gives the ids as one list) and return_unexpected_index_query=False the pandas
    "query", a string of every failing index.
    """
    return {
        "result_format": "COMPLETE",
        "unexpected_index_column_names": [row_id],
        "exclude_unexpected_values": True,
        "return_unexpected_index_query": False,
        "partial_unexpected_count": 0,
    }


def failing_row_ids(outcome: Any, row_id: str) -> list[Any] | None:
    """The ids of every row failing one expectation, as GX lists them; None for a check of the whole table.

    A SuiteError if GX lists fewer rows than it counts (its result format would have changed).
    """
    if "unexpected_index_list" not in outcome.result:
        return None
    ids: list[Any] = []
    for entry in outcome.result["unexpected_index_list"]:
        value = entry[row_id]
        ids.extend(value if isinstance(value, list) else [value])
    counted = outcome.result.get("unexpected_count")
    if counted is not None and len(ids) != counted:
        raise SuiteError(
            f"Great Expectations counted {counted} rows failing {outcome.expectation_config.type} but "
            f"listed {len(ids)}; its result format no longer lists every failing row (see result_format())."
        )
    return ids


def keep_counts_only(outcome: Any, table_level: bool) -> None:
    """Remove from one GX result everything but its counts, before it is kept for Data Docs."""
    kept = {k: v for k, v in outcome.result.items() if k in RESULT_COUNT_KEYS}
    if table_level and "observed_value" in outcome.result:
        kept["observed_value"] = outcome.result["observed_value"]
    outcome.result.clear()
    outcome.result.update(kept)


def check_suite_here(
    frame: pd.DataFrame, suite: dict[str, Any], parameters: dict[str, Any], label: str | None, row_id: str
) -> tuple[list[tuple[dict, list[Any] | None]], Any]:
    """run_suite in this process."""
    gx = import_gx()

    # GX does not report results in suite order, so each expectation carries its position in meta.
    tagged = [
        {**entry, "meta": {**entry.get("meta", {}), INDEX_KEY: position}}
        for position, entry in enumerate(suite["expectations"])
    ]
    checked = frame.set_index(row_id)  # GX names the failing rows by this index (see result_format)
    with _GX_LOCK:
        batch = _gx_batch_definition(suite["name"]).get_batch(batch_parameters={"dataframe": checked})
        result = batch.validate(
            gx.ExpectationSuite(name=label or suite["name"], expectations=tagged),
            expectation_parameters=parameters,
            result_format=result_format(row_id),
        )
    if len(result.results) != len(tagged):  # GX logs and skips an expectation it cannot build
        raise SuiteError(
            f"expectations/{suite['name']}.json: Great Expectations ran {len(result.results)} of its "
            f"{len(tagged)} checks; see the log for the one it could not build, and correct the suite."
        )
    failed = {}
    for outcome in result.results:
        position = outcome.expectation_config.meta[INDEX_KEY]
        entry = suite["expectations"][position]
        message = gx_error(outcome)
        if message is not None:
            raise DatasetError(f"check {entry['type']} on {entry['kwargs']} could not run: {message}")
        if not outcome.success:
            failed[position] = failing_row_ids(outcome, row_id)
        keep_counts_only(outcome, table_level=entry["type"].startswith(TABLE_LEVEL_PREFIX))
    return [(suite["expectations"][position], failed[position]) for position in sorted(failed)], result


def gx_error(outcome: Any) -> str | None:
    """GX's message if one expectation could not be checked, else None.

    GX reports an error of the expectation itself in exception_info, and one of a metric it needed (such
    as a comparison with a missing value) in exception_info keyed by that metric, with success False.
    """
    info = outcome.exception_info or {}
    for report in [info, *(v for v in info.values() if isinstance(v, dict))]:
        if report.get("raised_exception"):
            return str(report.get("exception_message"))
    return None


def render_data_docs(results: list[Any], folder: Path) -> Path:
    """build_data_docs in this process, from GX's results."""
    gx = import_gx()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    site = "run"
    target = folder / DATA_DOCS_FOLDER
    with _GX_LOCK:
        _gx_datasource()  # the offline settings and quiet logging, on first use
        # A context of its own per run, so the docs hold this run's results and no other's.
        context = gx.get_context(mode="ephemeral")
        for name in list(context.variables.data_docs_sites or {}):
            context.delete_data_docs_site(name)
        context.add_data_docs_site(
            site,
            {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(target)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        run_id = RunIdentifier(run_name=folder.name, run_time=datetime.now(UTC))
        for result in results:
            result.meta["run_id"] = run_id
            expectations = [outcome.expectation_config.to_domain_obj() for outcome in result.results]
            context.suites.add(gx.ExpectationSuite(name=result.suite_name, expectations=expectations))
            identifier = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
                run_id=run_id,
                batch_identifier=result.suite_name,
            )
            context.validation_results_store.set(identifier, result)
        context.build_data_docs(site_names=[site])
    return target / "index.html"
