"""Read a study input in any supported format (CSV, XLSX, JSON, Parquet or an SQL table) as text.

Every reader ends in the same shape: a header and rows of cells as trimmed text (or None), each row
with the number a person would use to find it. Nothing is converted to numbers or dates here, so
validation sees what the file holds; typed cells (XLSX, Parquet, JSON, SQL) are written as the text a
CSV export would show (1.0 as "1", a date-time as "2018-02-01 10:00:00").
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from maturity.extras import require_extra_for_url
from maturity.restricted import mask_url, preview_row, quote_credentials, scrub_secrets
from maturity.settings import EXPECTATIONS_DIR, load_limits, load_settings
from maturity.textcheck import LIMITS_FILE, cell_problem, input_limits, text_problem
from maturity.textcheck import position as text_position
from tasks.contracts import QUARANTINE_COLUMNS, DatasetError, SourceUnavailableError, Study

HEADER_ROW = 1  # the header is row 1 of a CSV or worksheet; data start on row 2
ROW_COLUMN = "(whole row)"  # quarantine column for a problem with a row rather than one cell
SQL_PREFIX = "sql:"
UTF8_BOM = b"\xef\xbb\xbf"
ZIP_MAGIC = b"PK\x03\x04"  # .xlsx, .ods and .docx are zip files
DATETIME_TEXT = "%Y-%m-%d %H:%M:%S"
ROW_PREVIEW_CHARS = 200
IGNORED_FILE_PREFIXES = (".", "~$")  # hidden files and Excel's lock files beside open workbooks
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# csv's field limit is set to inputs.max_cell_chars (config/limits.yaml): a longer comment is still read
# (comment length is a validation rule, responses.max_comment_chars); only a cell past that limit stops.
FIELD_LIMIT_MESSAGE = "field larger than field limit"

Rows = Iterable[tuple[int, list[str | None]]]


@dataclass
class SourceTable:
    """One input as read: text cells with row numbers, rows set aside while reading, and provenance."""

    source_file: str  # relative path in the study folder, or sql:<table>
    location: str  # for messages: the full path, or "table T in URL" (password hidden)
    sha256: str
    source_format: str
    encoding: str
    frame: pd.DataFrame  # one text column per header name, plus source_row
    rejected: pd.DataFrame  # source_row, column, value, reason

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len(self.rejected)


def dataset_stem(dataset: str) -> str:
    """File name without extension for a dataset: invitations, responses/<tool_id>, ..."""
    kind, _, tool_id = dataset.partition(":")
    return f"responses/{tool_id}" if kind == "responses" else kind


def sql_table_name(dataset: str) -> str:
    """Table (or view) holding a dataset in an SQL source (config/method.yaml inputs.sql_tables)."""
    kind, _, tool_id = dataset.partition(":")
    return load_settings().inputs.sql_tables[kind].format(tool_id=tool_id)


def input_formats() -> dict[str, str]:
    """Supported file extensions and the reader each selects."""
    return load_settings().inputs.formats


def _is_ignored(path: Path) -> bool:
    return path.name.startswith(IGNORED_FILE_PREFIXES) or not path.is_file()


def locate_input(root: Path, stem: str) -> Path:
    """The one file holding a dataset, found by extension; a clear stop when there are none or several."""
    folder, name = (root / stem).parent, Path(stem).name
    inputs = load_settings().inputs
    candidates = (
        sorted(p for p in folder.iterdir() if p.stem == name and not _is_ignored(p))
        if folder.is_dir()
        else []
    )
    readable = [p for p in candidates if p.suffix.lower() in inputs.formats]
    extensions = ", ".join(inputs.formats)
    if len(readable) > 1:
        names = " and ".join(p.name for p in readable)
        raise DatasetError(
            f"{folder}: {names} are both inputs for {stem}. Keep one of them (move the other out of the "
            "study folder) and run again."
        )
    if readable:
        return readable[0]
    for path in candidates:
        advice = inputs.unsupported_formats.get(path.suffix.lower())
        if advice:
            raise DatasetError(f"{path}: {path.suffix} files are not read; {advice}, and run again.")
    raise DatasetError(
        f"{root / stem}.csv: not found (looked for {name} with {extensions}). Add the file or check that "
        "--inputs points at the study folder."
    )


def link_error(path: Path) -> DatasetError:
    """The stop for a symbolic link in the study folder (its target is never read nor named)."""
    return DatasetError(
        f"{path}: is a symbolic link, and links in the study folder are not followed (one could point at "
        "any file on this computer). Copy the file itself into the study folder in place of the link "
        "and run again."
    )


def refuse_links(path: Path, root: Path | None = None) -> None:
    """Stop if the path, or any folder between it and the study folder `root`, is a symbolic link."""
    here = path
    while here != root:
        if here.is_symlink():
            raise link_error(here)
        if root is None or here.parent == here or not here.is_relative_to(root):
            return
        here = here.parent


def check_study_files(study: Study) -> None:
    """Stop when responses/ holds a file for a data tool config/tools.yaml does not know: it would be lost,
    or when the study folder holds a symbolic link."""
    for folder in (study.root, study.responses_dir):
        if folder.is_dir() and not folder.is_symlink():
            for entry in sorted(folder.iterdir()):
                if entry.is_symlink():
                    raise link_error(entry)
    if study.source or not study.responses_dir.is_dir():
        return
    known = set(load_settings().tool_by_id)
    strays = [
        p.name
        for p in sorted(study.responses_dir.iterdir())
        if not _is_ignored(p) and p.suffix.lower() in input_formats() and p.stem not in known
    ]
    if strays:
        raise DatasetError(
            f"{study.responses_dir}: {', '.join(strays)} is not named after a data tool in config/tools.yaml "
            f"({', '.join(sorted(known))}), so its responses would not be read. Rename it to its tool's id, "
            "or move it out of the study folder, and run again."
        )


def cell_to_text(value: Any) -> str | None:
    """A typed cell as the text a CSV export would hold: 1.0 -> "1", a date-time -> "2018-02-01 10:00:00"."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return _number_to_text(value)
    if isinstance(value, datetime):
        return _datetime_to_text(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    if hasattr(value, "item"):  # numpy scalars
        return cell_to_text(value.item())
    return str(value)


def _number_to_text(value: float | Decimal) -> str | None:
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None if value.is_nan() else str(value)
        return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")
    if not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    return str(int(value)) if value.is_integer() else str(value)


def _datetime_to_text(value: datetime) -> str:
    # A time with a zone (Parquet, PostgreSQL timestamptz) becomes the study's local wall-clock time.
    if value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(load_settings().inputs.timezone)).replace(tzinfo=None)
    text = value.strftime(DATETIME_TEXT)
    return f"{text}.{value.microsecond:06d}" if value.microsecond else text


