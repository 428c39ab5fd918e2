"""Which figures of a later wave can be set against an earlier one's (config/comparability.yaml).

An item (characteristic or statement) asked under the same id in both waves is comparable unless declared
not comparable; a reworded item asked under a new id is mapped to the id it continues; every other item
must be declared new or dropped. The declaration is checked against the per-wave framework, so no change
is ever shown between questions that differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from maturity.config_models import Comparability, DeclaredComparison, ItemComparability
from maturity.settings import (
    ConfigError,
    Settings,
    UnsafeValueError,
    check_path_value,
    check_wave_asked,
    load_comparability,
    load_settings,
)

COMPARABILITY_FILE = "config/comparability.yaml"
KINDS = ("characteristic", "statement")  # the kinds of item compared, as named in messages
SECTIONS = {"characteristic": "characteristics", "statement": "statements"}  # their keys in the file


@dataclass(frozen=True)
class WaveComparison:
    earlier: str
    later: str
    characteristics: dict[str, str]  # later characteristic id -> earlier id, for the comparable ones
    statements: dict[str, str]  # later statement id -> earlier id, for the comparable ones
    not_comparable: dict[str, str]  # item id (later wave's id) -> reason code, characteristics and statements
    new_statements: tuple[str, ...]
    dropped_statements: tuple[str, ...]


def asked_ids(settings: Settings, kind: str, wave: str) -> list[str]:
    """Ids of one kind of item asked in a wave, in framework order (every characteristic is always asked)."""
    if kind == "characteristic":
        return [c.id for c in settings.characteristics]
    return [s.id for s in settings.statements_in(wave)]


def _all_ids(settings: Settings, kind: str) -> list[str]:
    """Every id of one kind of item in the framework, whatever wave it was asked in."""
    items = settings.characteristics if kind == "characteristic" else settings.statements
    return [item.id for item in items]


def _fail(comparison: DeclaredComparison, text: str) -> ConfigError:
    """One line naming the file and the pair of waves."""
    return ConfigError(f"{COMPARABILITY_FILE}: {text}")


def _pair(comparison: DeclaredComparison) -> str:
    return f"{comparison.earlier}→{comparison.later}"


def _check_waves(comparison: DeclaredComparison, settings: Settings) -> None:
    """Both waves look like waves, differ, and have statements in the framework."""
    try:
        for wave in (comparison.earlier, comparison.later):
            check_path_value("wave", wave, f"{COMPARABILITY_FILE} comparison {_pair(comparison)}")
    except UnsafeValueError as error:
        raise ConfigError(str(error)) from None
    if comparison.earlier == comparison.later:
        raise _fail(
            comparison, f"comparison {_pair(comparison)} compares a wave with itself: fix earlier/later."
        )
    for wave in (comparison.earlier, comparison.later):
        check_wave_asked(settings, wave)


def _check_listed_once(comparison: DeclaredComparison, kind: str, declared: ItemComparability) -> None:
    """No id appears twice across mapped (either side), not_comparable, new and dropped."""
    listed = [
        *declared.mapped,
        *declared.mapped.values(),
        *declared.not_comparable,
        *declared.new,
        *declared.dropped,
    ]
    twice = sorted({i for i in listed if listed.count(i) > 1})
    if twice:
        raise _fail(
            comparison,
            f"{kind} {', '.join(twice)} is listed more than once in {SECTIONS[kind]} of the "
            f"{_pair(comparison)} comparison: keep it under one of mapped, not_comparable, new or dropped.",
        )


def _check_known(
    comparison: DeclaredComparison, kind: str, declared: ItemComparability, known: list[str]
) -> None:
    """Every id declared is an id of the framework."""
    listed = [
        *declared.mapped,
        *declared.mapped.values(),
        *declared.not_comparable,
        *declared.new,
        *declared.dropped,
    ]
    unknown = [i for i in dict.fromkeys(listed) if i not in known]
    if unknown:
        raise _fail(
            comparison,
            f"{kind} {', '.join(unknown)} in {SECTIONS[kind]} of the {_pair(comparison)} comparison is not a "
            f"{kind} of config/framework.yaml: fix the id.",
        )


def _check_placed(
    comparison: DeclaredComparison,
    kind: str,
    declared: ItemComparability,
    earlier: set[str],
    later: set[str],
    reasons: set[str],
) -> None:
    """Each declared id is asked in the waves its entry says: mapped later-only to earlier-only, and so on."""
    section, first, second = SECTIONS[kind], comparison.earlier, comparison.later
    for later_id, earlier_id in declared.mapped.items():
        if later_id not in later or later_id in earlier:
            where = (
                f"is asked in both {first} and {second}"
                if later_id in earlier
                else f"is not asked in {second}"
            )
            raise _fail(
                comparison,
                f"{kind} {later_id} is mapped in {section}.mapped but {where}: map only an id asked "
                f"in {second} and not in {first}, or remove it.",
            )
        if earlier_id not in earlier or earlier_id in later:
            where = f"not asked in {first}" if earlier_id not in earlier else f"still asked in {second}"
            raise _fail(
                comparison,
                f"{kind} {later_id} is mapped to {earlier_id} in {section}.mapped, but {earlier_id} is "
                f"{where}: map to a {first} {kind} that {second} no longer asks under its own id.",
            )
    for item, reason in declared.not_comparable.items():
        if item not in earlier or item not in later:
            raise _fail(
                comparison,
                f"{kind} {item} is in {section}.not_comparable but is not asked in both {first} and "
                f"{second}: list an id asked in both (a reworded id goes under mapped, or new and dropped).",
            )
        if reason not in reasons:
            raise _fail(
                comparison,
                f"{kind} {item} in {section}.not_comparable has reason {reason!r}, which is not one of "
                f"reasons ({', '.join(sorted(reasons))}): use one of them or add it under reasons.",
            )
    for entry, asked, not_asked in (("new", second, first), ("dropped", first, second)):
        in_asked, in_not_asked = (later, earlier) if entry == "new" else (earlier, later)
        for item in getattr(declared, entry):
            if item not in in_asked or item in in_not_asked:
                raise _fail(
                    comparison,
                    f"{kind} {item} is in {section}.{entry} but is not asked in {asked} only (config/"
                    f"framework.yaml waves): list under {entry} only a {kind} asked in {asked} and not in "
                    f"{not_asked}.",
                )


def _check_covered(
    comparison: DeclaredComparison,
    kind: str,
    declared: ItemComparability,
    earlier: list[str],
    later: list[str],
) -> None:
    """Each item asked in one wave only is declared: new or mapped (later), dropped or continued (earlier)."""
    section, first, second = SECTIONS[kind], comparison.earlier, comparison.later
    for item in later:
        if item not in earlier and item not in declared.mapped and item not in declared.new:
            raise _fail(
                comparison,
                f"{kind} {item} is asked in {second} but not in {first}, and the {_pair(comparison)} "
                f"comparison does not say whether it is new or continues a {first} {kind}: add it under "
                f"{section}.new or {section}.mapped.",
            )
    continued = set(declared.mapped.values())
    for item in earlier:
        if item not in later and item not in continued and item not in declared.dropped:
            raise _fail(
                comparison,
                f"{kind} {item} is asked in {first} but not in {second}, and the {_pair(comparison)} "
                f"comparison does not say whether it was dropped or continues under a new id: add it under "
                f"{section}.dropped, or map the {second} {kind} that continues it in {section}.mapped.",
            )


def check_comparison(
    comparison: DeclaredComparison, settings: Settings | None = None, reasons: set[str] | None = None
) -> None:
    """Stop with one line unless the declaration accounts for every item of both waves, each in one place."""
    settings = settings or load_settings()
    reasons = set(load_comparability().reasons) if reasons is None else reasons
    _check_waves(comparison, settings)
    for kind in KINDS:
        declared: ItemComparability = getattr(comparison, SECTIONS[kind])
        _check_known(comparison, kind, declared, _all_ids(settings, kind))
        _check_listed_once(comparison, kind, declared)
    both = set(comparison.characteristics.not_comparable) & set(comparison.statements.not_comparable)
    if both:
        raise _fail(
            comparison,
            f"{', '.join(sorted(both))} is in both characteristics.not_comparable and "
            f"statements.not_comparable of the {_pair(comparison)} comparison: keep it in the section of "
            "the item it names.",
        )
    for kind in KINDS:
        declared = getattr(comparison, SECTIONS[kind])
        earlier = asked_ids(settings, kind, comparison.earlier)
        later = asked_ids(settings, kind, comparison.later)
        _check_placed(comparison, kind, declared, set(earlier), set(later), reasons)
        _check_covered(comparison, kind, declared, earlier, later)


def check_comparability(config: Comparability, settings: Settings | None = None) -> None:
    """Every declared comparison is sound, and each later wave is compared with one earlier wave only."""
    later = [c.later for c in config.comparisons]
    twice = sorted({w for w in later if later.count(w) > 1})
    if twice:
        raise ConfigError(
            f"{COMPARABILITY_FILE}: wave {', '.join(twice)} is the later wave of more than one comparison: "
            "keep one comparison per later wave (with the wave it follows)."
        )
    for comparison in config.comparisons:
        check_comparison(comparison, settings, set(config.reasons))


def line_up(comparison: DeclaredComparison, settings: Settings) -> WaveComparison:
    """The comparable items of a checked declaration (same id unless not comparable, plus mapped ones)."""
    items: dict[str, dict[str, str]] = {}
    for kind in KINDS:
        declared: ItemComparability = getattr(comparison, SECTIONS[kind])
        earlier = set(asked_ids(settings, kind, comparison.earlier))
        items[kind] = {
            item: declared.mapped.get(item, item)
            for item in asked_ids(settings, kind, comparison.later)
            if (item in earlier and item not in declared.not_comparable) or item in declared.mapped
        }
    later_statements = asked_ids(settings, "statement", comparison.later)
    earlier_statements = asked_ids(settings, "statement", comparison.earlier)
    return WaveComparison(
        earlier=comparison.earlier,
        later=comparison.later,
        characteristics=items["characteristic"],
        statements=items["statement"],
        not_comparable={**comparison.characteristics.not_comparable, **comparison.statements.not_comparable},
        new_statements=tuple(s for s in later_statements if s in comparison.statements.new),
        dropped_statements=tuple(s for s in earlier_statements if s in comparison.statements.dropped),
    )


@cache
def comparison_for(later_wave: str) -> WaveComparison | None:
    """How a wave's figures line up with the wave before it; None if no earlier wave is declared."""
    config = load_comparability()
    declared = next((c for c in config.comparisons if c.later == later_wave), None)
    if declared is None:
        return None
    settings = load_settings()
    check_comparability(config, settings)
    return line_up(declared, settings)


def reason_text(code: str) -> str:
    """The English wording of a not-comparable reason code (reports translate it through the catalogue)."""
    return load_comparability().reasons[code]


def check_study_wave(wave: str) -> None:
    """A run of a wave needs statements asked in it and, if it follows an earlier wave, a sound comparison."""
    check_wave_asked(load_settings(), wave)
    comparison_for(wave)
