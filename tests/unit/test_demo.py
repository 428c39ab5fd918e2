"""The demo study is deterministic, realistic and reproduces the reference report's counts."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pandas as pd
import pytest

from maturity.councils import resolve_council
from maturity.demo import write_demo_study
from maturity.settings import load_settings


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_same_seed_gives_identical_files(demo_study: Path, tmp_path: Path) -> None:
    again = write_demo_study(tmp_path / "again")
    names = _files(demo_study)
    assert names == _files(again)
    _match, mismatch, errors = filecmp.cmpfiles(demo_study, again, names, shallow=False)
    assert mismatch == []
    assert errors == []


def test_another_seed_gives_other_answers(demo_study: Path, tmp_path: Path) -> None:
    other = write_demo_study(tmp_path / "other", seed=99)
    assert (other / "responses" / "leadership.csv").read_bytes() != (
        demo_study / "responses" / "leadership.csv"
    ).read_bytes()


def _counts(study: Path) -> pd.DataFrame:
    invitations = pd.read_csv(study / "invitations.csv")
    invitations["gss_code"] = invitations["council"].map(resolve_council)
    invited = invitations.groupby(["gss_code", "recipient_group"])["invited"].sum()
    answered = []
    for tool in load_settings().tools:
        frame = pd.read_csv(study / "responses" / f"{tool.id}.csv", dtype=str)
        frame["gss_code"] = frame["council"].map(resolve_council)
        frame["recipient_group"] = tool.recipient_group
        answered.append(frame)
    responses = pd.concat(answered).groupby(["gss_code", "recipient_group"]).size()
    return pd.DataFrame({"invited": invited, "responses": responses})


def test_denbighshire_has_the_reference_counts(demo_study: Path) -> None:
    denbighshire = _counts(demo_study).loc["W06000004"]
    assert denbighshire.loc["officers"].tolist() == [133, 67]
    assert denbighshire.loc["elected_members"].tolist() == [47, 9]


def test_every_council_and_tool_is_present_and_rates_vary(demo_study: Path) -> None:
    counts = _counts(demo_study)
    assert counts.index.get_level_values(0).nunique() == 22
    rates = counts["responses"] / counts["invited"]
    assert (rates <= 1).all()
    assert rates.std() > 0.05


def test_scale_multiplies_respondents_and_invitations(tmp_path: Path) -> None:
    scaled = _counts(write_demo_study(tmp_path / "x3", scale=3)).loc["W06000004"]
    assert scaled.loc["officers"].tolist() == [399, 201]
    survey = pd.read_csv(tmp_path / "x3" / "public_survey.csv")
    assert len(survey) == 2250


def test_exports_carry_identity_columns_and_mixed_council_names(demo_study: Path) -> None:
    frame = pd.read_csv(demo_study / "responses" / "service_managers.csv", dtype=str)
    assert {"respondent_email", "ip_address", "user_agent", "comments"} <= set(frame.columns)
    assert frame["council"].nunique() > 22 * 2


def test_public_survey_is_near_the_national_results(demo_study: Path) -> None:
    survey = pd.read_csv(demo_study / "public_survey.csv")
    assert len(survey) == 750
    # Unweighted shares sit a little under the targets (36%, 12%): the sample leans older.
    assert (survey["q_effective_use"] == "yes").mean() == pytest.approx(0.36, abs=0.05)
    assert (survey["q_told_personal_data"] == "yes").mean() == pytest.approx(0.12, abs=0.04)


def test_scale_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        write_demo_study(tmp_path / "bad", scale=0)