def tidy_cell(value: str | None) -> str | None:
    """Trim a cell; an empty or blank cell is missing."""
    if value is None:
        return None
    text = value.strip()
    return text or None


@lru_cache(maxsize=1)
def _described_column_words() -> frozenset[str]:
    """Words of every column the input contracts describe (expectations/*.json meta: submitted_at ...)."""
    # Read here, not through tasks.validate.load_suite_definition: tasks.validate imports this module.
    words: set[str] = set()
    for path in sorted(EXPECTATIONS_DIR.glob("*.json")):
        columns = json.loads(path.read_text(encoding="utf-8")).get("meta", {}).get("columns", {})
        words.update(word.lower() for name in columns for word in re.findall(r"[A-Za-z]+", name))
    return frozenset(words)


def shown_column_name(name: str) -> str | None:
    """A column name a message may show, or None: it must look like a column name (config/limits.yaml)
    and be made of the contracts' column words or ordinary words, so a header holding a name or a phone
    number is never echoed."""
    from maturity.comments import is_plain_label

    if not re.fullmatch(load_limits().messages.column_name_shown, name):
        return None
    own = set(re.findall(r"[A-Za-z]+", name.lower())) <= _described_column_words()
    return name if own or is_plain_label(name) else None


def header_summary(names: list[str]) -> str:
    """Column names for a message: only those that may be shown, the rest counted ("2 whose names are not
    shown"), so a message quotes no other content of a file."""
    limits = load_limits().messages
    plain = [n for n in names if shown_column_name(n) is not None][: limits.column_names_shown]
    hidden = len(names) - len(plain)
    counted = [f"{hidden} whose name{'s are' if hidden > 1 else ' is'} not shown"] if hidden else []
    return ", ".join(plain + counted) or "none"


