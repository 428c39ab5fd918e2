"""Free-text comments: redaction of personal data, coding to barrier themes, representative quotes.

Rules live in config/comments.yaml and config/names.yaml. Everything runs offline: phone numbers are
found with the phonenumbers library (libphonenumber's metadata ships inside the package); emails,
web addresses, postcodes and National Insurance numbers with the configured patterns; personal
names with the gazetteer, titles and council names that are protected from redaction.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd
import phonenumbers

from maturity.settings import Council

# A word: letters, with inner hyphens or apostrophes ("Ellis-Roberts", "O'Brien") but not a
# possessive 's, which stays outside the name so "Gareth's" becomes "[name]'s".
_WORD = re.compile(r"[^\W\d_]+(?:[-'\u2019](?![sS]\b)[^\W\d_]+)*")


@dataclass(frozen=True)
class Span:
    """A stretch of text to replace, and what replaces it."""

    start: int
    end: int
    token: str


@dataclass(frozen=True)
class Redactor:
    """Compiled redaction rules."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    tokens: dict[str, str]
    phone_region: str
    phone_min_digits: int
    titles: frozenset[str]
    given_names: frozenset[str]
    surnames: frozenset[str]
    ambiguous: frozenset[str]
    protected: re.Pattern[str]


@dataclass(frozen=True)
class ThemeRules:
    """Compiled coding rules: patterns per theme, the fallback theme and quote selection settings."""

    patterns: dict[str, tuple[re.Pattern[str], ...]]
    # Per theme, all its patterns as one alternation: when that finds nothing, no pattern can match,
    # so most themes cost one search per comment rather than one per pattern.
    any_pattern: dict[str, re.Pattern[str]]
    fallback: str
    per_theme: int
    min_characters: int
    max_characters: int
    not_quotable: tuple[re.Pattern[str], ...]


