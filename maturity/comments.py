"""Free-text comments: redaction of personal data, coding to barrier themes, representative quotes.

Rules live in config/comments.yaml, config/names.yaml and config/ordinary_words.yaml. Everything runs
offline: phone numbers are found with the phonenumbers library (libphonenumber's metadata ships inside
the package); emails (also spelled out), web addresses, postcodes, National Insurance numbers, dates of
birth and street addresses with the configured patterns; personal names with the gazetteer, titles in
any case, and capitalised words that are not ordinary English words (the english-words package's
dictionaries) or Welsh words (the configured list, with mutations), and council names and protected
terms that are never redacted.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

import pandas as pd
import phonenumbers

from maturity.config_models import CommentRules, Roles, SpelledDigits
from maturity.settings import Council, load_ordinary_words
from maturity.textcheck import input_limits, load_checked_yaml

# A word: letters, with inner hyphens or apostrophes ("Ellis-Roberts", "O'Brien") but not a
# possessive 's, which stays outside the name so "Gareth's" becomes "[name]'s".
# Letters typed for digits beside a digit, as phone numbers sometimes are: O for 0, l or I for 1.
# A run is tried from its first letter only: from every letter, "ooo…" took the square of its length.
_LOOKALIKES_BY_A_DIGIT = re.compile(r"(?<=\d)[OolI]+|(?<![OolI])[OolI]++(?=\d)")
_LOOKALIKE_DIGITS = str.maketrans("OolI", "0011")
# Separators libphonenumber does not know: _ * | \ and dots or bullets between digits (a dot or bullet
# with a space either side too: "07700 ▪ 900 ▪ 123"), and a comma after a UK area code ("01745,812345"; a
# comma elsewhere between digits is a thousands separator).
_DOTS = "\u00b7\u2022\u2027\u2219\u25aa\u25cf"
# How far before a phone number another may end, with only a space between ("+44 (0) 1745 812 345" is 20).
_PHONE_REACH = 24
# The most digit groups one phone number is written in ("+44 (0) 1745 812 345" has five).
_MOST_GROUPS_IN_A_NUMBER = 6
_DIGIT_GROUP = re.compile(r"\+?\d+|\(0\)")
# A UK mobile's digits after the 0 (07700 900123 is reserved for drama, so never "valid", but is one).
_MOBILE_DIGITS = 10
# Groups of two digits or more (or "(0)"), from a 0 or a "+", with spaces, dots or dashes between.
_DIGIT_RUN = re.compile(r"(?<![\w+])(?:\+\d{2,3}|0\d+)(?:[ .\-]{1,3}(?:\(0\)|\d{2,}))+")
_DIGIT_SEPARATORS = re.compile(
    rf"(?<=\d)[_*|\\{_DOTS}](?=\d)|(?<=\d\d )[{_DOTS}](?= \d\d)|(?<=\b0\d{{3}}),(?=\d)|(?<=\b0\d{{4}}),(?=\d)"
)
_WORD = re.compile(r"[^\W\d_]+(?:[-'\u2019](?![sS]\b)[^\W\d_]+)*")


# In the study folder: the hashes of the candidate quotes an auditor has approved for final reports.
QUOTES_APPROVED_FILE = "quotes_approved.yaml"
QUOTE_HASH_CHARS = 16


@dataclass(frozen=True)
class Span:
    """A stretch of text to replace, and what replaces it."""

    start: int
    end: int
    token: str
    kind: str = ""  # "role" for a post, which themes are still coded with


@dataclass(frozen=True)
class Redactor:
    """Compiled redaction rules."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    tokens: dict[str, str]
    phone_region: str
    phone_min_digits: int
    titles: frozenset[str]  # every title, folded
    titles_capitalised: frozenset[str]  # the titles only with a capital ("Gynghorydd")
    surname_not_before: frozenset[str]  # "correlation": a lower-case surname before it is a method's name
    given_names: frozenset[str]
    surnames: frozenset[str]
    ambiguous: frozenset[str]
    protected: re.Pattern[str]
    # Phone numbers in words: a run of number words and figures, and the digits each word stands for.
    spelled_run: re.Pattern[str]
    digits_of_word: dict[str, int]  # "seven": 1, "hundred": 2, "double": 1
    repeats: frozenset[str]  # words that stand for no digit of their own ("double")
    leading: frozenset[str]  # words for the 0 a UK number starts with ("oh", "dim")
    leading_when_followed: frozenset[str]  # also a 0 before two single digits ("O seven seven", "ddim saith")
    count_after_figures_below: int  # "0900-1700 five days": fewer digits in words after figures are a count
    # Posts one person holds ("the Chief Executive", "Head of Digital"); its group "role" is the post.
    role: re.Pattern[str]
    role_tail: re.Pattern[str]  # connectors, spaces, brackets and dashes at the end of a post cut short
    role_not_after: re.Pattern[str]  # "every", "an" just before a post: any holder of it
    role_starts: frozenset[str]  # lower-cased first words of every post and qualifier: where a post can start
    # Where a manager can start, and only after a determiner: a service or a capitalised word ("the IT").
    manager_starts: frozenset[str]
    # Matches (empty) where a determiner or a possessive is just before.
    role_after_determiner: re.Pattern[str]
    post_in_list: re.Pattern[str]  # ", HR Manager", " and Leader" after a post: the same determiner's
    assistant_of_post: re.Pattern[str]  # "'s PA" after a post
    post_after_a_body: re.Pattern[str]  # "the Conwy Leader", "the Plaid group leader"
    member_for_a_place: re.Pattern[str]  # "the ward member for Rhyl West"
    member_after_a_place: re.Pattern[str]  # "ward member" in "the Rhyl West ward member"
    place_before_a_member: re.Pattern[str]  # "Rhyl West " just before it
    bodies: frozenset[str]  # folded council names and parties: "the Conwy ward members" are a council's
    role_after_name: re.Pattern[str]  # ", Leader", " (Mayor)" straight after a name: its holder's post
    role_before_name: re.Pattern[str]  # "Leader, " straight before a name (and its title)
    ordinary: frozenset[str] = frozenset()  # folded English and Welsh words that are not names
    # What a word may be a Welsh mutation of: the Welsh ordinary words and the single words of council
    # names and protected terms, folded; not English words ("Noor" is no mutation of "door").
    radicals: frozenset[str] = frozenset()
    # Folded words that keep a capital when a word in capitals is re-cased: titles, one-word posts, the
    # words of council names and protected terms, and `redaction.capitalised_in_capitals`.
    capitalised_in_capitals: frozenset[str] = frozenset()
    shouted_share: float = 1.0  # the share of words in capitals that makes a comment shouted
    welsh_endings: bool = False  # whether verb and plural endings ("-odd", "-ion") make a Welsh word
    # The same rules for a comment that reads as Welsh: mutated forms of English words count ("Gontract",
    # "Bortal"), and the Welsh endings; in English, "Noor" is no mutation of "door", nor "Todd" Welsh.
    in_welsh: Redactor | None = None
    welsh_words: frozenset[str] = frozenset()  # config/comments.yaml: language, for reads_as_welsh
    welsh_share_at_least: float = 1.0
    not_name_words: frozenset[str] = frozenset()
    # Folded words that point at a person ("ask", "speak to", "gofynnwch i"), as tuples of words.
    person_cues: frozenset[tuple[str, ...]] = frozenset()
    team_acronyms: frozenset[str] = frozenset()  # folded: "ict" after a cue is a team, "gj" initials
    name_particles: frozenset[str] = frozenset()  # "van", "der", "de", "la", "ap" ... inside a name


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
    # The report section each barrier theme's quotes go under (None: none), sections in config order.
    report_themes: dict[str, str | None]
    sections: tuple[str, ...]
    welsh_words: frozenset[str]
    welsh_share_at_least: float


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1 << 16)
def fold_name(word: str) -> str:
    """Lower case without accents, so "Siân", "SIAN" and "sian" look up the same gazetteer entry."""
    return _fold(word)


# Welsh initial mutations, mutated start -> radical starts ("Ngheredigion" -> "Ceredigion").
_MUTATIONS = (
    ("ngh", ("c",)),
    ("mh", ("p",)),
    ("nh", ("t",)),
    ("ng", ("g",)),
    ("ch", ("c",)),
    ("ph", ("p",)),
    ("th", ("t",)),
    ("dd", ("d",)),
    ("ff", ("b",)),
    ("f", ("b", "m")),
    ("g", ("c",)),
    ("b", ("p",)),
    ("d", ("t",)),
    ("l", ("ll",)),
    ("r", ("rh",)),
    ("m", ("b",)),
    ("n", ("d",)),
    ("h", ("",)),
    ("", ("g",)),
)
# Endings of Welsh verbs and plurals ("Cysylltwch", "Dywedodd", "Gwasanaethau"): not the end of a name.
# In an English comment, a Welsh ending counts only on a word this long ("Gwasanaethau",
# "Ymddiheuriadau"): names are shorter ("Marion", "Todd", "Gwydion").
_WELSH_ENDINGS_IN_ENGLISH_FROM = 8
_WELSH_ENDINGS = ("wch", "odd", "asant", "wyd", "iaeth", "iadau", "au", "ion")


def radical_forms(word: str) -> list[str]:
    """A folded Welsh word and the forms it may have before an initial mutation."""
    forms = [word]
    for start, radicals in _MUTATIONS:
        if word.startswith(start) and len(word) >= len(start) + 2:
            forms += [radical + word[len(start) :] for radical in radicals]
    return forms


# British spellings, by their endings, and the American ones the dictionaries hold: not "-tre" ("Petre"
# would read "peter").
_AMERICAN_SPELLINGS = (("is", "iz"), ("ys", "yz"), ("our", "or"), ("mme", "m"), ("ogue", "og"))
_BRITISH_SPELLING = re.compile(r"(?:is|ys)(?:ations?|e[sdr]?|ing|es)\Z|our(?:[a-z]{0,4})\Z|(?:mme|ogue)s?\Z")
_ENDINGS = (
    ("ies", ("y",)),
    ("ied", ("y",)),
    ("es", ("", "e")),
    ("s", ("",)),
    ("ed", ("", "e")),
    ("ing", ("", "e")),
    ("ly", ("",)),
    ("er", ("", "e")),
    ("ers", ("", "e")),
)