def _header_names(cells: list[str | None], location: str) -> list[str]:
    names = [(c or "").replace("\ufeff", "").strip() for c in cells]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise DatasetError(
            f"{location}: row {HEADER_ROW} is empty. The header (column names) must be on row {HEADER_ROW}; "
            "delete any title rows above it and run again."
        )
    seen: set[str] = set()
    twice = sorted({n for n in names if n and (n in seen or seen.add(n))})
    if twice:
        missing = (
            ""
            if all(shown_column_name(n) for n in twice)
            else (" If that row holds answers rather than column names, the header row is missing: add it.")
        )
        raise DatasetError(
            f"{location}: column {header_summary(twice)} appears more than once in row {HEADER_ROW}, the "
            f"header. Rename or remove the duplicate and run again.{missing}"
        )
    return names


def _row_preview(cells: list[str | None], names: list[str]) -> str:
    text = preview_row(cells, names)  # no identity column, raw id, email or IP address
    return text if len(text) <= ROW_PREVIEW_CHARS else text[:ROW_PREVIEW_CHARS] + "…"


def _check_cells(cells: list[str | None], names: list[str], number: int, location: str) -> None:
    """A cell of a typed format (JSON, XLSX, Parquet, SQL) with a control character or past the size limit."""
    for position, cell in enumerate(cells):
        if cell is not None and (problem := cell_problem(cell)):
            name = names[position] if position < len(names) else ""
            column = shown_column_name(name) or f"{position + 1}"
            raise DatasetError(
                f"{location}: record {number}, column {column} {problem}. Correct the export and run again."
            )