@lru_cache(maxsize=1 << 16)
def fold_name(word: str) -> str:
    """Lower case without accents, so "Siân", "SIAN" and "sian" look up the same gazetteer entry."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def council_terms(councils: tuple[Council, ...]) -> list[str]:
    """Every way a council is named (English, Welsh, official names, aliases)."""
    terms = []
    for council in councils:
        terms += [council.name_en, council.name_cy, council.official_name_en, council.official_name_cy]
        terms += list(council.aliases)
    return terms


def build_redactor(rules: dict[str, Any], councils: tuple[Council, ...]) -> Redactor:
    """Compile the redaction section of config/comments.yaml and the name gazetteer."""
    redaction = rules["redaction"]
    names = rules["names"]
    protected = sorted({*council_terms(councils), *redaction["protected_terms"]}, key=len, reverse=True)
    return Redactor(
        patterns=tuple(
            (kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in redaction["patterns"].items()
        ),
        tokens=redaction["tokens"],
        phone_region=redaction["phone_region"],
        phone_min_digits=redaction["phone_min_digits"],
        titles=frozenset(fold_name(t) for t in redaction["titles"]),
        given_names=frozenset(fold_name(n) for part in names["given_names"].values() for n in part),
        surnames=frozenset(fold_name(n) for part in names["surnames"].values() for n in part),
        ambiguous=frozenset(fold_name(n) for n in names["ambiguous"]),
        protected=re.compile(
            r"(?<!\w)(?:" + "|".join(re.escape(t) for t in protected) + r")(?!\w)", re.IGNORECASE
        ),
    )


def find_pattern_spans(text: str, redactor: Redactor) -> list[Span]:
    """Emails, web addresses, NI numbers and postcodes found by the configured patterns."""
    spans = []
    for kind, pattern in redactor.patterns:
        for match in pattern.finditer(text):
            end = match.end()
            if kind == "url":
                end -= len(match.group()) - len(match.group().rstrip(".,;:!?)'\""))
            spans.append(Span(match.start(), end, redactor.tokens[kind]))
    return spans


def find_phone_spans(text: str, redactor: Redactor) -> list[Span]:
    """UK (and international) phone numbers, as libphonenumber recognises them."""
    if sum(ch.isdigit() for ch in text) < redactor.phone_min_digits:
        return []  # too few digits for any number: skip libphonenumber, the slowest step
    matcher = phonenumbers.PhoneNumberMatcher(
        text, redactor.phone_region, leniency=phonenumbers.Leniency.POSSIBLE
    )
    return [
        Span(match.start, match.end, redactor.tokens["phone"])
        for match in matcher
        if sum(ch.isdigit() for ch in match.raw_string) >= redactor.phone_min_digits
    ]


def _is_capitalised(word: str) -> bool:
    return word[:1].isupper()


@dataclass(frozen=True)
class _Word:
    """A word of a comment as the name rules see it."""

    text: str
    start: int
    end: int
    gap: str  # what stands between this word and the next, spaces removed
    blocked: bool  # inside a council name, a protected term or an earlier redaction


def _surname_status(word: str, redactor: Redactor) -> tuple[bool, bool]:
    """Whether a word is a listed surname, and whether it is one that is not also an ordinary word.

    Double-barrelled names count when every part is capitalised ("Ellis-Roberts", not "Price-led").
    """
    parts = re.split(r"[-'\u2019]", word)
    if len(parts) > 1 and not all(_is_capitalised(p) for p in parts):
        return False, False
    folded = [fold_name(p) for p in parts]
    listed = [f for f in folded if f in redactor.surnames]
    return bool(listed), any(f not in redactor.ambiguous for f in listed)


def _is_initial(word: _Word) -> bool:
    """A capital letter standing for a given name: "G. Jones", or "G Jones" (but not "A" or "I")."""
    return len(word.text) == 1 and word.text.isupper() and (word.gap == "." or word.text not in "AI")


def _next_word(words: list[_Word], i: int, allow_full_stop: bool) -> _Word | None:
    """The word straight after word i (only spaces between, or a full stop if allowed), if usable."""
    if i + 1 >= len(words) or words[i + 1].blocked:
        return None
    return words[i + 1] if words[i].gap == "" or (allow_full_stop and words[i].gap == ".") else None


def _names_after_title(words: list[_Word], i: int, following: _Word | None) -> set[int]:
    """Up to two capitalised words after the title at i are a name, whatever they are ("Cllr Smithson")."""
    found, j, after = set(), i, following
    while after is not None and _is_capitalised(after.text) and j < i + 2:
        j += 1
        found.add(j)
        after = _next_word(words, j, allow_full_stop=_is_initial(after))
    return found


def _name_positions(words: list[_Word], redactor: Redactor) -> set[int]:
    """Indices of words that are (part of) a personal name."""
    found: set[int] = set()
    for i, word in enumerate(words):
        if word.blocked:
            continue
        key = fold_name(word.text)
        capital = _is_capitalised(word.text)
        given = key in redactor.given_names
        if not (capital or given):
            continue  # every rule below needs a capital letter or a listed given name
        title = capital and key in redactor.titles
        following = _next_word(words, i, allow_full_stop=title or _is_initial(word))
        clear = key not in redactor.ambiguous
        next_surname, next_clear = _surname_status(following.text, redactor) if following else (False, False)
        next_capital = following is not None and _is_capitalised(following.text)
        if title:
            found.update(_names_after_title(words, i, following))
        elif (
            given
            and next_surname
            and ((capital and next_capital) or (not capital and not next_capital and clear and next_clear))
        ):
            found.update({i, i + 1})
        elif capital and given and clear:
            found.add(i)
            if next_capital and fold_name(following.text) not in redactor.titles:
                found.add(i + 1)
        elif _is_initial(word) and next_surname and next_clear:
            found.update({i, i + 1})
        elif capital and all(_surname_status(word.text, redactor)):
            found.add(i)
    return found


def find_name_spans(text: str, redactor: Redactor, taken: list[Span]) -> list[Span]:
    """Personal names from the gazetteer and after titles, never inside a council name or found span."""
    blocked = [(m.start(), m.end()) for m in redactor.protected.finditer(text)]
    blocked += [(s.start, s.end) for s in taken]
    matches = list(_WORD.finditer(text))
    words = []
    for k, match in enumerate(matches):
        gap = text[match.end() : matches[k + 1].start()] if k + 1 < len(matches) else "|"
        words.append(
            _Word(
                text=match.group(),
                start=match.start(),
                end=match.end(),
                gap="".join(gap.split()),
                blocked=any(start < match.end() and match.start() < end for start, end in blocked),
            )
        )
    positions = sorted(_name_positions(words, redactor))
    return [Span(words[i].start, words[i].end, redactor.tokens["name"]) for i in positions]


def merge_spans(spans: list[Span], text: str, join_token: str | None = None) -> list[Span]:
    """Drop spans overlapping an earlier one; join `join_token` spans split only by spaces or an
    initial's full stop, so "Gareth A. Jones" becomes one token rather than three."""
    kept: list[Span] = []
    for span in spans:
        if any(span.start < k.end and k.start < span.end for k in kept):
            continue
        kept.append(span)
    kept.sort(key=lambda s: s.start)
    joined: list[Span] = []
    for span in kept:
        previous = joined[-1] if joined else None
        if previous and span.token == previous.token == join_token:
            between = "".join(text[previous.end : span.start].split())
            initial = re.search(r"(?:^|\W)[A-Z]$", text[: previous.end])
            if between == "" or (between == "." and initial):
                joined[-1] = Span(previous.start, span.end, span.token)
                continue
        joined.append(span)
    return joined


