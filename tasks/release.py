"""The open-data release around the tables: metadata (Frictionless, CSVW), README, checksums and the diff.

Everything here is a pure function of the tables, their contracts (contracts/open_data/),
config/open_data.yaml and the release's version and date, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Collection
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from maturity.output_contracts import OpenDataContract, open_data_contracts
from maturity.settings import load_open_data_config, load_settings
from tasks.contracts import DatasetError

CHANGES_JSON = "CHANGES.json"
CHANGES_MD = "CHANGES.md"
CHECKSUMS = "SHA256SUMS"
DATAPACKAGE = "datapackage.json"
CSVW_METADATA = "csv-metadata.json"
README = "README.md"
# Files that describe a release's history rather than its content: left out when deciding whether a
# newly built release differs from the previous one.
HISTORY_FILES = (CHANGES_JSON, CHANGES_MD, CHECKSUMS)
# Table Schema type -> CSVW datatype.
CSVW_DATATYPES = {"string": "string", "integer": "integer", "number": "decimal", "boolean": "boolean"}
NO_RELEASE = "none"


def csv_name(table: str) -> str:
    """File name of a table's CSV in a release."""
    return f"{table}.csv"


def release_version(wave: str, number: int) -> str:
    """The version string of the n-th release of a wave."""
    return f"{wave}.{number}"


def next_release_version(wave: str, previous: str | None) -> str:
    """The version after `previous` (or the first one): the release number goes up by one."""
    if previous is None:
        return release_version(wave, load_open_data_config().first_release_number)
    return release_version(wave, int(previous.rsplit(".", 1)[1]) + 1)


def resolve_release_date(wave: str, release_date: str | None) -> str | None:
    """The release date: given, else configured for the wave, else none (never the clock)."""
    chosen = release_date or load_open_data_config().release_dates.get(wave)
    if chosen is None:
        return None
    try:
        return date.fromisoformat(str(chosen)).isoformat()
    except ValueError:
        raise DatasetError(f"release date {chosen!r} is not a date (YYYY-MM-DD).") from None


def release_contracts(tables: Collection[str]) -> list[OpenDataContract]:
    """The contracts of the tables a release has, in config/open_data.yaml's order."""
    return [spec for spec in open_data_contracts() if spec.name in tables]


def build_datapackage(wave: str, version: str, release_date: str | None, tables: Collection[str]) -> bytes:
    """datapackage.json: a Frictionless data package with a Table Schema for every CSV."""
    config = load_open_data_config()
    missing = list(config.missing_values)
    package: dict[str, Any] = {
        "name": f"{config.name}-{wave}",
        "title": f"{config.title_en} ({wave})",
        "description": config.description_en,
        "version": version,
        "licenses": [config.licence.model_dump()],
        "sources": [source.model_dump(exclude_none=True) for source in config.sources],
        "contributors": [{"title": config.publisher.name, "role": "publisher"}],
        "keywords": ["Wales", "Cymru", "local government", "data maturity", wave],
    }
    if release_date:
        package["created"] = f"{release_date}T00:00:00Z"
    package["resources"] = []
    for spec in release_contracts(tables):
        schema: dict[str, Any] = {
            "fields": spec.fields,
            "missingValues": missing,
            "primaryKey": spec.primary_key,
        }
        if spec.foreign_keys:
            schema["foreignKeys"] = [
                {"fields": [key], "reference": {"resource": "councils", "fields": ["gss_code"]}}
                for key in spec.foreign_keys
            ]
        package["resources"].append(
            {
                "name": spec.name,
                "title": spec.title,
                "path": csv_name(spec.name),
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": schema,
            }
        )
    return to_json_bytes(package)


def build_csvw_metadata(wave: str, version: str, release_date: str | None, names: Collection[str]) -> bytes:
    """csv-metadata.json: the same description in W3C CSV on the Web form."""
    config = load_open_data_config()
    tables = []
    for spec in release_contracts(names):
        columns = [
            {
                "name": field["name"],
                "titles": field["name"],
                "datatype": CSVW_DATATYPES[field["type"]],
                "dc:description": field["description"],
                "null": list(config.missing_values),
                **({"propertyUrl": f"#unit-{field['unit']}"} if "unit" in field else {}),
            }
            for field in spec.fields
        ]
        schema: dict[str, Any] = {"columns": columns, "primaryKey": spec.primary_key}
        if spec.foreign_keys:
            schema["foreignKeys"] = [
                {
                    "columnReference": key,
                    "reference": {"resource": csv_name("councils"), "columnReference": "gss_code"},
                }
                for key in spec.foreign_keys
            ]
        tables.append({"url": csv_name(spec.name), "dc:title": spec.title, "tableSchema": schema})
    metadata: dict[str, Any] = {
        "@context": "http://www.w3.org/ns/csvw",
        "dc:title": f"{config.title_en} ({wave})",
        "dc:description": config.description_en,
        "dc:license": {"@id": config.licence.path},
        "dc:publisher": config.publisher.name,
        "schema:version": version,
        **({"dc:issued": release_date} if release_date else {}),
        "tables": tables,
    }
    return to_json_bytes(metadata)


