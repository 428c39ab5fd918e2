"""Words and numbers as every report prints them: translation, content files, figures, lists.

Shared by the report pages (tasks/report.py) and their "since the earlier wave" sections
(tasks/change_report.py), so neither imports the other's page code.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pandas as pd
from babel.numbers import format_decimal

from maturity.rounding import decimals_within_level, round_number
from maturity.settings import TEMPLATES_DIR, load_settings, read_yaml_file
from maturity.translations import load_translations

BABEL_LOCALES = {"en": "en_GB", "cy": "cy_GB"}
NOT_AVAILABLE = "\u2013"  # an en dash, as typeset tables show a missing figure


def translate(language: str, text: str) -> str:
    """One string in the given language (English is the source)."""
    return load_translations(language).gettext(text)


@cache
def report_content(name: str, language: str) -> dict[str, Any]:
    """One content file in one language (report_templates/<name>.<language>.yaml)."""
    return read_yaml_file(TEMPLATES_DIR / f"{name}.{language}.yaml")


def format_number(value: float, language: str, decimals: int | None = None) -> str:
    """A number with fixed decimals in the language's convention, or a dash when missing.

    decimals: by default those the open data prints mean levels with, so a report never rounds a
    published figure a second time (1.749 is 1.75 there, and would wrongly become 1.8 here).
    """
    if decimals is None:
        decimals = load_settings().publication.level_decimals
    if pd.isna(value):
        return NOT_AVAILABLE
    return _format_rounded(round_number(float(value), decimals), language, decimals)


@cache
def _format_rounded(rounded: float, language: str, decimals: int) -> str:
    """Babel's formatting of a rounded figure, once per figure: reports print the same ones many times."""
    pattern = "0." + "0" * decimals if decimals else "0"
    return format_decimal(rounded, format=pattern, locale=BABEL_LOCALES[language])


def format_mean_level(value: float, language: str) -> str:
    """A published mean level as open data prints it: never rounded across its level's cut-off."""
    settings = load_settings()
    if pd.isna(value):
        return NOT_AVAILABLE
    cut_offs = (settings.maturity.level_2_from, settings.maturity.level_3_from)
    places = decimals_within_level(float(value), cut_offs, settings.publication.level_decimals)
    return format_number(value, language, places)


def as_noun(name: str) -> str:
    """A framework name as it reads inside a sentence (Open data -> open data)."""
    return name[:1].lower() + name[1:]


def join_names(names: list[str], language: str) -> str:
    """Names joined as a list in running text (a, b and c; a, b ac c before a vowel in Welsh)."""
    content = report_content("findings", language)
    if len(names) < 2:
        return "".join(names)
    last = names[-1]
    conjunction = content["list_and_before_vowel" if last[:1].lower() in "aeiouwyâêîôûŵŷ" else "list_and"]
    return ", ".join(names[:-1]) + conjunction + last


# Welsh words in our templates that softly mutate the name after them ("ar ddata agored", "i benderfyniadau").
SOFT_MUTATING_WORDS = frozenset({"ar", "i", "am", "o"})
# Soft mutation of a word's first letters, longest first; ch, ph, th and ff do not mutate.
SOFT_MUTATIONS = (
    ("ll", "l"),
    ("rh", "r"),
    ("p", "b"),
    ("t", "d"),
    ("c", "g"),
    ("b", "f"),
    ("d", "dd"),
    ("g", ""),
    ("m", "f"),
)
UNMUTATED = ("ch", "ph", "th", "ff")


def soft_mutation(text: str) -> str:
    """A Welsh word (and what follows it) with its first letters softly mutated: data -> ddata."""
    lower = text.lower()
    if lower.startswith(UNMUTATED):
        return text
    for before, after in SOFT_MUTATIONS:
        if lower.startswith(before):
            mutated = after + text[len(before) :]
            return mutated[:1].upper() + mutated[1:] if text[:1].isupper() else mutated
    return text


def mutate_after(template: str, placeholder: str, text: str) -> str:
    """The text as it reads where the template puts it: softly mutated after a Welsh word that calls for
    it. Only Welsh templates hold these words before a placeholder, so English text is left as it is."""
    match = re.search(r"(\S+)\s+\{" + re.escape(placeholder) + r"\}", template)
    if match is None or match.group(1).lower() not in SOFT_MUTATING_WORDS:
        return text
    return soft_mutation(text)