def tabulate_rows(
    header: list[str | None],
    rows: Rows,
    location: str,
    exact_width: bool = False,
    check_cells: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of cells into a text frame with source_row; blank rows skipped, malformed rows set aside.

    exact_width is for CSV, where a row with fewer cells than the header was cut short; other formats
    leave trailing empty cells out. A value beyond the last named column is set aside in every format.
    """
    check_column_count(len(header), location)
    names = _header_names(header, location)
    width = len(names)
    kept: list[list[str | None]] = []
    numbers: list[int] = []
    rejected: list[dict[str, Any]] = []
    for number, raw in rows:
        if check_cells:
            _check_cells(raw, names, number, location)
        cells = [tidy_cell(c) for c in raw]
        if all(c is None for c in cells):
            continue
        filled = len(cells) - next((i for i, c in enumerate(reversed(cells)) if c is not None), len(cells))
        if filled > width or (exact_width and len(cells) < width):
            count = filled if filled > width else len(cells)
            rejected.append(
                {
                    "source_row": number,
                    "column": ROW_COLUMN,
                    "value": _row_preview(cells, names),
                    "reason": (
                        f"This row has {count} cells but the header names "
                        f"{width} columns, so its values cannot be matched to columns (often a comma or "
                        "semicolon inside a value that is not in quotes, or a row cut short). Correct the "
                        "row and run again."
                    ),
                }
            )
            continue
        kept.append(cells[:width] + [None] * (width - len(cells)))
        numbers.append(number)
    frame = pd.DataFrame(kept, columns=names, dtype=object) if kept else pd.DataFrame(columns=names)
    for position, name in enumerate(names):
        if not name and frame.iloc[:, position].notna().any():
            raise DatasetError(
                f"{location}: column {position + 1} has values but no name in the header row. "
                "Give it a name or delete the column, and run again."
            )
    frame = frame.loc[:, [bool(n) for n in names]].astype("str")
    frame["source_row"] = pd.Series(numbers, index=frame.index, dtype="int64")
    return frame.reset_index(drop=True), pd.DataFrame(
        rejected, columns=["source_row", "column", "value", "reason"]
    )


def decode_text(data: bytes, location: str) -> tuple[str, str]:
    """Decode a text file: UTF-8 (with or without BOM) if it is that, else the best configured legacy fit."""
    if data.startswith(UTF8_BOM):
        try:
            return data[len(UTF8_BOM) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as error:
            raise _mixed_encoding_error(data, error, location) from error
    if not data.startswith(UTF16_BOMS):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            if b"\x00" not in data and _has_utf8_characters(data):
                raise _mixed_encoding_error(data, error, location) from error
        else:
            # Valid UTF-8 with a few NULs is UTF-8 with stray bytes (the text check names them), never
            # a reason to guess another encoding; mostly NULs is UTF-16 without a BOM.
            if data.count(b"\x00") < input_limits().utf16_min_nul_share * len(data):
                return text, "utf-8"
    from charset_normalizer import from_bytes  # deferred: only legacy files need it

    encodings = load_settings().inputs.legacy_encodings
    match = from_bytes(data, cp_isolation=encodings).best()
    if match is None:
        raise DatasetError(
            f"{location}: is not text in UTF-8 or {', '.join(encodings)} (it may be a binary file, or a "
            "workbook saved with the wrong extension). Save it as CSV UTF-8 and run again."
        )
    return str(match).lstrip("\ufeff"), match.encoding


def _has_utf8_characters(data: bytes) -> bool:
    """Whether bytes that are not all valid UTF-8 still hold valid multi-byte UTF-8 characters."""
    text = data.decode("utf-8", errors="replace")
    return any(ord(ch) > 0x7F and ch != "\ufffd" for ch in text)


def _mixed_encoding_error(data: bytes, error: UnicodeDecodeError, location: str) -> DatasetError:
    offset = error.start + (len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0)
    line = data[:offset].count(b"\n") + 1
    return DatasetError(
        f"{location}: line {line} is not valid UTF-8 although other lines are, so the file mixes "
        "encodings (often text pasted from another program). Open it in a text editor or Excel, check "
        "the characters on that line, save it as CSV UTF-8 and run again."
    )


def detect_delimiter(header_line: str) -> str:
    """The delimiter the header row uses (csv.Sniffer over the header only: comments are free text)."""
    delimiters = "".join(load_settings().inputs.delimiters)
    try:
        return csv.Sniffer().sniff(header_line, delimiters=delimiters).delimiter
    except csv.Error:
        return delimiters[0]


def check_file_size(path: Path, location: str) -> None:
    """Stop before reading a file larger than inputs.max_file_bytes (config/limits.yaml)."""
    size, limit = path.stat().st_size, input_limits().max_file_bytes
    if size > limit:
        raise DatasetError(
            f"{location}: is {size} bytes, more than inputs.max_file_bytes ({limit}) in {LIMITS_FILE}. "
            "Check it is the right file; if it is, raise the limit and run again."
        )


def check_column_count(count: int, location: str, row: int = HEADER_ROW) -> None:
    """Stop at once on a row wider than any contract: nothing is validated column by column."""
    limit = input_limits().max_columns
    if count > limit:
        where = f"the header (row {HEADER_ROW})" if row == HEADER_ROW else f"row {row}"
        raise DatasetError(
            f"{location}: {where} has {count} columns, more than inputs.max_columns "
            f"({limit}) in {LIMITS_FILE}; often empty columns an export added. Delete the columns after "
            "the last named one and run again."
        )


def read_csv_rows(
    path: Path, location: str
) -> tuple[list[str | None], list[tuple[int, list[str | None]]], str]:
    """A CSV's header and numbered rows, whatever its encoding, delimiter and line endings."""
    data = path.read_bytes()
    if not data.strip():
        raise DatasetError(
            f"{location}: is empty. Export the data again (with the header row) and run again."
        )
    if data.startswith(ZIP_MAGIC):
        raise DatasetError(
            f"{location}: is an Excel workbook (or another zip file), not a CSV. Give it the .xlsx "
            "extension, or save it from Excel as CSV UTF-8, and run again."
        )
    text, encoding = decode_text(data, location)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    problem = text_problem(text)
    if problem:
        raise DatasetError(f"{location}: {problem}")
    delimiter = detect_delimiter(text.split("\n", 1)[0])
    cell_limit = input_limits().max_cell_chars
    csv.field_size_limit(cell_limit)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, list[str | None]]] = []
    try:
        for number, record in enumerate(reader, start=HEADER_ROW):
            if number == HEADER_ROW:
                check_column_count(len(record), location)
            records.append((number, list(record)))
    except csv.Error as error:
        row = len(records) + HEADER_ROW
        if FIELD_LIMIT_MESSAGE in str(error):
            raise DatasetError(
                f"{location}: row {row} (line {reader.line_num} of the file) has a cell longer than "
                f"{cell_limit} characters (inputs.max_cell_chars in {LIMITS_FILE}), often a quote never "
                "closed. Correct that row and run again."
            ) from None
        raise DatasetError(
            f"{location}: row {row} (line {reader.line_num} of the file) could not be read as CSV ({error}): "
            "usually a double quote that is never closed or has text straight after it. Correct the "
            "quotes in that row and run again."
        ) from error
    if not records:
        raise DatasetError(
            f"{location}: is empty. Export the data again (with the header row) and run again."
        )
    (_, header), *rows = records
    return list(header), rows, encoding