def build_readme(wave: str, version: str, release_date: str | None, tables: Collection[str]) -> bytes:
    """A short bilingual README (English, then Welsh marked for review by a Welsh speaker)."""
    config = load_open_data_config()
    rules = load_settings().disclosure
    date = release_date or "not set"
    contracts = release_contracts(tables)
    names = ", ".join(f"`{csv_name(spec.name)}`" for spec in contracts)
    formats = ", ".join(config.formats)
    width = 2 * rules.protection_interval + 1  # values a small withheld count keeps possible
    text = f"""# {config.title_en} ({wave})

Version {version}, released {date}. Licence: {config.licence.title} ({config.licence.name}).

Tables: {names}; each also as Parquet and JSON ({formats}) with the same data.
`datapackage.json` (Frictionless) and `csv-metadata.json` (CSVW) describe every column, its type and
unit, and the keys. `SHA256SUMS` lists a checksum per file; `CHANGES.md` says what changed since the
previous release. Councils are identified by ONS GSS code, with English and Welsh names.

Figures resting on fewer than {rules.min_valid_answers} valid answers are withheld with their base: the
value is empty and `status` is `{rules.withheld_status}`. A council's figure for all respondents is
published only when both groups' are. Further figures are withheld, by a published rule and then an
integer audit of this release with every earlier one of the wave, until each withheld count of a figure
resting on fewer than {rules.min_valid_answers} answers still has at least {width} possible values (or every
value it could take), and no withheld count of a larger figure can be worked out exactly (its range may be
narrower: it is withheld to protect a small one, which it does). Every
figure is rounded half away from zero. Response
counts are published in full. No free text and no respondent-level data are published.
{change_note(contracts, rules.withheld_status)}
## Cymraeg

<!-- Welsh text: machine-assisted draft, to be reviewed by a Welsh speaker before publication. -->

# {config.title_cy} ({wave})

Fersiwn {version}, cyhoeddwyd {date}.
Trwydded: Trwydded Llywodraeth Agored v3.0 ({config.licence.name}).

Tablau: {names}; pob un hefyd fel Parquet a JSON gyda'r un data. Mae `datapackage.json` a
`csv-metadata.json` yn disgrifio pob colofn. Mae cynghorau'n cael eu nodi gan god GSS, gydag enwau
Cymraeg a Saesneg.

Mae ffigurau sy'n seiliedig ar lai na {rules.min_valid_answers} ateb dilys yn cael eu dal yn ôl: mae'r
gwerth yn wag a'r `status` yn `{rules.withheld_status}`. Nid oes testun rhydd na data am ymatebwyr
unigol yn cael eu cyhoeddi.
"""
    return text.encode("utf-8")


def change_note(contracts: list[OpenDataContract], withheld: str) -> str:
    """The README's paragraph on the change tables, when the release has them (else nothing)."""
    change = [spec.name for spec in contracts if spec.name in load_open_data_config().wave_change_tables]
    if not change:
        return ""
    names = " and ".join(f"`{csv_name(name)}`" for name in change)
    return f"""
{names} set each figure beside the earlier wave's (`earlier_wave`), for the characteristics and
statements config/comparability.yaml declares comparable: a reworded statement is mapped to the one it
continues; new and dropped statements are left out. A change is published only where the figure is
published in both waves' releases, so it is worked out from published figures and reveals nothing
withheld (otherwise `status` is `{withheld}`). The change is the difference of the two printed
figures; its interval treats the waves' respondents as independent samples.
"""


def build_checksums(files: dict[str, bytes]) -> bytes:
    """SHA256SUMS in the `sha256sum` format, one line per file, sorted by name."""
    lines = [f"{hashlib.sha256(content).hexdigest()}  {name}\n" for name, content in sorted(files.items())]
    return "".join(lines).encode("utf-8")