def redact_text(text: str, redactor: Redactor) -> tuple[str, int]:
    """The comment with personal data replaced by tokens, and how many replacements were made."""
    spans = find_pattern_spans(text, redactor)
    spans = merge_spans(spans + find_phone_spans(text, redactor), text)
    spans = merge_spans(spans + find_name_spans(text, redactor, spans), text, redactor.tokens["name"])
    out, cursor = [], 0
    for span in spans:
        out += [text[cursor : span.start], span.token]
        cursor = span.end
    out.append(text[cursor:])
    return "".join(out), len(spans)


def build_theme_rules(rules: dict[str, Any]) -> ThemeRules:
    """Compile the themes and quotes sections of config/comments.yaml."""
    quotes = rules["quotes"]
    return ThemeRules(
        patterns={
            theme["id"]: tuple(re.compile(p, re.IGNORECASE) for p in theme["patterns"])
            for theme in rules["themes"]
        },
        any_pattern={
            theme["id"]: re.compile("|".join(f"(?:{p})" for p in theme["patterns"]), re.IGNORECASE)
            for theme in rules["themes"]
        },
        fallback=rules["fallback_theme"]["id"],
        per_theme=quotes["per_theme"],
        min_characters=quotes["min_characters"],
        max_characters=quotes["max_characters"],
        not_quotable=tuple(re.compile(p, re.IGNORECASE) for p in quotes["not_quotable"]),
    )


def match_themes(text: str, rules: ThemeRules) -> dict[str, int]:
    """Themes a comment is coded to, each with the number of its patterns that matched."""
    coded = {
        theme: sum(bool(p.search(text)) for p in patterns)
        for theme, patterns in rules.patterns.items()
        if rules.any_pattern[theme].search(text)
    }
    return coded or {rules.fallback: 0}


def is_quotable(text: str, rules: ThemeRules) -> bool:
    """Long enough to say something, short enough to quote whole, and not an empty remark."""
    stripped = text.strip()
    return rules.min_characters <= len(stripped) <= rules.max_characters and not any(
        p.search(stripped) for p in rules.not_quotable
    )


CODED_COLUMNS = [
    "gss_code",
    "response_id",
    "tool_id",
    "theme",
    "comment_redacted",
    "theme_hits",
    "themes_coded",
    "redactions",
]


def code_texts(texts: list[str], redactor: Redactor, rules: ThemeRules) -> pd.DataFrame:
    """One row per distinct text and theme: the redacted text, the theme's pattern hits, redactions."""
    rows = []
    for text in texts:
        redacted, redactions = redact_text(text, redactor)
        themes = match_themes(redacted, rules)
        for theme, hits in themes.items():
            rows.append((text, theme, redacted, hits, len(themes), redactions))
    return pd.DataFrame(
        rows, columns=["comment", "theme", "comment_redacted", "theme_hits", "themes_coded", "redactions"]
    )


def code_comments(comments: pd.DataFrame, redactor: Redactor, rules: ThemeRules) -> pd.DataFrame:
    """One row per comment and theme: the redacted text, the theme's pattern hits, redaction count."""
    if comments.empty:
        return pd.DataFrame(columns=CODED_COLUMNS)
    # Redaction is the costly step and exports repeat texts ("No comment"), so each text is done once.
    coded = code_texts(list(comments["comment"].unique()), redactor, rules)
    rows = comments[["gss_code", "response_id", "tool_id", "comment"]].merge(coded, on="comment", how="left")
    return rows[CODED_COLUMNS].astype({"theme_hits": "int64", "themes_coded": "int64", "redactions": "int64"})


def select_quotes(coded: pd.DataFrame, rules: ThemeRules) -> pd.Series:
    """Rank of each comment among its council and theme's representative quotes (missing if not chosen).

    Representative: quotable comments that match the most of the theme's patterns, coded to the fewest
    other themes, with the fewest redactions; identical texts are quoted once. Ties are broken by the
    pseudonymised response id, so the choice is the same on every run.
    """
    texts = coded["comment_redacted"]
    verdicts = {text: is_quotable(text, rules) for text in texts.unique()}
    quotable = coded.loc[texts.map(verdicts).astype(bool)]
    ordered = quotable.sort_values(
        ["gss_code", "theme", "theme_hits", "themes_coded", "redactions", "response_id"],
        ascending=[True, True, False, True, True, True],
        kind="stable",
    ).drop_duplicates(["gss_code", "theme", "comment_redacted"])
    rank = ordered.groupby(["gss_code", "theme"]).cumcount() + 1
    chosen = rank[rank <= rules.per_theme]
    return chosen.reindex(coded.index).astype("Int8")
