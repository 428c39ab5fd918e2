"""Checks of untrusted text before it is parsed: control characters, lone surrogates, long lines.

Each returns a description of the first problem (with line and column, never the text itself) or None,
so the reader of each format can stop with one line naming its file. Limits are in config/limits.yaml.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from maturity.settings import load_limits

LIMITS_FILE = "config/limits.yaml"


def input_limits() -> dict:
    """The `inputs` section of config/limits.yaml."""
    return load_limits().inputs


@cache
def _forbidden_characters() -> re.Pattern[str]:
    allowed = set(input_limits().allowed_control_characters)
    # C0 controls, DEL and the C1 controls (U+0080-U+009F: NEL among them, which Python reads as a line end)
    controls = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in allowed]
    escaped = "".join(f"\\x{ord(c):02x}" for c in controls)
    return re.compile(f"[{escaped}\\ud800-\\udfff]")


def describe_character(char: str) -> str:
    """U+0000 NUL, U+0007 BEL, U+D800 (a lone surrogate) ... for a message."""
    code = f"U+{ord(char):04X}"
    if 0xD800 <= ord(char) <= 0xDFFF:
        return f"{code}, half of a UTF-16 surrogate pair on its own"
    names = {0: "NUL", 7: "BEL", 8: "backspace", 0x1B: "escape", 0x7F: "DEL"}
    return f"{code} {names.get(ord(char), unicodedata.name(char, 'control character'))}"


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index in text with \\n line ends."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def forbidden_character(text: str) -> tuple[int, str] | None:
    """Index and description of the first control character or lone surrogate, if any."""
    found = _forbidden_characters().search(text)
    return (found.start(), describe_character(found.group())) if found else None


def text_problem(text: str) -> str | None:
    """The first control character or line over the limit in a whole text file, located; else None."""
    bad = forbidden_character(text)
    if bad is not None:
        line, column = position(text, bad[0])
        return (
            f"line {line}, column {column} holds a control character ({bad[1]}) that no export should "
            "contain (often a damaged file or binary data pasted in). Remove it, save the file as UTF-8 "
            "and run again."
        )
    limit = input_limits().max_line_chars
    if len(text) > limit:
        long_line = re.search(f"[^\\n]{{{limit + 1}}}", text)
        if long_line is not None:
            line, _ = position(text, long_line.start())
            return (
                f"line {line} is longer than {limit} characters (inputs.max_line_chars in {LIMITS_FILE}): "
                "this is not a table export. Check the file, export it again and run again."
            )
    return None


def cell_problem(value: str) -> str | None:
    """What is wrong with one cell read from a typed format (JSON, XLSX, Parquet, SQL), if anything."""
    limit = input_limits().max_cell_chars
    if len(value) > limit:
        return f"holds {len(value)} characters, more than inputs.max_cell_chars ({limit}) in {LIMITS_FILE}"
    bad = forbidden_character(value)
    if bad is not None:
        return f"holds a control character ({bad[1]}) that no export should contain"
    return None


def flow_depth(text: str) -> int:
    """How deeply a YAML text nests [ ] and { } (outside quotes and comments), without parsing it:
    PyYAML's scanner takes time that grows with the square of the depth (30,000 deep: about a minute)."""
    depth = deepest = 0
    quote = ""
    comment = False
    previous = "\n"
    for char in text:
        if comment:
            comment = char != "\n"
        elif quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and previous in " \t\n":
            comment = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
        previous = char
    return deepest


def decode_checked_text(data: bytes, what: str) -> str:
    """A whole text file's bytes as text: UTF-8 (a BOM allowed), no control characters, no overlong line.

    Raises ValueError with the problem located and what to do; the caller prefixes the file's path.
    what: how the advice names the file ("study.yaml", "it").
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(
            f"line {line} is not UTF-8 (a file saved as Windows-1252 or another encoding). Save {what} as "
            "UTF-8 and run again."
        ) from None
    problem = text_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def yaml_problem(error: yaml.YAMLError) -> str:
    """What is wrong with a YAML document and where, without quoting the document (PyYAML does)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or type(error).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(problem).split())[:80]


def load_checked_yaml(path: Path, what: str, max_bytes: int, limit_name: str) -> Any:
    """A user's YAML file parsed safely, checked first: size, UTF-8, control characters, depth, aliases.

    Raises ValueError with one line (the path first) saying what is wrong and what to do.
    what: how the advice names the file; limit_name: the config/limits.yaml key of max_bytes.
    """
    limits = input_limits()
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(
            f"{path}: is {size} bytes, more than inputs.{limit_name} ({max_bytes}) in {LIMITS_FILE}. "
            f"Fix {what} and run again."
        )
    try:
        text = decode_checked_text(path.read_bytes(), what)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if flow_depth(text) > limits.max_yaml_depth:
        raise ValueError(
            f"{path}: is nested too deeply to read (more than inputs.max_yaml_depth, "
            f"{limits.max_yaml_depth}, in {LIMITS_FILE}). Fix the file and run again."
        )
    try:
        aliases = sum(
            isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)
        )
        if aliases > limits.max_yaml_aliases:
            raise ValueError(
                f"{path}: uses {aliases} YAML aliases (*name), more than inputs.max_yaml_aliases "
                f"({limits.max_yaml_aliases}) in {LIMITS_FILE}. Write each value out in full and run again."
            )
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(
            f"{path}: not valid YAML ({yaml_problem(error)}). Fix the file and run again."
        ) from None
    except RecursionError:
        raise ValueError(
            f"{path}: is nested too deeply to read (lists or mappings within each other). Fix the file "
            "and run again."
        ) from None