def read_sheet_rows(sheet: Any, location: str) -> list[tuple[int, list[str | None]]]:
    """A worksheet's numbered rows as text, its width checked as each row is read, not after them all.

    A workbook is a zip: a small file can hold a sheet of millions of cells, so a row wider than
    inputs.max_columns stops the read at that row (a CSV is checked the same way as it is parsed).
    """
    numbered = []
    for number, values in enumerate(sheet.iter_rows(min_row=HEADER_ROW, values_only=True), HEADER_ROW):
        check_column_count(len(values), location, number)
        numbered.append((number, [cell_to_text(v) for v in values]))
    return numbered


def read_xlsx_rows(path: Path, location: str) -> tuple[list[str | None], list[tuple[int, list[str | None]]]]:
    """The first worksheet's header (row 1) and numbered rows; a formula is read as its text."""
    import openpyxl  # deferred: only workbooks need it

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
        try:
            sheet = workbook.worksheets[0]
            sheet.reset_dimensions()  # some writers record a wrong sheet size; read every row there is
            numbered = read_sheet_rows(sheet, location)
        finally:
            workbook.close()
    except DatasetError:
        raise
    except Exception as error:  # openpyxl raises many types for a damaged workbook
        raise DatasetError(
            f"{location}: could not be read as an Excel workbook ({type(error).__name__}: {error}). Open it "
            "in Excel and save it again as .xlsx, or export it as CSV UTF-8, and run again."
        ) from error
    if not numbered:
        raise DatasetError(
            f"{location}: the first worksheet is empty. Put the header on row 1 and run again."
        )
    (_, header), *rows = numbered
    return header, rows


class _LongNumberError(ValueError):
    """A JSON number too long to be an answer (Python itself refuses to convert one over 4,300 digits)."""


class _DuplicateKeyError(ValueError):
    """A JSON object naming one key twice: the parser would keep the last value and drop the other unseen."""

    def __init__(self, key: str, record: int) -> None:
        super().__init__(key)
        self.key, self.record = key, record