def to_json_bytes(document: Any) -> bytes:
    """Pretty, UTF-8 JSON with a final newline: the same bytes for the same document."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def read_csv_text(content: bytes) -> pd.DataFrame:
    """A published CSV as text cells, exactly as written (empty stays empty)."""
    return pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, encoding="utf-8")


def diff_table(old: pd.DataFrame | None, new: pd.DataFrame, key: list[str]) -> dict[str, Any]:
    """Rows added and removed (by primary key) and cells changed between two versions of a table."""
    if old is None or not set(key) <= set(old.columns):
        old = pd.DataFrame(columns=new.columns, dtype=str)
    old_rows, new_rows = old.set_index(key), new.set_index(key)
    added = new_rows.index.difference(old_rows.index)
    removed = old_rows.index.difference(new_rows.index)
    common = new_rows.index.intersection(old_rows.index)
    shared_columns = [c for c in new_rows.columns if c in old_rows.columns]
    changed = []
    before, after = old_rows.loc[common, shared_columns], new_rows.loc[common, shared_columns]
    # A row withheld in either version shows only its status change: its old values, though once
    # published, are not repeated, and nothing inside a withheld cell is ever reported.
    withheld = np.zeros(len(common), dtype=bool)
    if "status" in shared_columns:
        withheld = (before["status"].to_numpy() != "") | (after["status"].to_numpy() != "")
    for column in shared_columns:
        differs = before[column].to_numpy() != after[column].to_numpy()
        if column != "status":
            differs &= ~withheld
        for position in differs.nonzero()[0]:
            changed.append(
                {
                    "key": _key_dict(key, common[position]),
                    "column": column,
                    "old": before[column].iat[position],
                    "new": after[column].iat[position],
                }
            )
    changed.sort(key=lambda change: ([str(v) for v in change["key"].values()], change["column"]))
    return {
        "rows_added": [_key_dict(key, k) for k in added],
        "rows_removed": [_key_dict(key, k) for k in removed],
        "values_changed": changed,
        "columns_added": [c for c in new_rows.columns if c not in old_rows.columns],
        "columns_removed": [c for c in old_rows.columns if c not in new_rows.columns],
    }


def _key_dict(key: list[str], value: Any) -> dict[str, str]:
    values = value if isinstance(value, tuple) else (value,)
    return dict(zip(key, (str(v) for v in values), strict=True))


def diff_releases(
    previous: dict[str, bytes], current: dict[str, bytes], previous_version: str | None, version: str
) -> dict[str, Any]:
    """What changed in every table since the previous release (CSV contents by file name)."""
    tables = {}
    for spec in open_data_contracts():
        name = csv_name(spec.name)
        if name not in current:
            continue  # not in this release (a wave without an earlier wave has no change tables)
        old = read_csv_text(previous[name]) if name in previous else None
        tables[spec.name] = diff_table(old, read_csv_text(current[name]), spec.primary_key)
    return {"previous_version": previous_version or NO_RELEASE, "version": version, "tables": tables}


def summarise_changes(changes: dict[str, Any]) -> list[str]:
    """One line per table with what changed, or a single 'no changes' line."""
    lines = []
    for table, diff in changes["tables"].items():
        counts = {
            "rows added": len(diff["rows_added"]),
            "rows removed": len(diff["rows_removed"]),
            "values changed": len(diff["values_changed"]),
            "columns added": len(diff["columns_added"]),
            "columns removed": len(diff["columns_removed"]),
        }
        if any(counts.values()):
            lines.append(f"{table}: " + ", ".join(f"{n} {what}" for what, n in counts.items() if n))
    if not lines and changes["previous_version"] != changes["version"]:
        return ["no data changes (metadata changed)"]
    return lines or ["no changes"]


def build_changes_markdown(changes: dict[str, Any]) -> bytes:
    """CHANGES.md: the summary, then the first changed values one by one."""
    limit = load_open_data_config().changes_listed
    lines = [
        f"# Changes in release {changes['version']} (since {changes['previous_version']})",
        "",
        *[f"- {line}" for line in summarise_changes(changes)],
        "",
    ]
    listed = [(t, c) for t, diff in changes["tables"].items() for c in diff["values_changed"]]
    if listed:
        lines += ["| table | row | column | old | new |", "| --- | --- | --- | --- | --- |"]
        for table, change in listed[:limit]:
            row = ", ".join(f"{k}={v}" for k, v in change["key"].items())
            lines.append(f"| {table} | {row} | {change['column']} | {change['old']} | {change['new']} |")
        if len(listed) > limit:
            lines.append(f"\n{len(listed) - limit} more in {CHANGES_JSON}.")
        lines.append("")
    return "\n".join(lines).encode("utf-8")