def english_inflections(word: str) -> list[str]:
    """A folded word and its likely stems (plural, past tense, -ing), in British spelling and in the
    American one the dictionaries hold ("organisations", "behaviour", "programme", "analysed", "emptied";
    not a doubled consonant undone, which lets "Henning" and "Bonner" read as "hen" and "bon")."""
    spellings = [word]
    if _BRITISH_SPELLING.search(word):
        spellings += [
            word.replace(british, american) for british, american in _AMERICAN_SPELLINGS if british in word
        ]
    forms = list(spellings)
    for spelling in spellings:
        for ending, replacements in _ENDINGS:
            if spelling.endswith(ending) and len(spelling) > len(ending) + 2:
                forms += [spelling[: -len(ending)] + r for r in replacements]
    return forms


@lru_cache(maxsize=1)
def ordinary_words() -> frozenset[str]:
    """Folded ordinary words: English written lowercase in the english-words dictionaries, plus the
    English and Welsh words in config/ordinary_words.yaml."""
    from english_words import get_english_words_set

    words = get_english_words_set(["web2", "gcide"], lower=False)
    # Lowercase ASCII words are their own folded form; only the few with accents need folding (and
    # bypassing fold_name's cache keeps 200,000 dictionary words from flushing it).
    english = {w if w.isascii() else _fold(w) for w in words if w.islower()}
    listed = load_ordinary_words()
    return frozenset(english | {fold_name(w) for w in (*listed.english, *listed.welsh)})


@lru_cache(maxsize=1)
def welsh_ordinary_words() -> frozenset[str]:
    """The folded Welsh words of config/ordinary_words.yaml, which a mutated word is looked up among."""
    return frozenset(fold_name(w) for w in load_ordinary_words().welsh)


def council_terms(councils: tuple[Council, ...]) -> list[str]:
    """Every way a council is named (English, Welsh, official names, aliases)."""
    terms = []
    for council in councils:
        terms += [council.name_en, council.name_cy, council.official_name_en, council.official_name_cy]
        terms += list(council.aliases)
    return terms