def read_json_rows(path: Path, location: str) -> tuple[list[str], list[tuple[int, list[str | None]]]]:
    """A JSON array of objects (one per row; keys are columns); row N is the Nth object."""
    digits = input_limits().max_number_digits

    def whole_number(text: str) -> int:
        if len(text.lstrip("-")) > digits:
            raise _LongNumberError(text)
        return int(text)

    objects = 0

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal objects
        objects += 1  # records are flat, so the Nth object completed is record N
        record: dict[str, Any] = {}
        for key, value in pairs:
            if key in record:
                raise _DuplicateKeyError(key, objects)
            record[key] = value
        return record

    text = ""
    try:
        text = path.read_bytes().decode("utf-8-sig")
        records = json.loads(text, parse_int=whole_number, object_pairs_hook=unique_keys)
    except _DuplicateKeyError as error:
        raise DatasetError(
            f"{location}: record {error.record} holds column "
            f"{shown_column_name(error.key) or '(name not shown)'} twice, and JSON would keep only the last "
            "value. Correct the export and run again."
        ) from None
    except _LongNumberError:
        found = re.search(f"[0-9]{{{digits + 1}}}", text)
        line, column = text_position(text, found.start()) if found else (0, 0)
        raise DatasetError(
            f"{location}: line {line}, column {column} holds a number of more than {digits} digits "
            f"(inputs.max_number_digits in {LIMITS_FILE}), which is no answer. Correct it and run again."
        ) from None
    except RecursionError:
        raise DatasetError(
            f"{location}: is nested too deeply to read (arrays or objects within each other); it must be "
            "one array of flat objects, one per row. Export it in that shape and run again."
        ) from None
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"{location}: is not UTF-8, which JSON must be. Save it as UTF-8 and run again."
        ) from error
    except json.JSONDecodeError as error:
        raise DatasetError(
            f"{location}: is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}). "
            "Correct it, or export it again, and run again."
        ) from error
    if not isinstance(records, list):
        raise DatasetError(
            f'{location}: must hold one JSON array of objects, one per row ([{{"council": ...}}, ...]), '
            f"not a {type(records).__name__}. Export it in that shape and run again."
        )
    if not records:
        raise DatasetError(
            f"{location}: holds no records (an empty array). Export the data again and run again."
        )
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise DatasetError(
                f"{location}: record {number} is a {type(record).__name__}, not an object of column: value. "
                "Every record must be an object; correct the export and run again."
            )
    header = list(dict.fromkeys(key for record in records for key in record))
    rows = [(n, [cell_to_text(r.get(k)) for k in header]) for n, r in enumerate(records, start=1)]
    return header, rows


def read_parquet_rows(path: Path, location: str) -> tuple[list[str], list[tuple[int, list[str | None]]]]:
    """A Parquet file's columns and rows; row N is the Nth row in the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise DatasetError(
            f"{location}: could not be read as Parquet ({error}). Export it again and run again."
        ) from error
    check_column_count(table.num_columns, location)
    columns = []
    for number, (name, column) in enumerate(zip(table.column_names, table.columns, strict=True), start=1):
        try:
            values = column.to_pylist()
        except (ValueError, OverflowError, pa.ArrowException) as error:
            raise DatasetError(
                f"{location}: column {shown_column_name(name) or number} holds a value that cannot be read "
                f"({type(error).__name__}: {' '.join(str(error).split())[:80]}), such as a date after the "
                "year 9999. Correct the column and export it again."
            ) from None
        columns.append(values if pa.types.is_string(column.type) else [cell_to_text(v) for v in values])
    rows = [(n, list(cells)) for n, cells in enumerate(zip(*columns, strict=True), start=1)]
    return table.column_names, rows


def _describe_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(quote_credentials(url))
        return mask_url(url)  # the password masked whatever it holds (make_url ends it at the first "@")
    except ArgumentError as error:
        raise DatasetError(
            "--source is not an SQLAlchemy URL (for example sqlite:///study.db or "
            "postgresql+psycopg://user@host/database). Correct it and run again."
        ) from error


def _transient_sql_errors() -> tuple[type[Exception], ...]:
    """SQLAlchemy errors that say the database could not be reached, not that the data are wrong."""
    from sqlalchemy import exc

    return (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)


def read_sql_rows(url: str, table: str) -> tuple[list[str], list[tuple[int, list[str | None]]], str]:
    """A table or view's columns and rows, in primary-key order (or by every column without one)."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError

    described = _describe_url(url)
    require_extra_for_url(url, "--source")  # postgresql+psycopg:// needs the postgres extra
    location = f"table {table} in {described}"
    parsed = make_url(quote_credentials(url))
    database = parsed.database or ""
    if (
        parsed.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not Path(database).is_file()
    ):
        raise DatasetError(f"{described}: database file {database} not found. Check --source and run again.")
    try:
        engine = create_engine(parsed)
    except (NoSuchModuleError, ImportError) as error:
        reason = scrub_secrets(str(error), url)
        raise DatasetError(
            f"{described}: no database driver for this URL ({reason}). Check --source."
        ) from error
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            found = set(inspector.get_table_names()) | set(inspector.get_view_names())
            if table not in found:
                raise DatasetError(
                    f"{location}: not found (tables and views there: {', '.join(sorted(found)) or 'none'}). "
                    "Create it, or a view with that name, with the columns in docs/inputs.md."
                )
            columns = [c["name"] for c in inspector.get_columns(table)]
            key = (inspector.get_pk_constraint(table) or {}).get("constrained_columns") or columns
            quote = connection.dialect.identifier_preparer.quote
            query = f"SELECT * FROM {quote(table)} ORDER BY {', '.join(quote(c) for c in key)}"
            result = connection.exec_driver_sql(query)  # raw driver values: no type conversion
            header = list(result.keys())
            rows = [(n, [cell_to_text(v) for v in row]) for n, row in enumerate(result, start=1)]
    except SQLAlchemyError as error:
        message = scrub_secrets(str(getattr(error, "orig", None) or error).strip().splitlines()[0], url)
        unavailable = isinstance(error, _transient_sql_errors())
        raise (SourceUnavailableError if unavailable else DatasetError)(
            f"{location}: could not be read ({type(error).__name__}: {message}). Check --source, that the "
            "database server is running and that the user may read the table, and run again."
        ) from error
    finally:
        engine.dispose()
    return header, rows, location


