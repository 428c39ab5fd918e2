"""Resolve the many ways inputs name a council to its ONS GSS code."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from maturity.settings import Council, load_settings

# Words that say what kind of body a council is rather than which one; stripped so that
# "Denbighshire County Council", "Denbighshire CC" and "Denbighshire" all match.
_GENERIC_PREFIXES = (
    "cyngor bwrdeistref sirol",
    "cyngor dinas a sir",
    "cyngor dinas",
    "cyngor",
    "city and county of",
    "city of",
    "the",
)
_GENERIC_SUFFIXES = (
    "county borough council",
    "county council",
    "city council",
    "borough council",
    "council",
    "cbc",
    "cc",
)
_GSS_PATTERN = re.compile(r"^[A-Z]\d{8}$")


MAX_VALUE_SHOWN = 80  # characters of an unknown council's name a message shows


class UnknownCouncilError(ValueError):
    """A council name that matches no council in config/councils.csv."""

    def __init__(self, value: str, closest: str | None) -> None:
        self.value = value
        self.closest = closest
        hint = f' The closest known council is "{closest}".' if closest else ""
        # A value with control characters (an escape sequence, a newline) is shown escaped, never raw.
        shown = f'"{value[:MAX_VALUE_SHOWN]}"' if value.isprintable() else repr(value)[:MAX_VALUE_SHOWN]
        super().__init__(
            f"{shown} is not a known council.{hint} Use a GSS code (e.g. W06000004), the "
            "English or Welsh name, or add the spelling to aliases in config/councils.csv."
        )


def normalise_council_name(value: str) -> str:
    """Fold case, accents, punctuation and generic words so that spellings of a name compare equal."""
    text = unicodedata.normalize("NFKD", value)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ")
    text = re.sub(r"[.'\u2019]", "", text)  # "C.C." is "cc", "Môn's" is "mons"
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    changed = True
    while changed:
        changed = False
        for prefix in _GENERIC_PREFIXES:
            if text.startswith(prefix + " "):
                text, changed = text[len(prefix) + 1 :], True
        for suffix in _GENERIC_SUFFIXES:
            if text.endswith(" " + suffix):
                text, changed = text[: -len(suffix) - 1], True
    return text


@dataclass(frozen=True)
class CouncilResolver:
    """Lookup from every accepted spelling of a council to its GSS code."""

    by_key: dict[str, str]
    display_names: dict[str, str]

    def resolve(self, value: str) -> str:
        """Return the GSS code for a council name or code, or raise UnknownCouncilError."""
        stripped = value.strip()
        if _GSS_PATTERN.match(stripped.upper()) and stripped.upper() in self.display_names:
            return stripped.upper()
        key = normalise_council_name(stripped)
        if key in self.by_key:
            return self.by_key[key]
        raise UnknownCouncilError(value, self.closest_match(key))

    def closest_match(self, key: str) -> str | None:
        """Name of the council whose spelling is nearest to a normalised key, if any is close."""
        match = difflib.get_close_matches(key, list(self.by_key), n=1, cutoff=0.6)
        return self.display_names[self.by_key[match[0]]] if match else None


def _spellings(council: Council) -> Iterable[str]:
    yield council.name_en
    yield council.name_cy
    yield council.official_name_en
    yield council.official_name_cy
    yield from council.aliases


@cache
def council_resolver() -> CouncilResolver:
    """Build the resolver from config/councils.csv, refusing spellings shared by two councils."""
    by_key: dict[str, str] = {}
    for council in load_settings().councils:
        for spelling in _spellings(council):
            key = normalise_council_name(spelling)
            owner = by_key.setdefault(key, council.gss_code)
            if owner != council.gss_code:
                raise ValueError(
                    f'config/councils.csv: "{spelling}" is ambiguous ({owner} and '
                    f"{council.gss_code}); remove it from one council's aliases."
                )
    names = {c.gss_code: c.name_en for c in load_settings().councils}
    return CouncilResolver(by_key=by_key, display_names=names)


def resolve_council(value: str) -> str:
    """Return the GSS code for any accepted council name or code."""
    return council_resolver().resolve(value)