def build_redactor(rules: CommentRules, councils: tuple[Council, ...]) -> Redactor:
    """Compile the redaction section of config/comments.yaml and the name gazetteer."""
    redaction, names = rules.redaction, rules.names
    protected = sorted({*council_terms(councils), *redaction.protected_terms}, key=len, reverse=True)
    titles = (*redaction.titles, *redaction.titles_capitalised)
    given_names = frozenset(fold_name(n) for n in (*names.given_names.english, *names.given_names.welsh))
    surnames = frozenset(fold_name(n) for n in (*names.surnames.english, *names.surnames.welsh))
    words = {
        part for term in protected for word in _WORD.findall(term) for part in re.split(r"[-'\u2019]", word)
    }
    known = frozenset(fold_name(w) for w in words) - given_names - surnames
    redactor = Redactor(
        patterns=tuple(
            (kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in redaction.patterns.items()
        ),
        tokens=redaction.tokens,
        phone_region=redaction.phone_region,
        phone_min_digits=redaction.phone_min_digits,
        titles=frozenset(fold_name(t) for t in titles),
        titles_capitalised=frozenset(fold_name(t) for t in redaction.titles_capitalised),
        surname_not_before=frozenset(fold_name(w) for w in redaction.surname_not_before),
        given_names=given_names,
        surnames=surnames,
        ambiguous=frozenset(fold_name(n) for n in names.ambiguous),
        protected=re.compile(
            r"(?<!\w)(?:" + "|".join(re.escape(t) for t in protected) + r")(?!\w)", re.IGNORECASE
        ),
        ordinary=ordinary_words(),
        # A listed name inside a protected term ("Betsi Cadwaladr", a health board) is still a name alone.
        radicals=welsh_ordinary_words() | known,
        not_name_words=frozenset(fold_name(w) for w in redaction.not_name_words),
        person_cues=frozenset(tuple(fold_name(w) for w in cue.split()) for cue in redaction.person_cues),
        team_acronyms=frozenset(fold_name(w) for w in redaction.team_acronyms),
        shouted_share=redaction.shouted_share,
        name_particles=frozenset(fold_name(w) for w in redaction.name_particles),
        **compile_spelled_digits(redaction.spelled_digits),
        **compile_roles(redaction.roles, titles, redaction.name_particles, council_terms(councils)),
        capitalised_in_capitals=frozenset(
            fold_name(w) for w in (*titles, *redaction.roles.capitalised, *redaction.capitalised_in_capitals)
        )
        | (known - ordinary_words()),
        welsh_words=frozenset(fold_name(w) for w in rules.language.welsh_words),
        welsh_share_at_least=rules.language.welsh_share_at_least,
    )
    in_welsh = dataclasses.replace(redactor, radicals=redactor.ordinary | known, welsh_endings=True)
    return dataclasses.replace(redactor, in_welsh=in_welsh)


def compile_spelled_digits(spelled: SpelledDigits) -> dict[str, Any]:
    """The run pattern and digit counts that find phone numbers written in words (Redactor's fields)."""
    digits = {word.lower(): count for count, words in spelled.words.items() for word in words}
    digits |= {word.lower(): count for word, count in spelled.repeats.items()}
    words = sorted(digits, key=len, reverse=True)  # "oh" before "o", so the longer word is tried first
    token = r"(?:\d+|" + "|".join(re.escape(word) for word in words) + ")"
    # A run starts and ends at no word character, nor at an apostrophe inside a word ("o'r"), so a number
    # in quotes is one ('oh seven ...').
    starts, ends = r"(?<!\w)(?<!\w['\u2019])", r"(?!\w)(?!['\u2019]\w)"
    # Between two of them: spaces, commas, brackets ("(oh two nine)", "+44 (0)"), hyphens and dashes of
    # any kind, a slash but not between two figures (a date's: "01/04/2024"), full stops before a space
    # ("0.25, 0.50" stays a list of figures), or "and" after "hundred" ("nine hundred and one").
    between = r"(?:(?:[\s,()\u2010-\u2015\u2212-]|(?<!\d)/|/(?!\d)|\.+(?=\s))+|(?<=hundred)\s+and\s+)"
    return {
        "spelled_run": re.compile(rf"{starts}{token}(?:{between}{token})+{ends}", re.IGNORECASE),
        "digits_of_word": digits,
        "repeats": frozenset(word.lower() for word in spelled.repeats),
        "leading": frozenset(word.lower() for word in spelled.leading),
        "leading_when_followed": frozenset(word.lower() for word in spelled.leading_when_followed),
        "count_after_figures_below": spelled.count_after_figures_below,
    }


def _alternation(phrases: tuple[str, ...] | list[str]) -> str:
    """The phrases as one alternation, longest first, spaces or hyphens of any kind between their words,
    "&" for an "and" between two words, with or without spaces, and either apostrophe for one ("the
    Audit & Governance Committee chair", "Audit&Governance", "the audit committee\u2019s chair")."""
    return "|".join(sorted(map(_phrase, phrases), key=len, reverse=True))


_BETWEEN_WORDS = r"[\s\u2010-\u2015-]+"


def _phrase(phrase: str) -> str:
    """One phrase of `_alternation` as a pattern."""
    words = phrase.split()
    pattern, after_and = "", False
    for k, word in enumerate(words):
        if word == "and" and 0 < k < len(words) - 1:
            pattern += rf"(?:{_BETWEEN_WORDS}and{_BETWEEN_WORDS}|\s*&\s*)"
            after_and = True
            continue
        if k and not after_and:
            pattern += _BETWEEN_WORDS
        pattern += re.escape(word).replace("'", "['\u2019]")
        after_and = False
    return pattern


# A capitalised word (Welsh capitals included), its possessive "'s" left outside, or a dotted acronym.
_CAPITALISED = r"(?-i:[A-ZÀ-ÖØ-ÞŴŶ](?:\.[A-Z])+\.?|[A-ZÀ-ÖØ-ÞŴŶ][\w&-]*(?:['\u2019](?![sS]\b)\w+)*)"
# The words a post is made of, for finding where one can start: letters and figures, split at hyphens,
# full stops and apostrophes ("Head-of-ICT", "C.E.O.", "s151").
_POST_WORD = re.compile(r"[^\W_]+")
# How far before a post to look for a word that makes it any holder of the post ("every", "an").
_NOT_AFTER_REACH = 20
# How far after a determiner to look for "manager" before trying the words between: a search bound.
_MANAGER_REACH = 100
# How far before "ward member" to look for the place it names ("Pen-y-bont ar Ogwr Town "): a search bound.
_PLACE_REACH = 60
# How far before a name to look for its holder's post ("Deputy Leader, Cllr "): a search bound.
_BEFORE_A_NAME_REACH = 60


def _after_words(words: tuple[str, ...]) -> str:
    """Lookbehinds for a post just after one of the words: one to four spaces (a paragraph break is four:
    "\r\n\r\n"), or a space and an opening quote ("the 'Leader'"). A lookbehind has one width, so the
    words go in one per length (a few lookbehinds, not one per word and gap: each is tried at every post)."""
    gaps = [r"\s", r"\s[\s'\u2018\u201c\"]", r"\s{3}", r"\s{4}"]
    by_length: dict[int, list[str]] = {}
    for word in words:
        by_length.setdefault(len(word), []).append(re.escape(word))
    return "|".join(rf"(?<=(?<!\w)(?:{'|'.join(same)}){gap})" for same in by_length.values() for gap in gaps)


# After a possessive, singular or plural ("Conwy's Leader", "the councils' Chair").
_AFTER_POSSESSIVE = r"(?<='s\s)|(?<=\u2019s\s)|(?<=s'\s)|(?<=s\u2019\s)"
# Between a name and its holder's post ("Cllr [name], Leader", "[name] (Mayor)", "[name]: Chair"), or a
# line break (a signature: "Cllr [name]\r\nLeader").
_BESIDE_A_NAME = r"(?:\s*[,(\[:;/\u2010-\u2015\u2212-]\s*|[ \t]*\r?\n\s*)"
# A short bracket between a name and its post: a party or a ward ("Cllr [name] (Con), Leader").
_BRACKET_AFTER_A_NAME = r"(?:\s*[(\[][^()\[\]\n]{1,30}[)\]])?"


def compile_roles(
    roles: Roles, titles: tuple[str, ...], particles: tuple[str, ...], places: list[str]
) -> dict[str, Any]:
    """The pattern that finds a post one person holds, what to cut from a post cut short, and the words
    before a post that make it any holder of it (Redactor's fields). Titles and name particles end a post
    ("Cabinet Member for Finance and Cllr Smith", "Head of Digital Van der Berg"); a council's name after
    a one-word post makes it that council's ("the leader in Conwy")."""
    connectors, posts, posts_of = map(_alternation, (roles.connectors, roles.posts, roles.posts_of))
    qualifiers = (
        rf"(?:(?:{_alternation(roles.qualifiers)})\.?[\s\u2010-\u2015-]+){{0,{roles.most_qualifiers}}}"
    )
    acronyms = "|".join(rf"{re.escape(a)}|{re.escape('.'.join(a))}" for a in roles.acronyms)
    capitalised = _alternation([*roles.capitalised, *(word.upper() for word in roles.capitalised)])
    # A capitalised word of a post, in quotes or closing a bracket ("Head of 'Digital'", "(ICT)"), or a
    # number in brackets ("(Section 151)"); not a word that ends a post ("I" does, "I.T." does not), nor
    # a word of five capitals or more (a sentence in capitals: "THE HEAD OF ICT THINKS"), nor the start
    # of a second post ("Head of Finance and the Chief Executive" are two).
    not_in_post = rf"(?!(?:{_alternation([*roles.not_in_post, *titles, *particles])})(?!\w)(?!\.\w))"
    shouted = r"(?-i:(?![A-ZÀ-ÞŴŶ]{5,}(?!\w)))"
    not_a_post = rf"(?!{qualifiers}(?:{posts_of}|{posts}|(?-i:{acronyms}|{capitalised}))(?!\w))"
    word = (
        rf"['\u2018\u201c\"]?(?:{not_in_post}{shouted}{not_a_post}{_CAPITALISED}|\d+(?=\s*\)))"
        rf"['\u2019\u201d\")\]]?"
    )
    # Between the words of a post: spaces and connectors, a comma, a bracket, a dash, a slash or a colon
    # ("Head of Legal, HR and Democratic Services", "Head of Service: Digital", "Head of ICT/Digital").
    joined = rf"(?:(?:{connectors})\s+){{0,2}}"
    between = rf"(?:\s*[(\[\u2013\u2014/:-]\s*|\s*,\s+{joined}|\s+{joined})"
    most = roles.following_words - 1
    words_after = rf"(?:{between}{word}){{1,{most + 1}}}"
    services = _alternation(roles.services)
    service = rf"\s+(?:{services})(?:\s+(?:{services})){{0,{most}}}(?!\w)(?:{words_after})?"
    then = rf"(?:\s+(?:{_alternation(roles.continued_by)}){words_after}|\s*\(\s*{_CAPITALISED}\s*\))?"
    # One word after a determiner: capitalised ("the Leader"), or in lower case where it is not an
    # ordinary noun ("the leader said"; not "the leader board", "the leader in open data", "follow the
    # leader", nor "as leader for the project"), unless a council's name follows ("the leader in Conwy").
    place = rf"\s+(?:{_alternation(places)})(?!\w)"
    not_before = rf"\s+(?:{_alternation(roles.lower_case_not_before)})(?!\w)(?!{place})"
    # A lookbehind has one width: one space between the words.
    spaced = (r"\s".join(map(re.escape, phrase.split())) for phrase in roles.lower_case_not_after)
    not_after = "".join(rf"(?<!(?<!\w){phrase}\s)" for phrase in spaced)
    # Not a scheme's name ("the LEADER programme", "our Leader project").
    scheme = rf"(?!\s+(?:{_alternation(roles.one_word_not_before)})(?!\w))"
    lower_case = rf"(?:{_alternation(roles.lower_case)})(?!{not_before}){scheme}"
    plain_determiners = tuple(word for word in roles.determiners if word not in roles.speaking_as)
    # A manager named by the services managed, capitalised or listed ("the Revenues and Benefits Manager",
    # "our ICT/Digital Manager", "the data manager").
    managed_word = rf"(?:(?:{services})(?!\w)|{not_in_post}{_CAPITALISED})"
    software = rf"(?!\s+(?:{_alternation(roles.managing_not_before)})(?!\w))"  # "the Data Manager app"
    managing = rf"(?:{_alternation(roles.managing)}){software}"
    # First a glance ahead for "manager" in the same sentence, which most words after "the" fail at once.
    managed = (
        rf"(?=[^.;!?\n]{{0,{_MANAGER_REACH}}}?(?<!\w){managing}(?!\w))"
        rf"{managed_word}(?:(?:\s+(?:and|&)\s+|\s*/\s*|\s+){managed_word}){{0,{most}}}\s+{managing}"
    )
    after_determiner = rf"{_after_words(roles.determiners)}|{_AFTER_POSSESSIVE}"
    sections = (
        rf"(?:{_alternation(roles.posts_after_determiner)})(?!\s+(?:of|o)(?!\w))"  # not "151 of the Act"
    )
    one_word = (
        rf"(?:{after_determiner}){qualifiers}(?:(?-i:{capitalised}){scheme}|{managed}|{sections})"
        rf"|(?:{_after_words(plain_determiners)}|{_AFTER_POSSESSIVE}){qualifiers}{not_after}(?-i:{lower_case})"
    )
    # Posts named by what follows come first, so "Chair of the Council Audit Committee" is one post.
    # Each part of the pattern is written once (the posts in full share one `then`): it was 67 kB and
    # took 0.2 s to build, in every run's scoring.
    post = (
        rf"{qualifiers}(?:{posts_of})(?:{words_after}|{service})"
        rf"|(?:{qualifiers}(?:{posts}|(?-i:{acronyms}))|{one_word}){then}"
    )
    speaking_as = "".join(rf"(?<!\b{re.escape(word)}\s)" for word in roles.speaking_as)
    phrases = (
        *roles.posts,
        *roles.posts_of,
        *roles.qualifiers,
        *roles.acronyms,
        *roles.capitalised,
        *roles.posts_after_determiner,
    )
    return {
        # The first word of each, and an acronym's first letter ("C.E.O.").
        "role_starts": frozenset(_POST_WORD.findall(phrase)[0].lower() for phrase in phrases)
        | {acronym[0].lower() for acronym in roles.acronyms},
        "manager_starts": frozenset(_POST_WORD.findall(phrase)[0].lower() for phrase in roles.services),
        "role_after_determiner": re.compile(after_determiner, re.IGNORECASE),
        # A manager or a one-word post listed after a post, the list's one determiner before both ("the
        # CEO and Finance Manager", "our Revenues Manager, HR Manager and Digital Manager", "the Chief
        # Executive and Leader").
        "post_in_list": re.compile(
            rf"(?:\s*,\s*(?:(?:and|&)\s+)?|\s+(?:and|&)\s+|\s*/\s*)"
            rf"(?P<role>{qualifiers}(?:{managed}|(?-i:{capitalised}){scheme}))(?!\w)",
            re.IGNORECASE,
        ),
        # A post's assistant, who is one person too ("the [role]'s PA").
        "assistant_of_post": re.compile(
            rf"['\u2019]s\s+(?:{_alternation(roles.assistants)})(?!\w)(?!\s+(?:of\s+state|general)(?!\w))",
            re.IGNORECASE,
        ),
        **_posts_of_bodies_and_places(
            roles, qualifiers, rf"(?:(?-i:{capitalised}){scheme}|{lower_case})", places
        ),
        # Not inside a word, nor after "non-" or "co-" (a board or a pair: "non-executive director").
        "role": re.compile(rf"(?<!\w)(?<!non-)(?<!co-)(?P<role>{post})(?!\w)", re.IGNORECASE),
        "role_tail": re.compile(
            rf"(?:\s+|[(\[\u2013\u2014/:,'\u2018\u201c\"-]|(?<!\w)(?:{connectors})(?!\w))*\Z", re.IGNORECASE
        ),
        **_beside_names(roles.capitalised, capitalised, qualifiers, titles),
        # "every monitoring officer", but not "As an S151 officer, I ..." (the respondent).
        "role_not_after": re.compile(
            rf"{speaking_as}(?<!\w)(?:{_alternation(roles.not_after)})\s+\Z", re.IGNORECASE
        ),
    }


def _posts_of_bodies_and_places(
    roles: Roles, qualifiers: str, one_word: str, places: list[str]
) -> dict[str, Any]:
    """A one-word post after a determiner and a council's or party's name ("the Conwy Leader", "the
    Plaid group leader"), and a member named by the ward or place they stand for ("the ward member for
    Rhyl West", "cynghorydd dros Ward Menai", "the Rhyl West ward member"), the place included: a ward
    has one to three members."""
    bodies = _alternation([*places, *roles.parties])
    determiners = _alternation(roles.determiners)
    # A place's word: capitalised, hyphenated parts in any case ("Betws-y-Coed", "Pen-y-bont"), perhaps
    # after "St." ("St. Asaph"); its words joined by spaces, hyphens or Welsh and English link words
    # ("Pen-y-bont ar Ogwr", "Rhyl West"). Not a word that ends a post, nor Wales itself.
    place_word = r"(?:(?-i:St)\.\s+)?(?-i:[A-ZÀ-ÖØ-ÞŴŶ][\w'\u2019]*)(?:-[\w'\u2019]+)*+"
    # Nor a determiner: in capitals, "RHYL WEST AND THE LEADER" is a place and a post.
    not_a_place = (
        rf"(?!(?:{_alternation([*roles.not_in_post, *roles.not_places, *roles.determiners])})(?!\w))"
    )
    link = r"(?:[\s-]+(?:and|&|a|ac|y|yr|ym|yn|ar|o)[\s-]+|\s+|-)"
    place = rf"{not_a_place}{place_word}(?:{link}{not_a_place}{place_word}){{0,3}}"
    # Not "a member for IT" (role_not_after is checked too: "each member for Rhyl West").
    return {
        "bodies": frozenset(fold_name(body) for body in (*places, *roles.parties)),
        "post_after_a_body": re.compile(
            rf"(?<!\w)(?:{determiners})\s+{qualifiers}(?:{bodies})(?:\s+(?:{bodies}))?(?:\s+group)?"
            rf"\s+(?P<role>{qualifiers}{one_word})(?!\w)",
            re.IGNORECASE,
        ),
        "member_for_a_place": re.compile(
            rf"(?<!\w)(?<!(?<!\w)a\s)(?P<role>{qualifiers}(?:{_alternation(roles.members_for)})\s+"
            rf"(?:the\s+)?{place})",
            re.IGNORECASE,
        ),
        # The member first, then the place in the few characters before it (a search from every capital
        # for a place followed by the member took 11 s on 250 characters of "A-A-A-…"), which must have a
        # determiner before it or a possessive ("Rhyl West's ward member"): checked where it is found.
        "member_after_a_place": re.compile(
            rf"(?<=\s)(?:{_alternation(roles.members_after_place)})(?!\w)", re.IGNORECASE
        ),
        "place_before_a_member": re.compile(
            rf"(?<![\w'\u2019-])(?!(?:{determiners})\s)(?P<place>{place})\s+\Z",
            re.IGNORECASE,
        ),
    }


def _beside_names(
    words: tuple[str, ...], capitalised: str, qualifiers: str, titles: tuple[str, ...]
) -> dict[str, re.Pattern[str]]:
    """A one-word post straight after a name, in any case ("Cllr [name], Leader", "Cyng. [name],
    arweinydd"), or straight before one, capitalised, where a sentence or line starts ("Leader, Cllr
    [name]", "Chair: Cllr [name]"): the name is redacted, so the post is all that says who it was.
    `words`: the one-word posts; `capitalised`: their alternation as written and in capitals."""
    title = rf"(?:(?:{_alternation(titles)})\.?\s+)?"
    return {
        "role_after_name": re.compile(
            rf"{_BRACKET_AFTER_A_NAME}{_BESIDE_A_NAME}(?P<role>{qualifiers}(?:{_alternation(words)}))(?!\w)",
            re.IGNORECASE,
        ),
        "role_before_name": re.compile(
            rf"(?:(?:(?<![^.,;:!?()\n])|(?<=[.,;:!?()\n]\s))(?P<role>{qualifiers}(?-i:{capitalised}))"
            rf"(?:{_BESIDE_A_NAME}|\s+)|(?<!\w)(?P<label>{qualifiers}(?-i:{capitalised}))\s*:\s*){title}\Z",
            re.IGNORECASE,
        ),
    }


def _may_start_a_post(text: str, word: re.Match[str], redactor: Redactor) -> bool:
    """Whether a post can start at the word: the first word of a listed one, or of a manager after a
    determiner ("the IT Manager", "our data manager"). Cheap checks first: most words start none."""
    lower = word.group().lower()
    if lower in redactor.role_starts:
        return True
    may_manage = lower in redactor.manager_starts or word.group()[0].isupper()
    return may_manage and redactor.role_after_determiner.match(text, word.start()) is not None


def find_role_spans(text: str, redactor: Redactor, taken: list[Span]) -> list[Span]:
    """Posts one person holds. A post ends before a council's name ("[role] of Conwy County Borough
    Council") or other personal data found already, and the search goes on from there, so a second post
    after the name is found too."""
    stops: list[int] | None = None  # where a post must stop, found once and only if there is a post
    spans: list[Span] = []
    position = 0
    # A post starts at one of its first words: trying the pattern only there is far cheaper than at
    # every character, and most comments hold few such words.
    for word in _POST_WORD.finditer(text):
        if word.start() < position or not _may_start_a_post(text, word, redactor):
            continue
        match = redactor.role.match(text, word.start())
        if match is None:
            continue
        start, end = match.span("role")
        position = end
        # "an acting chief executive-led review": the "an" is the review's, not the post's.
        modifier = text.startswith("-", end)
        if not modifier and _any_holder_before(text, start, redactor):
            continue  # "every monitoring officer", "an interim director"
        if stops is None:  # council names and personal data found already
            stops = sorted({m.start() for m in redactor.protected.finditer(text)} | {s.start for s in taken})
        stop = _first_stop_within(stops, start, end)
        if stop is not None:
            position = stop
            end = start + len(redactor.role_tail.sub("", text[start:position]))
        spans.append(
            Span(start, _before_an_unopened_bracket(text, start, end), redactor.tokens["role"], "role")
        )
        # A post cut short lists nothing; a listed post ends the list where a council's name or
        # personal data found already would fall inside it ("the CEO and Conwy Manager").
        for listed in _posts_listed_after(text, end, redactor) if stop is None else []:
            if bisect.bisect_left(stops, listed.start) < bisect.bisect_left(stops, listed.end):
                break  # a stop at or after its start, before its end
            spans.append(listed)
            position = listed.end
    return [
        _with_assistant(text, span, redactor)
        for span in spans + _posts_of_bodies_and_places_in(text, redactor)
    ]


def _any_holder_before(text: str, start: int, redactor: Redactor) -> bool:
    """Whether a word just before a post makes it any holder of it ("every", "an", "each")."""
    return redactor.role_not_after.search(text, max(0, start - _NOT_AFTER_REACH), start) is not None


def _first_stop_within(stops: list[int], start: int, end: int) -> int | None:
    """The first of the sorted stops after start and before end, if any."""
    at = bisect.bisect_right(stops, start)
    return stops[at] if at < len(stops) and stops[at] < end else None


def _posts_listed_after(text: str, end: int, redactor: Redactor) -> list[Span]:
    """Managers and one-word posts listed straight after a post, one determiner before them all ("our
    Revenues Manager, HR Manager and Digital Manager", "the Chief Executive and Leader")."""
    listed = []
    while (match := redactor.post_in_list.match(text, end)) is not None:
        listed.append(Span(*match.span("role"), redactor.tokens["role"], "role"))
        end = match.end("role")
    return listed


def _posts_of_bodies_and_places_in(text: str, redactor: Redactor) -> list[Span]:
    """Posts after a council's or party's name ("the Conwy Leader"), and members named by their ward
    ("the Rhyl West ward member"), unless any holder is meant ("each member for Rhyl West")."""
    found = [
        *redactor.post_after_a_body.finditer(text),
        *redactor.member_for_a_place.finditer(text),
    ]
    spans = [
        Span(*match.span("role"), redactor.tokens["role"], "role")
        for match in found
        if not _any_holder_before(text, match.start(), redactor)
    ]
    return spans + _members_after_places_in(text, redactor)


def _members_after_places_in(text: str, redactor: Redactor) -> list[Span]:
    """Members named by their ward with the place first ("the Rhyl West ward member")."""
    spans = []
    for member in redactor.member_after_a_place.finditer(text):
        window = max(member.start() - _PLACE_REACH, 0)
        place = redactor.place_before_a_member.search(text, window, member.start())
        if place is not None and _names_a_ward(place, redactor):
            spans.append(Span(place.start(), member.end(), redactor.tokens["role"], "role"))
    return spans


def _names_a_ward(match: re.Match[str], redactor: Redactor) -> bool:
    """Whether a place before "ward member" is a ward's, the member's own: after a determiner or with a
    possessive, with a word in no English dictionary, and no council or party ("the Denbighshire ward
    members", "the Labour ward member") nor a team ("the Data Team ward member pack", "the Finance ward
    member briefing")."""
    place = match.group("place")
    possessive = place.endswith(("'s", "\u2019s"))  # a place's word takes its "'s" ("Rhyl West's")
    place = place[:-2] if possessive else place
    owned = possessive or redactor.role_after_determiner.match(match.string, match.start())
    if _any_holder_before(match.string, match.start(), redactor):
        return False  # "each Rhyl West ward member"
    words = {fold_name(word) for word in _WORD.findall(place)}
    # A place has a word no English dictionary holds ("Rhyl West"; not "the Finance ward member briefing").
    named = bool(words - redactor.ordinary)
    return (
        bool(owned)
        and named
        and fold_name(place) not in redactor.bodies
        and not words & redactor.not_name_words
    )


def _with_assistant(text: str, span: Span, redactor: Redactor) -> Span:
    """A post's span with its assistant after it ("[role]'s PA" becomes "[role]")."""
    assistant = redactor.assistant_of_post.match(text, span.end)
    return span if assistant is None else Span(span.start, assistant.end(), span.token, span.kind)


def _before_an_unopened_bracket(text: str, start: int, end: int) -> int:
    """Where a post ends without a closing bracket it did not open: "(Leader of the Council)" keeps its
    ")", "Head of Service (ICT)" its whole "(ICT)"."""
    post = text[start:end]
    unopened = post.endswith(")") and post.count(")") > post.count("(")
    unopened |= post.endswith("]") and post.count("]") > post.count("[")
    return end - 1 if unopened else end


def find_posts_beside_names(text: str, redactor: Redactor, spans: list[Span]) -> list[Span]:
    """A one-word post straight after or before a name found ("Cllr [name], Leader, said", "[name]
    (Mayor)", "Leader, Cllr [name]"): the name is redacted, so the post is all that is left of who it was."""
    found = []
    for span in (span for span in spans if span.token == redactor.tokens["name"]):
        after = redactor.role_after_name.match(text, span.end)
        before = redactor.role_before_name.search(text, max(0, span.start - _BEFORE_A_NAME_REACH), span.start)
        if after:
            found.append(Span(*after.span("role"), redactor.tokens["role"], "role"))
        if before:  # "Leader, Cllr [name]", or a label: "and Chair: Cllr [name]"
            found.append(Span(*before.span(before.lastgroup), redactor.tokens["role"], "role"))
    return found


def find_pattern_spans(text: str, redactor: Redactor) -> list[Span]:
    """Emails, web addresses, NI numbers and postcodes found by the configured patterns."""
    spans = []
    for kind, pattern in redactor.patterns:
        for match in pattern.finditer(text):
            if "pii" in pattern.groupindex:  # only this group is personal data ("born [date of birth]")
                if match.group("pii") is None:
                    spans.append(Span(match.start(), match.end(), redactor.tokens[kind]))
                else:
                    spans.append(Span(match.start("pii"), match.end("pii"), redactor.tokens[kind]))
                continue
            end = match.end()
            if kind == "url":
                end -= len(match.group()) - len(match.group().rstrip(".,;:!?)'\""))
            spans.append(Span(match.start(), end, redactor.tokens[kind]))
    return spans


def find_phone_spans(text: str, redactor: Redactor) -> list[Span]:
    """UK (and international) phone numbers, as libphonenumber recognises them."""
    # "O7700 9OO123", "01745 8l2345", "07700_900_777": the same length, so the spans still fit the comment.
    digits = _LOOKALIKES_BY_A_DIGIT.sub(lambda run: run.group().translate(_LOOKALIKE_DIGITS), text)
    text = _DIGIT_SEPARATORS.sub(" ", digits)
    spans = _phone_numbers_in(text, redactor, 0)
    # Two numbers with only a space between ("01745 812345 07700 900123"): libphonenumber reads the run as
    # one candidate and keeps only its end, so the few characters before each number are read again, and
    # again before any number found there (a window each time: a rescan of the whole comment per number
    # took minutes on 10,000 characters of numbers).
    pending, seen = list(spans), {span.start for span in spans}
    while pending:
        span = pending.pop()
        window = max(span.start - _PHONE_REACH, 0)
        found = [
            new
            for new in _phone_numbers_in(text[window : span.start], redactor, window)
            if new.start not in seen
        ]
        seen.update(new.start for new in found)
        spans += found
        pending += found
    spans += _runs_of_numbers(text, spans, redactor)
    return merge_spans(sorted(spans, key=lambda span: span.start), text)


def _runs_of_numbers(text: str, found: list[Span], redactor: Redactor) -> list[Span]:
    """Runs of digit groups from a 0 or a "+", outside the numbers found, with digits enough for two
    numbers: several numbers written with only spaces between ("07700 900 123 07700 900 124"), which
    libphonenumber reads as one run and rejects whole."""
    if not found and sum(ch.isdigit() for ch in text) < 2 * redactor.phone_min_digits:
        return []
    blanked = list(text)
    for span in found:
        blanked[span.start : span.end] = " " * (span.end - span.start)
    return [
        Span(*run.span(), redactor.tokens["phone"])
        for run in _DIGIT_RUN.finditer("".join(blanked))
        if sum(ch.isdigit() for ch in run.group()) >= 2 * redactor.phone_min_digits
        and _splits_into_numbers(_DIGIT_GROUP.findall(run.group()), redactor)
    ]


def _splits_into_numbers(groups: list[str], redactor: Redactor) -> bool:
    """Whether a run's digit groups split into two phone numbers or more, each one libphonenumber takes
    as a valid number of the region, or a mobile's length from 07: so times, periods, cost centres and
    invoice numbers in a row are not a phone number ("0830-1700 0830-1630")."""
    ends = {0}  # group positions where a split into numbers can end
    for end in range(1, len(groups) + 1):
        starts = range(max(end - _MOST_GROUPS_IN_A_NUMBER, 0), end)  # a bound: a run may be long
        if any(start in ends and _is_a_number(" ".join(groups[start:end]), redactor) for start in starts):
            ends.add(end)
    return len(groups) in ends and len(groups) > 1


def _is_a_number(digits: str, redactor: Redactor) -> bool:
    try:
        number = phonenumbers.parse(digits, redactor.phone_region)
    except phonenumbers.NumberParseException:
        return False
    national = str(number.national_number)
    mobile = national.startswith("7") and len(national) == _MOBILE_DIGITS
    return phonenumbers.is_possible_number(number) and (mobile or phonenumbers.is_valid_number(number))


def _phone_numbers_in(text: str, redactor: Redactor, offset: int) -> list[Span]:
    """The numbers libphonenumber finds in the text, their spans moved by `offset`."""
    if sum(ch.isdigit() for ch in text) < redactor.phone_min_digits:
        return []  # too few digits for any number: skip libphonenumber, the slowest step
    matcher = phonenumbers.PhoneNumberMatcher(
        text, redactor.phone_region, leniency=phonenumbers.Leniency.POSSIBLE
    )
    return [
        Span(offset + match.start, offset + match.end, redactor.tokens["phone"])
        for match in matcher
        if sum(ch.isdigit() for ch in match.raw_string) >= redactor.phone_min_digits
    ]


def find_spelled_phone_spans(text: str, redactor: Redactor) -> list[Span]:
    """Phone numbers written in words, figures allowed among them: a run standing for enough digits from
    where a UK number starts (a 0 in words or figures: "oh", "dim", "07700", "double oh"), or all of it
    after "+" or "plus"."""
    spans = []
    for match in redactor.spelled_run.finditer(text):
        tokens = [token for token in _RUN_TOKEN.finditer(match.group()) if token.group().lower() != "and"]
        # Only the few characters before the run: searching the whole text before each run is quadratic.
        plus = _PLUS_BEFORE.search(text, max(0, match.start() - _PLUS_REACH), match.start())
        first = _number_start(tokens, redactor, after_plus=plus is not None)
        if first is None:
            continue  # nothing starts as a UK number does: scores, years or counts
        tokens = tokens[first:]
        if (
            _looks_like_a_list(match.group(), tokens, redactor)
            or not _has_spelled_digit(tokens, redactor)
            or _is_figures_then_a_count(tokens, redactor)
        ):
            continue
        if sum(_digits_of(token.group(), redactor) for token in tokens) >= redactor.phone_min_digits:
            begin = plus.start() if plus else match.start() + tokens[0].start()
            spans.append(Span(begin, match.end(), redactor.tokens["phone"]))
    return spans


# The words and figures of a run of number words; what splits it into groups; a "+" or "plus" just before
# it, looked for in so many characters.
_RUN_TOKEN = re.compile(r"\d+|[^\W\d_]+")
# Commas, slashes, full stops and dashes split a run into groups; hyphens (- \u2010 \u2011) do not.
_GROUP_BREAK = re.compile(r"[,/.\u2012-\u2015\u2212]")
_PLUS_BEFORE = re.compile(r"(?:\+\s*|\bplus\s+)\Z", re.IGNORECASE)
_PLUS_REACH = 20


def _digits_of(token: str, redactor: Redactor) -> int:
    return len(token) if token.isdigit() else redactor.digits_of_word[token.lower()]


def _starts_a_number(token: str, redactor: Redactor) -> bool:
    """A number goes on from its 0 with figures, a single digit or a "double": "oh seven", not "oh twenty"."""
    word = token.lower()
    return word.isdigit() or word in redactor.repeats or redactor.digits_of_word[word] == 1


def _is_one_digit_in_words(word: str, redactor: Redactor) -> bool:
    """A single digit in words, or a "double" before one (figures after "o" are a range: "o 1 2 3")."""
    return word in redactor.repeats or redactor.digits_of_word.get(word) == 1


def _number_start(tokens: list[re.Match[str]], redactor: Redactor, after_plus: bool) -> int | None:
    """Where a UK number can start in a run: after "+", at once if it starts with figures or one digit
    ("+44", "plus four four", not "plus twenty five"); otherwise at its first 0 in figures or words that
    goes on as a number does, with a "double" before it."""
    words = [token.group().lower() for token in tokens]
    if after_plus:
        return 0 if _starts_a_number(words[0], redactor) else None
    for i, word in enumerate(words):
        if word in redactor.leading_when_followed:  # "o", "ddim": a 0 only before two single digits
            following = words[i + 1 : i + 3]
            zero = len(following) == 2 and all(_is_one_digit_in_words(w, redactor) for w in following)
        else:
            zero = word.startswith("0") or word in redactor.leading
        if zero and (i + 1 == len(words) or _starts_a_number(words[i + 1], redactor)):
            return i - 1 if i and words[i - 1] in redactor.repeats else i
    return None


def _looks_like_a_list(run: str, tokens: list[re.Match[str]], redactor: Redactor) -> bool:
    """Groups of one digit each between commas or dashes ("nought, one, two, three"): a list, not a number."""
    groups = [_digits_of(tokens[0].group(), redactor)]
    for previous, token in pairwise(tokens):
        if _GROUP_BREAK.search(run, previous.end(), token.start()):
            groups.append(0)
        groups[-1] += _digits_of(token.group(), redactor)
    return len(groups) > 1 and min(groups) < 2


def _has_spelled_digit(tokens: list[re.Match[str]], redactor: Redactor) -> bool:
    """Whether a run has a number word, or a "double" before a figure: figures alone are libphonenumber's."""
    words = [token.group().lower() for token in tokens]
    return any(not word.isdigit() and word not in redactor.repeats for word in words) or any(
        word in redactor.repeats and after.isdigit() for word, after in pairwise(words)
    )


def _is_figures_then_a_count(tokens: list[re.Match[str]], redactor: Redactor) -> bool:
    """Figures with a few digits' worth of words after them and none among them ("0900-1700 five days",
    "01/04/2024 three officers"): the words count something, they are no part of a number."""
    words = [token.group() for token in tokens]
    figures = [i for i, word in enumerate(words) if word.isdigit()]
    if not figures or not all(word.isdigit() for word in words[: figures[-1]]):
        return False
    tail = sum(_digits_of(word, redactor) for word in words[figures[-1] + 1 :])
    return tail < redactor.count_after_figures_below


def _is_capitalised(word: str) -> bool:
    return word[:1].isupper()


def _is_caseless_letter(ch: str) -> bool:
    return ch.isalpha() and not (ch.isupper() or ch.islower())


def find_caseless_spans(text: str, redactor: Redactor) -> list[Span]:
    """Runs of letters in scripts without capitals, with their marks, each redacted as a name.

    The name rules rest on capitals and on English and Welsh dictionaries, so in such a script they cannot
    tell a name from a word: the run is removed whole ("ask 王伟", "speak to محمد علي" keep only "ask",
    "speak to"), which fails safe for a study written in English and Welsh.
    """
    if text.isascii():
        return []  # most comments: no letter of another script, and no character-by-character walk
    spans, start = [], None
    for position, ch in enumerate(text + " "):
        inside = _is_caseless_letter(ch) or (start is not None and unicodedata.category(ch).startswith("M"))
        if inside and start is None:
            start = position
        elif not inside and start is not None:
            spans.append(Span(start, position, redactor.tokens["name"]))
            start = None
    return spans


def is_ordinary(word: str, redactor: Redactor) -> bool:
    """Whether a word is an ordinary English or Welsh word, or part of a council name or protected term.

    Each part of a hyphenated or apostrophised word must be ordinary ("Mae'r" is; "Asante-Mensah" is not).
    """
    parts = [p for p in re.split(r"[-'\u2019]", fold_name(word)) if p]
    if len(parts) > 1 and fold_name(word) in redactor.ordinary:
        return True
    if len(parts) > 1 and len(parts[-1]) <= 2:  # Welsh "'r", "'n", "'i", "'w" and English "'s", "'t"
        parts = parts[:-1]
    return all(_ordinary_part(p, redactor) for p in parts)


@lru_cache(maxsize=1 << 16)
def _ordinary_part_cached(
    part: str, ordinary: frozenset[str], radicals: frozenset[str], welsh_endings: bool
) -> bool:
    if len(part) <= 2 or any(form in ordinary for form in english_inflections(part)):
        return True
    if part.endswith(_WELSH_ENDINGS) and (welsh_endings or len(part) >= _WELSH_ENDINGS_IN_ENGLISH_FROM):
        return True
    return any(form in radicals for form in radical_forms(part))


def _ordinary_part(part: str, redactor: Redactor) -> bool:
    return _ordinary_part_cached(part, redactor.ordinary, redactor.radicals, redactor.welsh_endings)


@lru_cache(maxsize=1)
def _label_redactor() -> Redactor:
    from maturity.settings import load_comment_rules, load_settings

    return build_redactor(load_comment_rules(), load_settings().councils)


def is_plain_label(text: str) -> bool:
    """Whether a label from an input (a column name) may be shown in a message: every word in it short or
    an ordinary English or Welsh word, and none a listed name ("Department", "lvl_open_data" may;
    "Zbigniew Kowalczyk", "Comments for Gareth" may not)."""
    redactor = _label_redactor()
    names = redactor.given_names | redactor.surnames
    return all(
        (len(word) <= 3 or is_ordinary(word, redactor)) and fold_name(word) not in names
        for word in _WORD.findall(text)
    )


# A surname's prefix before a second capital ("McDonald", "MacDonald", "DeVries", "LeBlanc", "FitzGerald").
_NAME_PREFIX = re.compile(r"(?:Mc|Mac|De|Di|Da|Du|Le|La|Van|Von|Fitz)(?=[A-Z][a-z])")


# The most letters of a word in capitals that is read as an acronym ("GDPR"); longer, it may be a name.
_ACRONYM_MOST_LETTERS = 4


def _two_capitals(word: str) -> bool:
    return len(word) == 2 and word.isupper()


def _is_acronym(word: str) -> bool:
    """An acronym or product name: a part with two capitals or more, unless it is all capitals and longer
    than four letters (ICT, DPO, TGCh, SharePoint are acronyms; KOWALCZYK is not, nor is a double-barrelled
    name such as Okonkwo-Adeyemi, whose capitals are in different parts), or a surname prefix before a
    capitalised rest (McDonald, LeBlanc and DeVries are not; MacBook, whose rest is a word, and LaTeX are)."""
    return any(_is_acronym_part(part) for part in re.split(r"[-'\u2019]", word))


def _is_acronym_part(part: str) -> bool:
    if sum(ch.isupper() for ch in part) < 2 or (part.isupper() and len(part) > _ACRONYM_MOST_LETTERS):
        return False
    prefix = _NAME_PREFIX.match(part)
    if prefix is None:
        return True
    rest = part[prefix.end() :]
    return sum(ch.isupper() for ch in rest) > 1 or (
        prefix.group() == "Mac" and fold_name(rest) in ordinary_words()
    )


def _name_like(word: str, redactor: Redactor) -> bool:
    """A word that may be a name after a title: capitalised, a listed name, or not an ordinary word."""
    key = fold_name(word)
    return (
        _is_capitalised(word)
        or key in redactor.given_names
        or key in redactor.surnames
        or not is_ordinary(word, redactor)
    ) and key not in redactor.titles


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


def _names_after_title(words: list[_Word], i: int, following: _Word | None, redactor: Redactor) -> set[int]:
    """Up to two name-like words after the title at i are a name ("Cllr Smithson", "cllr smithson")."""
    found, j, after = set(), i, following
    while after is not None and _name_like(after.text, redactor) and j < i + 2:
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
        # In any case ("cllr", "cynghorydd", "MRS"), or only with its capital ("Gynghorydd").
        title = key in redactor.titles and (capital or key not in redactor.titles_capitalised)
        # "kowalczyk", "pritchard" in lower case; not "pearson correlation", "simpson's paradox".
        surname = not capital and key in redactor.surnames and not _names_a_method(words, i, redactor)
        if not (capital or given or title or surname):
            continue  # every rule below needs a capital letter, a listed name or a title
        following = _next_word(words, i, allow_full_stop=title or _is_initial(word))
        clear = key not in redactor.ambiguous
        next_surname, next_clear = _surname_status(following.text, redactor) if following else (False, False)
        next_capital = following is not None and _is_capitalised(following.text)
        if title:
            found.update(_names_after_title(words, i, following, redactor))
        elif (
            given
            and next_surname
            and ((capital and next_capital) or (not capital and not next_capital and clear and next_clear))
        ):
            found.update({i, i + 1})
        elif capital and given and clear:
            found.add(i)
            # Not a word of two capitals ("ANNA IN THE TEAM", "Gareth IT"): a surname has more letters.
            if (
                next_capital
                and not _two_capitals(following.text)
                and fold_name(following.text) not in redactor.titles
            ):
                found.add(i + 1)
        elif _is_initial(word) and next_surname and next_clear:
            found.update({i, i + 1})
        elif capital and all(_surname_status(word.text, redactor)):
            found.add(i)
        elif (given or surname) and not capital and clear and not is_ordinary(word.text, redactor):
            found.add(i)  # a listed name written lowercase ("ask gareth", "pritchard has it"), unless a word
        elif capital and not _is_acronym(word.text) and not is_ordinary(word.text, redactor):
            # A capitalised word in no dictionary: a name the gazetteer does not list ("Zbigniew
            # Kowalczyk"), with the capitalised word after it ("Priya Patel") unless that ends it.
            found.add(i)
            if (
                next_capital
                and not _is_acronym(following.text)
                and fold_name(following.text) not in redactor.titles | redactor.not_name_words
            ):
                found.add(i + 1)
    found |= _names_after_cues(words, redactor) | _names_with_particles(words, redactor)
    return found | _initials_before(words, found) | _given_names_before(words, found, redactor)


def _cue_before(words: list[_Word], i: int, redactor: Redactor) -> bool:
    """Whether the one or two words straight before word i (only spaces between) point at a person."""
    for length in (1, 2):
        cue = words[max(i - length, 0) : i]
        spaced = len(cue) == length and all(w.gap == "" and not w.blocked for w in cue)
        if spaced and tuple(fold_name(w.text) for w in cue) in redactor.person_cues:
            return True
    return False


def _name_after_cue(word: _Word, redactor: Redactor) -> bool:
    """After "ask", "speak to" ...: a listed name (capitalised, if it is also a word) or a word in no
    dictionary, in any case ("ask priya", "Ask Will", "gofynnwch i fethan"), or initials ("ask GJ"); not
    a team ("ask Finance", "ask ICT")."""
    key = fold_name(word.text)
    if not word.blocked and _are_initials(word.text, redactor):
        return True
    if word.blocked or _is_acronym(word.text) or key in redactor.titles | redactor.not_name_words:
        return False
    if key in redactor.given_names or key in redactor.surnames:
        return _is_capitalised(word.text) or key not in redactor.ambiguous
    return not is_ordinary(word.text, redactor)


# Words that join two people after one cue ("ask GJ or SP", "gofynnwch i GJ neu SP").
_JOINING_WORDS = frozenset({"or", "and", "neu", "a", "ac"})


def _are_initials(word: str, redactor: Redactor) -> bool:
    """Two or three capitals that are no word and no team's acronym: a person's initials ("GJ")."""
    key = fold_name(word)
    return (
        2 <= len(word) <= 3
        and word.isalpha()
        and word.isupper()
        and key not in redactor.ordinary
        and key not in redactor.team_acronyms
    )


def _names_after_cues(words: list[_Word], redactor: Redactor) -> set[int]:
    """Up to two name words straight after a person cue (redaction.person_cues)."""
    found: set[int] = set()
    cue_ends = {cue[-1] for cue in redactor.person_cues}  # most words follow none: one lookup rules them out
    for i, word in enumerate(words):
        if i == 0 or fold_name(words[i - 1].text) not in cue_ends:
            continue
        if _cue_before(words, i, redactor) and _name_after_cue(word, redactor):
            found.add(i)
            following = _next_word(words, i, allow_full_stop=False)
            if following is not None and _name_after_cue(following, redactor):
                found.add(i + 1)
            found |= _initials_listed_after(words, max(found), redactor)
    return found


def _initials_listed_after(words: list[_Word], i: int, redactor: Redactor) -> set[int]:
    """Initials joined to the name at i by "or" or "and" ("ask GJ or SP"): the same cue's."""
    joined = _next_word(words, i, allow_full_stop=False)
    if joined is None or fold_name(joined.text) not in _JOINING_WORDS:
        return set()
    after = _next_word(words, i + 1, allow_full_stop=False)
    return {i + 2} if after is not None and _are_initials(after.text, redactor) else set()


def _names_with_particles(words: list[_Word], redactor: Redactor) -> set[int]:
    """Names with particles: "Van der Berg", "de la Cruz", "ap Rhys", "De Souza".

    Particles (redaction.name_particles) then a capitalised word: two particles or more, or one before a
    listed name or a word in no dictionary (so "Van Drivers" and "La Liga" are not names).
    """
    found: set[int] = set()
    # Where each run of particles ends and how many blocked words come before each word, found once: a
    # comment of 3,000 particles took seconds when each word scanned its run again.
    particle = [fold_name(word.text) in redactor.name_particles and word.gap == "" for word in words]
    run_end = list(range(len(words) + 1))
    for k in range(len(words) - 1, -1, -1):
        if particle[k]:
            run_end[k] = run_end[k + 1]
    blocked_before = [0, *accumulate(word.blocked for word in words)]
    for i, word in enumerate(words):
        if i in found or word.blocked or fold_name(word.text) not in redactor.name_particles:
            continue  # a word inside a name found already: its own name would be part of that one
        j = run_end[i]
        if j == i or j >= len(words) or words[j].blocked or blocked_before[j] > blocked_before[i]:
            continue
        end, key = words[j], fold_name(words[j].text)
        if not _is_capitalised(end.text) or _is_acronym(end.text) or key in redactor.not_name_words:
            continue
        listed = key in redactor.given_names or key in redactor.surnames
        if j - i >= 2 or listed or not is_ordinary(end.text, redactor):
            found.update(range(i, j + 1))
    return found


def _initials_before(words: list[_Word], found: set[int]) -> set[int]:
    """The initial in front of a name found ("Z. Kowalczyk"), so it joins the name's token."""
    return {i - 1 for i in found if i > 0 and not words[i - 1].blocked and _is_initial(words[i - 1])}


def _names_a_method(words: list[_Word], i: int, redactor: Redactor) -> bool:
    """Whether word i, perhaps with a possessive, comes before a word that makes it a method's, a law's
    or a body's name ("pearson correlation", "moore's law", "the williams commission")."""
    after = i + 1
    if after < len(words) and words[i].gap in ("'", "\u2019") and words[after].text in ("s", "S"):
        after += 1  # the possessive's "s" is a word of its own
    elif words[i].gap != "":
        return False
    return after < len(words) and fold_name(words[after].text) in redactor.surname_not_before


def _given_names_before(words: list[_Word], found: set[int], redactor: Redactor) -> set[int]:
    """A capitalised given name straight before a name found, though it is also a word ("Mark
    [name]", "Rose [name]"): beside a surname it is the person's own."""
    return {
        i - 1
        for i in found
        if i > 0
        and i - 1 not in found
        and not words[i - 1].blocked
        and _is_capitalised(words[i - 1].text)
        and fold_name(words[i - 1].text) in redactor.given_names
        and fold_name(words[i].text) not in redactor.given_names  # "In May [name]": a month, a given name
        and _next_word(words, i - 1, allow_full_stop=False) is words[i]
    }


def find_name_spans(text: str, redactor: Redactor, taken: list[Span]) -> list[Span]:
    """Personal names from the gazetteer and after titles, never inside a council name or found span."""
    blocked = _merged_intervals(
        [(m.start(), m.end()) for m in redactor.protected.finditer(text)] + [(s.start, s.end) for s in taken]
    )
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
                blocked=bool(blocked) and _overlaps(blocked, match.start(), match.end()),
            )
        )
    positions = sorted(_name_positions(words, redactor))
    return [Span(words[i].start, words[i].end, redactor.tokens["name"]) for i in positions]


