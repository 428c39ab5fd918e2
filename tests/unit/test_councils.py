"""Council names in all their spellings resolve to the right GSS code; unknown names say why."""

from __future__ import annotations

import pytest

from maturity.councils import UnknownCouncilError, normalise_council_name, resolve_council
from maturity.settings import load_settings


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("W06000004", "W06000004"),
        ("w06000004", "W06000004"),
        ("Denbighshire", "W06000004"),
        ("Denbighshire County Council", "W06000004"),
        ("  DENBIGHSHIRE C.C. ", "W06000004"),
        ("Sir Ddinbych", "W06000004"),
        ("Cyngor Sir Ddinbych", "W06000004"),
        ("Ynys Môn", "W06000001"),
        ("ynys mon", "W06000001"),
        ("Isle of Anglesey County Council", "W06000001"),
        ("Rhondda Cynon Taff", "W06000016"),
        ("RCT", "W06000016"),
        ("Neath Port Talbot County Borough Council", "W06000012"),
        ("Castell-nedd Port Talbot", "W06000012"),
        ("City and County of Swansea", "W06000011"),
        ("Abertawe", "W06000011"),
        ("Vale of Glamorgan Council", "W06000014"),
        ("Bro Morgannwg", "W06000014"),
        ("Merthyr Tydfil CBC", "W06000024"),
        ("Merthyr Tudful", "W06000024"),
        ("Sir Gâr", "W06000010"),
        ("Newport City Council", "W06000022"),
        ("Tor-faen", "W06000020"),
        ("Torfaen", "W06000020"),
    ],
)
def test_spellings_resolve_to_gss_code(spelling: str, code: str) -> None:
    assert resolve_council(spelling) == code


def test_every_configured_name_resolves_to_its_own_council() -> None:
    for council in load_settings().councils:
        for name in (council.name_en, council.name_cy, council.official_name_en, council.official_name_cy):
            assert resolve_council(name) == council.gss_code, name


def test_the_22_councils_have_the_real_codes() -> None:
    codes = [c.gss_code for c in load_settings().councils]
    assert len(codes) == 22
    assert "W06000007" not in codes
    assert "W06000017" not in codes
    assert codes == sorted(codes)


def test_unknown_name_names_the_value_and_the_closest_council() -> None:
    with pytest.raises(UnknownCouncilError) as caught:
        resolve_council("Denbyshire")
    assert caught.value.closest == "Denbighshire"
    assert '"Denbyshire" is not a known council' in str(caught.value)
    assert "config/councils.csv" in str(caught.value)


def test_unknown_code_is_not_accepted() -> None:
    with pytest.raises(UnknownCouncilError):
        resolve_council("W06000007")


def test_gibberish_has_no_closest_match() -> None:
    with pytest.raises(UnknownCouncilError) as caught:
        resolve_council("zzzz qqqq")
    assert caught.value.closest is None


def test_normalisation_strips_generic_words_accents_and_punctuation() -> None:
    assert normalise_council_name("The Vale of Glamorgan Council") == "vale of glamorgan"
    assert normalise_council_name("Cyngor Bwrdeistref Sirol Wrecsam") == "wrecsam"
    assert normalise_council_name("Ynys Môn") == "ynys mon"
