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


def test_the_default_demo_is_byte_identical_to_the_one_before_waves(demo_study: Path) -> None:
    """Adding the 2021 wave must not move a single byte of the default (2018) demo study."""
    import hashlib

    expected = {}
    for line in (Path(__file__).parent.parent / "fixtures" / "demo_2018.sha256").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        expected[name.removeprefix("./")] = digest
    written = {
        name: hashlib.sha256((demo_study / name).read_bytes()).hexdigest() for name in _files(demo_study)
    }
    assert written == expected


@pytest.fixture(scope="module")
def demo_2021(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_study(tmp_path_factory.mktemp("demo2021") / "study", wave="2021")


def test_the_2021_wave_asks_only_its_statements_in_its_own_fieldwork(
    demo_2021: Path, demo_study: Path
) -> None:
    import yaml

    study = yaml.safe_load((demo_2021 / "study.yaml").read_text(encoding="utf-8"))
    assert study["wave"] == "2021"
    assert study["generator"]["seed"] == 2021
    settings = load_settings()
    for tool in settings.tools:
        later = pd.read_csv(demo_2021 / "responses" / f"{tool.id}.csv", dtype=str)
        earlier = pd.read_csv(demo_study / "responses" / f"{tool.id}.csv", dtype=str)
        asked = [c.removeprefix("st_") for c in later.columns if c.startswith("st_")]
        assert asked == list(settings.tool_statements(tool.id, "2021"))
        assert "know_what_to_share" not in asked
        assert "staff_skills" not in asked
        assert later["submitted_at"].str.startswith("2021-").all()
        assert not set(later["response_id"]) & set(earlier["response_id"])  # other respondents
    assert "st_share_with_partners" in pd.read_csv(demo_2021 / "responses" / "service_managers.csv").columns
    assert not (demo_2021 / "commentary").exists()  # the auditors' commentary was written about 2018


def test_denbighshire_2021_has_its_own_counts_with_enough_members_to_report(demo_2021: Path) -> None:
    denbighshire = _counts(demo_2021).loc["W06000004"]
    assert denbighshire.loc["officers"].tolist() == [128, 70]
    assert denbighshire.loc["elected_members"].tolist() == [47, 20]
    assert denbighshire.loc["elected_members", "responses"] >= load_settings().maturity.low_base_below


def test_2021_maturity_follows_2018s_some_councils_improve_most_hold_a_few_slip() -> None:
    import numpy as np

    from maturity.demo import plan_invitations, wave_latent_maturity
    from maturity.settings import load_demo_config

    cfg, settings = load_demo_config(), load_settings()

    def latent(wave: str) -> pd.DataFrame:
        rng = np.random.default_rng(cfg.waves[wave].default_seed)
        plan_invitations(cfg, settings, rng, cfg.waves[wave].fixed_counts)
        return wave_latent_maturity(cfg, settings, wave, rng)

    before = latent("2018")
    change = (latent("2021") - before).mean(axis=1)
    assert (change > 0.3).sum() >= 2, change
    assert (change < -0.2).sum() >= 1, change
    assert (change.abs() < 0.15).sum() > len(change) / 2, change
    fixed = cfg.waves["2021"].change.fixed["W06000004"]  # type: ignore[union-attr]
    moved = latent("2021").loc["W06000004"] - before.loc["W06000004"]
    assert moved["data_analytics"] == pytest.approx(
        min(fixed["data_analytics"], 3.0 - before.loc["W06000004", "data_analytics"])
    )
    assert moved["data_analytics"] > 0.4


def test_a_wave_the_demo_config_does_not_know_is_refused(tmp_path: Path) -> None:
    from maturity.demo import UnknownDemoWaveError

    with pytest.raises(UnknownDemoWaveError, match=r"^--wave 2019: the demo study knows waves 2018, 2021"):
        write_demo_study(tmp_path / "x", wave="2019")
    assert not (tmp_path / "x").exists()