def _merged_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The intervals sorted and joined where they overlap, so one bisection finds any that meets a word."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _overlaps(merged: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) meets one of the merged intervals."""
    at = bisect.bisect_right(merged, (start, float("inf")))
    return (at > 0 and merged[at - 1][1] > start) or (at < len(merged) and merged[at][0] < end)


def merge_spans(spans: list[Span], text: str, join_token: str | None = None) -> list[Span]:
    """Drop spans overlapping an earlier one; join `join_token` spans split only by spaces or an
    initial's full stop, so "Gareth A. Jones" becomes one token rather than three."""
    kept: list[Span] = []  # sorted by start and never overlapping, so their ends are sorted too
    for span in spans:
        at = bisect.bisect_left(kept, span.start, key=lambda k: k.start)
        if (at and kept[at - 1].end > span.start) or (at < len(kept) and kept[at].start < span.end):
            continue
        kept.insert(at, span)
    joined: list[Span] = []
    for span in kept:
        previous = joined[-1] if joined else None
        if previous and span.token == previous.token == join_token:
            between = "".join(text[previous.end : span.start].split())
            if between == "" or (between == "." and _ends_in_an_initial(text, previous.end)):
                joined[-1] = Span(previous.start, span.end, span.token)
                continue
        joined.append(span)
    return joined