def rows_sha256(header: list[str], rows: list[tuple[int, list[str | None]]]) -> str:
    """Checksum of a table's content as read (SQL sources have no file to checksum)."""
    digest = hashlib.sha256()
    for cells in _with_header(header, rows):
        digest.update(json.dumps(cells, ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


def _with_header(header: list[str], rows: list[tuple[int, list[str | None]]]) -> Iterator[list[Any]]:
    yield list(header)
    for _, cells in rows:
        yield cells


def file_sha256(path: Path) -> str:
    """Checksum of a file's bytes, recorded with every row for lineage."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_file(path: Path, relative: str) -> SourceTable:
    """Read one study file with the reader its extension selects."""
    location = str(path)
    refuse_links(path, path.parents[len(Path(relative).parts) - 1] if relative else None)
    if not path.is_file():
        raise DatasetError(
            f"{location}: not found. Add the file or check that --inputs points at the study folder."
        )
    source_format = input_formats().get(path.suffix.lower())
    if source_format is not None:
        check_file_size(path, location)
    encoding = ""
    if source_format == "csv":
        header, rows, encoding = read_csv_rows(path, location)
    elif source_format == "xlsx":
        header, rows = read_xlsx_rows(path, location)
    elif source_format == "json":
        header, rows = read_json_rows(path, location)
    elif source_format == "parquet":
        header, rows = read_parquet_rows(path, location)
    else:
        raise DatasetError(
            f"{location}: {path.suffix} files are not read. Use one of {', '.join(input_formats())}."
        )
    is_csv = source_format == "csv"  # its text was checked whole, with line and column
    frame, rejected = tabulate_rows(header, rows, location, exact_width=is_csv, check_cells=not is_csv)
    return SourceTable(relative, location, file_sha256(path), source_format, encoding, frame, rejected)


def read_sql(url: str, dataset: str) -> SourceTable:
    """Read one dataset's table or view from an SQL source."""
    table = sql_table_name(dataset)
    header, rows, location = read_sql_rows(url, table)
    frame, rejected = tabulate_rows(header, rows, location)
    return SourceTable(
        f"{SQL_PREFIX}{table}", location, rows_sha256(header, rows), "sql", "", frame, rejected
    )


def read_input(study: Study, dataset: str, relative: str | None = None) -> SourceTable:
    """Read a dataset from the study's SQL source, the named file, or the one file its name selects."""
    if study.source:
        return read_sql(study.source, dataset)
    if relative is None:
        path = locate_input(study.root, dataset_stem(dataset))
        relative = path.relative_to(study.root).as_posix()
    return read_file(study.root / relative, relative)


def rejected_records(table: SourceTable, dataset: str) -> pd.DataFrame:
    """Rows set aside while reading, as quarantine records."""
    records = table.rejected.assign(dataset=dataset, source_file=table.source_file)
    return records[QUARANTINE_COLUMNS].astype({"source_row": "int64"})
