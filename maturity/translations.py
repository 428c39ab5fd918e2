"""Report translations: gettext catalogues (Babel) for templates, report prose and framework wording.

English is the source language. Every string a report shows (template text, report_templates/content.en.yaml
and the names and descriptors in config/) is extracted into report_templates/locales/messages.pot; the Welsh
catalogue report_templates/locales/cy/LC_MESSAGES/messages.po is kept in the repository and compiled in memory
when reports are rendered, so no compiled .mo file can go stale.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import NullTranslations, Translations

from maturity.settings import (
    PROJECT_ROOT,
    SOURCE_LANGUAGE,
    TEMPLATES_DIR,
    load_comparability,
    load_report_prose,
    load_settings,
)

LANGUAGES = ("en", "cy")
LOCALES_DIR = TEMPLATES_DIR / "locales"
TEMPLATE_FILE = LOCALES_DIR / "messages.pot"
DOMAIN = "messages"
# Translator comment on a Welsh string that a Welsh speaker should check before publication.
REVIEW_COMMENT = "REVIEW: Welsh wording to be checked by a Welsh speaker"
JINJA_EXTENSIONS = "jinja2.ext.i18n"
# Python modules whose report wording is passed through translate(language, text): the text is argument 2.
PYTHON_SOURCES = ("tasks/report.py",)
PYTHON_KEYWORDS = {"translate": (2,)}


def catalogue_path(language: str) -> Path:
    """Where the .po catalogue for one language is kept."""
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(language: str) -> Catalog:
    """The committed .po catalogue for one language."""
    with catalogue_path(language).open("rb") as handle:
        return read_po(handle, locale=language)


@cache
def load_translations(language: str) -> NullTranslations:
    """gettext translations for a language, compiled in memory from its .po (English needs none)."""
    if language == SOURCE_LANGUAGE:
        return NullTranslations()
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue(language))
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def translate_tree(value: Any, gettext: Any) -> Any:
    """Translate every string in nested lists and dicts of report prose, leaving keys alone."""
    if isinstance(value, str):
        return gettext(value)
    if isinstance(value, list):
        return [translate_tree(item, gettext) for item in value]
    if isinstance(value, dict):
        return {key: translate_tree(item, gettext) for key, item in value.items()}
    return value


def iterate_strings(value: Any) -> Iterator[str]:
    """Every string value in nested lists and dicts (the keys are identifiers, not text)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from iterate_strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iterate_strings(item)


def configured_strings() -> Iterator[tuple[str, str]]:
    """(source, text) for the wording reports take from config/: themes, framework, statements, questions,
    and why two waves' figures are not compared."""
    settings = load_settings()
    for theme in settings.themes:
        yield "config/framework.yaml", theme.name_en
    for characteristic in settings.characteristics:
        yield "config/framework.yaml", characteristic.name_en
        for descriptor in characteristic.levels.values():
            yield "config/framework.yaml", descriptor
    for statement in settings.statements:
        yield "config/framework.yaml", statement.text_en
        yield "config/framework.yaml", statement.short_en
    for question in settings.public_survey.questions:
        yield "config/method.yaml", question.text_en
    for label in settings.recipient_groups.values():
        yield "config/tools.yaml", label
    for reason in load_comparability().reasons.values():
        yield "config/comparability.yaml", reason
    yield "maturity/settings.py", "Total"  # the response table's total row (TOTAL_GROUP)


def extract_messages() -> Catalog:
    """A message template (.pot) from the templates, the English prose file and the configured wording."""
    catalog = Catalog(project="maturity", domain=DOMAIN, charset="utf-8")
    method_map = [("**.j2", "jinja2")]
    options = {"**.j2": {"extensions": JINJA_EXTENSIONS, "trimmed": "true"}}
    for filename, line, message, comments, context in extract_from_dir(
        TEMPLATES_DIR,
        method_map,
        options_map=options,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        catalog.add(
            message, None, [(f"report_templates/{filename}", line)], auto_comments=comments, context=context
        )
    for source in PYTHON_SOURCES:
        for line, message, comments, context in extract_from_file(
            "python", PROJECT_ROOT / source, keywords=PYTHON_KEYWORDS
        ):
            catalog.add(message, None, [(source, line)], auto_comments=comments, context=context)
    for text in iterate_strings(load_report_prose()):
        catalog.add(text, None, [(f"report_templates/content.{SOURCE_LANGUAGE}.yaml", 0)])
    for source, text in configured_strings():
        catalog.add(text, None, [(source, 0)])
    return catalog


def update_catalogues() -> list[Path]:
    """Write messages.pot and merge it into each translation's .po, keeping existing translations."""
    template = extract_messages()
    LOCALES_DIR.mkdir(parents=True, exist_ok=True)
    with TEMPLATE_FILE.open("wb") as handle:
        write_po(handle, template, omit_header=False, width=110, sort_output=True)
    written = [TEMPLATE_FILE]
    for language in (lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE):
        path = catalogue_path(language)
        catalog = read_catalogue(language) if path.exists() else Catalog(locale=language, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.project, catalog.fuzzy = "maturity", False
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=110, sort_output=True, ignore_obsolete=True)
        written.append(path)
    return written


def count_for_review(language: str) -> int:
    """How many translated strings carry the review comment for a native speaker."""
    return sum(
        1 for message in read_catalogue(language) if message.id and REVIEW_COMMENT in message.user_comments
    )


if __name__ == "__main__":  # pragma: no cover - maintenance entry point: scripts/update-translations
    for written_path in update_catalogues():
        print(written_path.relative_to(PROJECT_ROOT))