def _ends_in_an_initial(text: str, end: int) -> bool:
    """Whether the text before `end` ends in a capital letter standing alone ("Gareth A")."""
    return (
        end > 0
        and "A" <= text[end - 1] <= "Z"
        and (end == 1 or not (text[end - 2].isalnum() or text[end - 2] == "_"))
    )


# Invisible characters that are not Unicode "format" characters but show as nothing (a combining
# grapheme joiner, Hangul fillers, the braille blank), and full stops of other scripts, read as ".".
_INVISIBLE = dict.fromkeys(map(ord, "\u034f\u115f\u1160\u3164\uffa0\u2800"))
_FULL_STOPS = {ord("\u3002"): "."}


def normalise_comment(text: str) -> str:
    """NFKC, without invisible format characters: a full-width at sign or digit is the ASCII one, and a
    zero-width space or a right-to-left override can neither split an email from its pattern nor reach a
    report."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_FULL_STOPS)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


# Two capitals side by side: the one check a comment without a word in capitals pays.
_TWO_CAPITALS = re.compile(r"[^\W\d_a-z]{2}")
# A figure just before or after a word, a space or a separator between at most: a postcode's or an NI
# number's letters ("CF10 4 UW", "AB 12 34 56 C"), which their patterns match in capitals only.
_FIGURE_BEFORE = re.compile(r"\d[ ./-]?\Z")
_FIGURE_AFTER = re.compile(r"[ ./-]?\d")


def recase_capitals(text: str, redactor: Redactor) -> str:
    """The text with each word in capitals re-cased as the name rules expect, the same length, so spans
    found in it fit the comment: a listed name, a title, a one-word post, a place's word
    (`redaction.capitalised_in_capitals`) or a word in no dictionary capitalised ("ASK ANNA" as "ask
    Anna", "AS LEADER" as "as Leader", "THE RHYL WEST WARD MEMBER" as "the Rhyl West ward member",
    "KOWALCZYK" as "Kowalczyk"); another ordinary word in lower case; a word of four letters or fewer in
    no dictionary kept as an acronym ("GDPR", "ICT") unless a title or a particle is before it or a
    listed name after it ("CLLR NASH", "AP HUWS", "EVAN JONES"), or it is part of a hyphenated word or
    follows "O'" ("O'HARA"); letters beside a figure kept (a postcode's, "CF10 4 UW")."""
    if _TWO_CAPITALS.search(text) is None:
        return text
    words = list(_WORD.finditer(text))
    shouted = is_shouted(words, redactor)
    out, cursor = [], 0
    for k, word in enumerate(words):
        beside = (words[k - 1].group() if k else "", words[k + 1].group() if k + 1 < len(words) else "")
        out += [text[cursor : word.start()], _recased_word(word, beside, redactor, shouted)]
        cursor = word.end()
    out.append(text[cursor:])
    return "".join(out)


def is_shouted(words: list[re.Match[str]], redactor: Redactor) -> bool:
    """Whether most of a comment's words of two letters or more are in capitals
    (`redaction.shouted_share`): then every word of it is read capitalised but a listed acronym, as the
    comment's own case says nothing ("ASK ZARA LAMB OR KOFI BIRD")."""
    long_words = [word.group() for word in words if len(word.group()) >= 2]
    capitals = sum(word.isupper() for word in long_words)
    return bool(long_words) and capitals >= redactor.shouted_share * len(long_words)


def _recased_word(match: re.Match[str], beside: tuple[str, str], redactor: Redactor, shouted: bool) -> str:
    word = match.group()
    if not word.isupper() or sum(ch.isalpha() for ch in word) < 2:
        return word
    text = match.string
    before = max(match.start() - 2, 0)  # from the comment's start, every word in capitals took O(n)
    if _FIGURE_BEFORE.search(text, before, match.start()) or _FIGURE_AFTER.match(text, match.end()):
        return word
    parts = re.split(r"([-'\u2019])", word)
    keep_acronym = not (_beside_a_name(beside, redactor) or "-" in parts or len(parts[0]) == 1)
    recased = "".join(
        part.lower()
        if k > 0 and parts[k - 1] in "'\u2019" and len(part) <= 2
        else _recased_part(part, redactor, keep_acronym, shouted)
        for k, part in enumerate(parts)
    )
    return recased if len(recased) == len(word) else word  # "İ" lowers to two characters: keep it


def _beside_a_name(beside: tuple[str, str], redactor: Redactor) -> bool:
    """Whether a title or a particle comes before a word, or a listed name after it: "CLLR NASH", "AP
    HUWS", "EVAN JONES" are names, not acronyms."""
    before, after = (fold_name(word) for word in beside)
    return (
        before in redactor.titles
        or before in redactor.name_particles
        or after in redactor.given_names
        or after in redactor.surnames
    )


def _recased_part(part: str, redactor: Redactor, keep_acronym: bool, shouted: bool) -> str:
    key = fold_name(part)
    if shouted:  # every word capitalised but a listed acronym and a word of two letters
        if key in redactor.capitalised_in_capitals:
            return part.capitalize()
        if key in redactor.team_acronyms or (len(part) == 2 and _ordinary_part(key, redactor)):
            return part.lower() if len(part) == 2 else part
        return part.capitalize()
    if len(part) <= 1 or key in redactor.given_names or key in redactor.surnames:
        return part.capitalize()
    if key in redactor.capitalised_in_capitals:
        return part.capitalize()
    if len(part) == 2:
        return part.lower() if _ordinary_part(key, redactor) else part
    if _ordinary_part(key, redactor):
        return part.lower()
    return part if keep_acronym and len(part) <= _ACRONYM_MOST_LETTERS else part.capitalize()


def find_redaction_spans(text: str, redactor: Redactor) -> tuple[str, list[Span]]:
    """The comment (normalised) and the spans of personal data in it, in order: found in the comment as
    written and, if it has words in capitals, again with those re-cased, and the two joined, so a name
    in capitals goes as it would in any case and nothing the first reading finds is lost."""
    text = normalise_comment(text)
    if redactor.in_welsh is not None and reads_as_welsh(text, redactor):
        redactor = redactor.in_welsh
    # Phone numbers are found once: re-casing changes letters, not figures, and the number words are
    # read in any case (libphonenumber is the slowest step).
    phones = find_phone_spans(text, redactor) + find_spelled_phone_spans(text, redactor)
    spans = _spans_in(text, redactor, phones)
    cased = recase_capitals(text, redactor)
    if cased != text:
        second = _spans_in(cased, redactor, phones)
        spans = merge_spans(union_spans(spans, second), text, redactor.tokens["name"])
    return text, spans


def _spans_in(text: str, redactor: Redactor, phones: list[Span]) -> list[Span]:
    """The spans of one reading of a comment, its phone numbers found already."""
    found = find_pattern_spans(text, redactor) + phones
    spans = merge_spans(found + find_role_spans(text, redactor, found), text)
    spans = merge_spans(spans + find_caseless_spans(text, redactor), text, redactor.tokens["name"])
    spans = merge_spans(spans + find_name_spans(text, redactor, spans), text, redactor.tokens["name"])
    return merge_spans(spans + find_posts_beside_names(text, redactor, spans), text)


def union_spans(first: list[Span], second: list[Span]) -> list[Span]:
    """Every character either list covers, covered once: overlapping spans become one, with the token of
    the longer ("[role]" over a "[name]" inside it)."""
    joined: list[Span] = []
    for span in sorted([*first, *second], key=lambda span: (span.start, -span.end)):
        if joined and span.start < joined[-1].end:
            kept = joined[-1]
            longer = kept if kept.end - kept.start >= span.end - span.start else span
            joined[-1] = Span(kept.start, max(kept.end, span.end), longer.token, longer.kind)
        else:
            joined.append(span)
    return joined


def reads_as_welsh(text: str, redactor: Redactor) -> bool:
    """Whether the comment reads as Welsh, as a quote's language is decided (detect_language), for Welsh
    mutations and endings to be read in it."""
    return _is_welsh(text, redactor.welsh_words, redactor.welsh_share_at_least)


def _is_welsh(text: str, welsh_words: frozenset[str], share_at_least: float) -> bool:
    """Whether at least that share of the text's words are common Welsh words (config/comments.yaml:
    language); "mae'r" counts as "mae" and "r"."""
    words = [fold_name(w) for w in _LETTERS.findall(text)]
    welsh = sum(w in welsh_words for w in words)
    return bool(words) and welsh >= share_at_least * len(words)


def replace_spans(text: str, spans: list[Span]) -> str:
    """The text with each span replaced by its token."""
    out, cursor = [], 0
    for span in spans:
        out += [text[cursor : span.start], span.token]
        cursor = span.end
    out.append(text[cursor:])
    return "".join(out)


def redact_text(text: str, redactor: Redactor) -> tuple[str, int]:
    """The comment (normalised) with personal data replaced by tokens, and how many replacements were made."""
    text, spans = find_redaction_spans(text, redactor)
    return replace_spans(text, spans), len(spans)


def build_theme_rules(rules: CommentRules) -> ThemeRules:
    """Compile the themes and quotes sections of config/comments.yaml."""
    quotes = rules.quotes
    return ThemeRules(
        patterns={
            theme.id: tuple(re.compile(p, re.IGNORECASE) for p in theme.patterns) for theme in rules.themes
        },
        any_pattern={
            theme.id: re.compile("|".join(f"(?:{p})" for p in theme.patterns), re.IGNORECASE)
            for theme in rules.themes
        },
        fallback=rules.fallback_theme.id,
        per_theme=quotes.per_theme,
        min_characters=quotes.min_characters,
        max_characters=quotes.max_characters,
        not_quotable=tuple(re.compile(p, re.IGNORECASE) for p in quotes.not_quotable),
        report_themes=dict(rules.report_themes),
        sections=tuple(dict.fromkeys(t for t in rules.report_themes.values() if t is not None)),
        welsh_words=frozenset(fold_name(w) for w in rules.language.welsh_words),
        welsh_share_at_least=rules.language.welsh_share_at_least,
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
    """Long enough to say something, short enough to quote whole, not an empty remark, and in the Latin
    script the redaction's name rules are built for (a comment partly in Cyrillic or Greek is coded and
    counted, never quoted: a lower-case name in it would pass the rules unseen)."""
    stripped = text.strip()
    return (
        rules.min_characters <= len(stripped) <= rules.max_characters
        and not any(p.search(stripped) for p in rules.not_quotable)
        and is_latin_script(stripped)
    )


def is_latin_script(text: str) -> bool:
    """Whether every letter of the text is a Latin letter (accents and Welsh letters included)."""
    return text.isascii() or all(
        not ch.isalpha() or unicodedata.name(ch, "").startswith("LATIN") for ch in text
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
        normalised, spans = find_redaction_spans(text, redactor)
        redacted, redactions = replace_spans(normalised, spans), len(spans)
        # Coded with its posts kept: "Data protection officer [name] ..." is about data protection, though
        # the quote may not name the post.
        posts_kept = [span for span in spans if span.kind != "role"]
        themes = match_themes(replace_spans(normalised, posts_kept), rules)
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


def rank_quote_candidates(coded: pd.DataFrame, rules: ThemeRules) -> pd.DataFrame:
    """Quotable comments per council and report section, most representative first.

    Representative: matching the most patterns of the section's barrier themes, coded to the fewest other
    sections; identical texts once per section. Ties go by the pseudonymised response id, so the order
    is the same on every run. One row per comment and section: the barrier theme row with most hits.
    """
    texts = coded["comment_redacted"]
    verdicts = {text: is_quotable(text, rules) for text in texts.unique()}
    quotable = coded.loc[texts.map(verdicts).astype(bool)].copy()
    quotable["section"] = quotable["theme"].map(rules.report_themes)
    quotable = quotable[quotable["section"].notna()]
    keys = ["gss_code", "response_id"]
    quotable["section_hits"] = quotable.groupby([*keys, "section"])["theme_hits"].transform("sum")
    quotable["sections_coded"] = quotable.groupby(keys)["section"].transform("nunique")
    ordered = quotable.sort_values(
        ["gss_code", "section", "section_hits", "sections_coded", "response_id", "theme_hits", "theme"],
        ascending=[True, True, False, True, True, False, True],
        kind="stable",
    )
    return ordered.drop_duplicates([*keys, "section"]).drop_duplicates(
        ["gss_code", "section", "comment_redacted"]
    )


def select_quotes(coded: pd.DataFrame, rules: ThemeRules) -> pd.Series:
    """Rank of each comment among its council's representative quotes for a report section (missing if
    not chosen); the section is the one its barrier theme maps to (config/comments.yaml report_themes).

    Sections take turns choosing, best remaining candidate first, so a comment coded to two sections goes
    to one only (no report quotes it twice) and a section with few candidates still gets its best. The
    number of redactions plays no part: preferring fewer would favour exactly the comments whose personal
    data redaction missed.
    """
    chosen: dict[int, int] = {}
    for _, council in rank_quote_candidates(coded, rules).groupby("gss_code", sort=True):
        queues = {
            section: list(zip(rows.index, rows["comment_redacted"], strict=True))
            for section, rows in council.groupby("section", sort=False)
        }
        used: set[str] = set()
        for rank in range(1, rules.per_theme + 1):
            for section in rules.sections:
                queue = queues.get(section, [])
                while queue and queue[0][1] in used:
                    queue.pop(0)
                if queue:
                    index, text = queue.pop(0)
                    chosen[index] = rank
                    used.add(text)
    return pd.Series(chosen, dtype="Int8").reindex(coded.index).astype("Int8")


_LETTERS = re.compile(r"[^\W\d_]+")


def detect_language(text: str, rules: ThemeRules) -> str:
    """A quote's language, "cy" or "en": Welsh when enough of its words are common Welsh words."""
    return "cy" if _is_welsh(text, rules.welsh_words, rules.welsh_share_at_least) else "en"


def quote_hash(gss_code: str, redacted: str) -> str:
    """A stable key for a council's redacted quote: SHA-256 of the council's code and the NFC text with
    spacing collapsed, 16 hex digits. The council is part of it, so approving words one council's
    respondents wrote does not publish the same words in another council's report."""
    text = " ".join(unicodedata.normalize("NFC", redacted).split())
    return hashlib.sha256(f"{gss_code}\n{text}".encode()).hexdigest()[:QUOTE_HASH_CHARS]


def read_approved_quotes(root: Path) -> frozenset[str]:
    """The quote hashes approved in the study folder's quotes_approved.yaml (none if it is absent).

    The file is `approved:` followed by a list of hashes from quote_candidates.csv, e.g.
    `approved: [3f2a9c0b1d4e5f60]`; comments after `#` are free for the auditor's notes.
    """
    path = root / QUOTES_APPROVED_FILE
    if not path.is_file():
        return frozenset()
    problem = (
        f"{path}: expected `approved:` followed by a list of quote hashes "
        f"({QUOTE_HASH_CHARS} hex digits each, from quote_candidates.csv). Correct it and run again."
    )
    most = input_limits().max_quotes_approved_bytes
    content = load_checked_yaml(path, QUOTES_APPROVED_FILE, most, "max_quotes_approved_bytes") or {}
    hashes = content.get("approved") if isinstance(content, dict) else None
    if hashes is None:
        hashes = []
    valid = re.compile(rf"[0-9a-f]{{{QUOTE_HASH_CHARS}}}")
    if not isinstance(hashes, list) or not all(
        isinstance(h, str) and valid.fullmatch(h.strip().lower()) for h in hashes
    ):
        raise ValueError(problem)
    return frozenset(h.strip().lower() for h in hashes)
