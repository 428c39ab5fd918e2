"""Write a synthetic but realistic study folder, deterministic for a seed (`maturity demo`)."""

from __future__ import annotations

import string
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from maturity.commentary import COMMENTARY_FOLDER
from maturity.config_models import DemoFixedCounts, DemoMaturityChange, DemoSettings, DemoWave
from maturity.settings import (
    Council,
    Settings,
    check_wave_asked,
    load_demo_commentary,
    load_demo_config,
    load_settings,
)

DEMO_PSEUDONYM_KEY = "demo-study-key-not-secret"
_ID_ALPHABET = np.array(list(string.ascii_letters + string.digits))
_BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/64.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (iPad; CPU OS 11_2 like Mac OS X) AppleWebKit/604.4.7 Mobile/15C114",
)
_FIRST_NAMES = ("Gareth", "Sian", "Rhys", "Ceri", "Dylan", "Megan", "Huw", "Angharad", "Tom", "Sarah")
_SURNAMES = ("Jones", "Williams", "Davies", "Evans", "Thomas", "Roberts", "Hughes", "Lewis", "Price")


def _random_ids(rng: np.random.Generator, count: int, prefix: str, length: int = 15) -> list[str]:
    """Survey-platform-like response ids (R_xxxxxxxx...)."""
    letters = rng.choice(_ID_ALPHABET, size=(count, length))
    return [prefix + "".join(row) for row in letters]


def _council_spelling(rng: np.random.Generator, council: Council, count: int) -> list[str]:
    """How an export names a council: mostly English, sometimes official, Welsh or the code."""
    options = [council.name_en, council.official_name_en, council.name_cy, council.gss_code]
    picks = rng.choice(len(options), size=count, p=[0.55, 0.25, 0.1, 0.1])
    return [options[i] for i in picks]


FixedCounts = dict[str, DemoFixedCounts]


class UnknownDemoWaveError(ValueError):
    """A wave config/demo.yaml has no settings for."""


def demo_wave(cfg: DemoSettings, wave: str) -> DemoWave:
    """The demo settings of one wave (config/demo.yaml waves), or one line naming the waves it knows."""
    if wave not in cfg.waves:
        raise UnknownDemoWaveError(
            f"--wave {wave}: the demo study knows waves {', '.join(cfg.waves)} (config/demo.yaml waves). "
            "Choose one of them, or add the wave there."
        )
    return cfg.waves[wave]


def _officer_invitations(
    cfg: DemoSettings, fixed_counts: FixedCounts, rng: np.random.Generator, gss: str
) -> int:
    fixed = fixed_counts.get(gss)
    if fixed:
        return fixed.officers_invited
    population = cfg.councils[gss].population
    expected = cfg.officers_floor + cfg.officers_per_thousand * population
    return int(rng.normal(expected, expected * 0.12))


def _responses(
    cfg: DemoSettings, fixed_counts: FixedCounts, rng: np.random.Generator, gss: str, group: str, invited: int
) -> int:
    fixed = fixed_counts.get(gss)
    if fixed:
        return int(getattr(fixed, f"{group}_responses"))
    rate = cfg.officer_response_rate if group == "officers" else cfg.member_response_rate
    return int(rng.binomial(invited, rng.uniform(rate.low, rate.high)))


def plan_invitations(
    cfg: DemoSettings, settings: Settings, rng: np.random.Generator, fixed_counts: FixedCounts
) -> pd.DataFrame:
    """Invited and responding counts per council x tool at scale 1 (a fixed council's as configured)."""
    shares = cfg.officer_tool_shares
    officer_tools = [t.id for t in settings.tools if t.recipient_group == "officers"]
    member_tools = [t.id for t in settings.tools if t.recipient_group == "elected_members"]
    rows = []
    for council in settings.councils:
        gss = council.gss_code
        officers = _officer_invitations(cfg, fixed_counts, rng, gss)
        officer_split = rng.multinomial(officers, [shares[t] for t in officer_tools])
        officer_split = np.maximum(officer_split, 1)
        officer_split[np.argmax(officer_split)] -= officer_split.sum() - officers
        answered = _responses(cfg, fixed_counts, rng, gss, "officers", officers)
        answered_split = rng.multivariate_hypergeometric(officer_split, answered)
        members = int(fixed.elected_members_invited if (fixed := fixed_counts.get(gss)) else 0) or int(
            cfg.councils[gss].elected_members
        )
        member_answered = _responses(cfg, fixed_counts, rng, gss, "elected_members", members)
        for tool, invited, responded in zip(officer_tools, officer_split, answered_split, strict=True):
            rows.append((gss, "officers", tool, int(invited), int(responded)))
        rows.append((gss, "elected_members", member_tools[0], members, member_answered))
    return pd.DataFrame(rows, columns=["gss_code", "recipient_group", "tool_id", "invited", "responses"])


def draw_latent_maturity(cfg: DemoSettings, settings: Settings, rng: np.random.Generator) -> pd.DataFrame:
    """Each council's true maturity per characteristic, mostly between levels 1 and 2."""
    base = cfg.maturity_base
    shift = cfg.maturity_characteristic_shift
    council_base = rng.normal(base.mean, base.sd, size=len(settings.councils))
    table = {
        c.id: np.clip(council_base + shift[c.id] + rng.normal(0, 0.15, len(council_base)), 1.0, 3.0)
        for c in settings.characteristics
    }
    return pd.DataFrame(table, index=[c.gss_code for c in settings.councils])


def draw_maturity_change(
    change: DemoMaturityChange, settings: Settings, rng: np.random.Generator
) -> pd.DataFrame:
    """Per council x characteristic change since the earlier wave: some councils improve, a few slip."""
    draw = rng.random(len(settings.councils))
    improving = draw < change.improving_share
    slipping = (~improving) & (draw < change.improving_share + change.slipping_share)
    shape = (len(settings.councils), len(settings.characteristics))
    moves = np.where(
        improving[:, None],
        rng.normal(change.improvement.mean, change.improvement.sd, shape),
        np.where(
            slipping[:, None],
            rng.normal(change.slip.mean, change.slip.sd, shape),
            rng.normal(change.steady.mean, change.steady.sd, shape),
        ),
    )
    table = pd.DataFrame(
        moves, index=[c.gss_code for c in settings.councils], columns=[c.id for c in settings.characteristics]
    )
    for gss, fixed in change.fixed.items():
        for characteristic, value in fixed.items():
            table.loc[gss, characteristic] = value
    return table


def wave_latent_maturity(
    cfg: DemoSettings, settings: Settings, wave: str, rng: np.random.Generator
) -> pd.DataFrame:
    """A wave's latent maturity: drawn afresh for a first wave, else the earlier wave's moved by a change.

    The earlier wave's latent maturity is recomputed from that wave's own default seed (its invitations
    drawn first, as `write_demo_study` does), so a follow-up wave follows the default demo of the earlier one.
    """
    change = demo_wave(cfg, wave).change
    if change is None:
        return draw_latent_maturity(cfg, settings, rng)
    earlier = demo_wave(cfg, change.from_wave)
    earlier_rng = np.random.default_rng(earlier.default_seed)
    plan_invitations(cfg, settings, earlier_rng, earlier.fixed_counts)
    before = wave_latent_maturity(cfg, settings, change.from_wave, earlier_rng)
    return (before + draw_maturity_change(change, settings, rng)).clip(1.0, 3.0)


def _level_answers(
    cfg: DemoSettings, rng: np.random.Generator, latent: float, group: str, count: int
) -> np.ndarray:
    optimism = cfg.members_optimism if group == "elected_members" else 0.0
    levels = np.clip(np.rint(rng.normal(latent + optimism, cfg.answer_noise_sd, count)), 1, 3)
    answers = levels.astype(int).astype(str).astype(object)
    answers[rng.random(count) < cfg.dont_know_rate[group]] = "DK"
    return answers


def _statement_answers(
    cfg: DemoSettings, rng: np.random.Generator, maturity: float, reverse: bool, count: int
) -> np.ndarray:
    centre = 1.0 + (maturity - 1.0) * 1.6
    centre = 6.0 - centre if reverse else centre
    scores = np.clip(np.rint(rng.normal(centre, 1.0, count)), 1, 5).astype(int).astype(str)
    answers = scores.astype(object)
    answers[rng.random(count) < cfg.statement_dont_know_rate] = "DK"
    return answers


def _comments(cfg: DemoSettings, rng: np.random.Generator, count: int) -> list[str]:
    themes = sorted(cfg.comments)
    out = []
    for _ in range(count):
        if rng.random() >= cfg.comment_rate:
            out.append("")
            continue
        snippets = cfg.comments[themes[rng.integers(len(themes))]]
        name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_SURNAMES)}"
        text = snippets[rng.integers(len(snippets))].format(
            name=name,
            email=f"{name.split()[0].lower()}.{name.split()[1].lower()}@example-council.gov.uk",
            phone=f"01745 {rng.integers(100000, 999999)}",
        )
        out.append(text)
    return out


def _submitted_times(rng: np.random.Generator, start: datetime, end: datetime, count: int) -> list[str]:
    span = (end - start).total_seconds()
    offsets = np.sort(rng.uniform(0, span, count))
    return [(start + timedelta(seconds=float(s))).strftime("%Y-%m-%d %H:%M:%S") for s in offsets]


def build_tool_responses(
    cfg: DemoSettings,
    settings: Settings,
    rng: np.random.Generator,
    plan: pd.DataFrame,
    latent: pd.DataFrame,
    scale: int,
    wave: str,
) -> dict[str, pd.DataFrame]:
    """One wide response table per data tool, in the study-folder contract's columns for the wave."""
    spec = demo_wave(cfg, wave)
    start = datetime.fromisoformat(spec.fieldwork_start)
    end = datetime.fromisoformat(spec.fieldwork_end) + timedelta(hours=23)
    statements = {s.id: s for s in settings.statements}
    frames: dict[str, pd.DataFrame] = {}
    for tool in settings.tools:
        parts = []
        for row in plan[plan["tool_id"] == tool.id].itertuples():
            count = int(row.responses) * scale
            if count == 0:
                continue
            council = settings.council_by_code[row.gss_code]
            part = {
                "response_id": _random_ids(rng, count, "R_"),
                "council": _council_spelling(rng, council, count),
                "submitted_at": _submitted_times(rng, start, end, count),
                "role": rng.choice(cfg.roles[tool.id], size=count),
            }
            for characteristic in settings.characteristics:
                part[settings.level_column(characteristic.id)] = _level_answers(
                    cfg, rng, latent.loc[row.gss_code, characteristic.id], tool.recipient_group, count
                )
            council_mean = float(latent.loc[row.gss_code].mean())
            for statement_id in settings.tool_statements(tool.id, wave):
                part[settings.statement_column(statement_id)] = _statement_answers(
                    cfg, rng, council_mean, not statements[statement_id].higher_is_better, count
                )
            part["comments"] = _comments(cfg, rng, count)
            part["respondent_email"] = [
                f"{rng.choice(_FIRST_NAMES).lower()}.{rng.choice(_SURNAMES).lower()}{i}@example-council.gov.uk"
                for i in range(count)
            ]
            part["ip_address"] = [f"10.{a}.{b}.{c}" for a, b, c in rng.integers(0, 255, (count, 3))]
            part["user_agent"] = rng.choice(_BROWSERS, size=count)
            parts.append(pd.DataFrame(part))
        frames[tool.id] = pd.concat(parts, ignore_index=True)
    return frames


def build_population(cfg: DemoSettings, settings: Settings, rng: np.random.Generator) -> pd.DataFrame:
    """Adult population by council x age band x sex: the margins the public survey is weighted to."""
    age_share = cfg.public_survey_age_population_share
    female = cfg.public_survey_female_share_population
    rows = []
    for council in settings.councils:
        adults = cfg.councils[council.gss_code].population * 1000
        wobble = rng.uniform(0.9, 1.1, len(age_share))
        shares = np.array(list(age_share.values())) * wobble
        shares = shares / shares.sum()
        for band, share in zip(age_share, shares, strict=True):
            for sex, sex_share in (("female", female), ("male", 1 - female)):
                rows.append((council.name_en, band, sex, round(adults * share * sex_share)))
    return pd.DataFrame(rows, columns=["council", "age_band", "sex", "population"])


def build_public_survey(
    cfg: DemoSettings, settings: Settings, rng: np.random.Generator, scale: int
) -> pd.DataFrame:
    """Public survey answers from a sample that over-represents older people and women."""
    count = int(cfg.public_survey_respondents) * scale
    population = pd.Series({gss: v.population for gss, v in cfg.councils.items()})
    councils = rng.choice(population.index.to_numpy(), size=count, p=population / population.sum())
    bands = list(cfg.public_survey_age_population_share)
    pop_share = np.array([cfg.public_survey_age_population_share[b] for b in bands])
    bias = np.array([cfg.public_survey_age_sample_bias[b] for b in bands])
    sample_share = pop_share * bias / (pop_share * bias).sum()
    age_index = rng.choice(len(bands), size=count, p=sample_share)
    sex = np.where(rng.random(count) < cfg.public_survey_female_share_sample, "female", "male")
    profile = np.array([cfg.public_survey_age_yes_profile[b] for b in bands])
    table = {
        "respondent_id": _random_ids(rng, count, "PS-", 10),
        "council": [settings.council_by_code[g].name_en for g in councils],
        "age_band": [bands[i] for i in age_index],
        "sex": sex,
    }
    dont_know = cfg.public_survey_dont_know_share
    for question, target in cfg.public_survey_yes_share.items():
        # Scale the age profile so the population-weighted yes share equals the target.
        p_yes = profile * target / float((profile * pop_share).sum())
        draw = rng.random(count)
        yes = draw < p_yes[age_index]
        dk = (~yes) & (rng.random(count) < dont_know / (1 - p_yes[age_index]))
        table[question] = np.where(yes, "yes", np.where(dk, "dont_know", "no"))
    return pd.DataFrame(table)


def write_demo_study(out: Path, seed: int | None = None, scale: int = 1, wave: str | None = None) -> Path:
    """Write the whole demo study folder of a wave (default: config/demo.yaml wave) and return its path."""
    if scale < 1:
        raise ValueError(f"--scale must be a whole number of at least 1, not {scale}.")
    cfg = load_demo_config()
    settings = load_settings()
    wave = cfg.wave if wave is None else wave
    spec = demo_wave(cfg, wave)
    check_wave_asked(settings, wave)
    seed = spec.default_seed if seed is None else seed
    rng = np.random.default_rng(seed)
    plan = plan_invitations(cfg, settings, rng, spec.fixed_counts)
    latent = wave_latent_maturity(cfg, settings, wave, rng)
    responses = build_tool_responses(cfg, settings, rng, plan, latent, scale, wave)
    population = build_population(cfg, settings, rng)
    survey = build_public_survey(cfg, settings, rng, scale)

    (out / "responses").mkdir(parents=True, exist_ok=True)
    study = {
        "wave": wave,
        "title": spec.title,
        "title_cy": spec.title_cy,
        "fieldwork_start": spec.fieldwork_start,
        "fieldwork_end": spec.fieldwork_end,
        "demo": True,
        "generator": {"seed": seed, "scale": scale},
    }
    (out / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    invitations = plan.assign(
        council=plan["gss_code"].map(lambda g: settings.council_by_code[g].name_en),
        invited=plan["invited"] * scale,
    )[["council", "recipient_group", "tool_id", "invited"]]
    _write_csv(invitations, out / "invitations.csv")
    for tool_id, frame in responses.items():
        _write_csv(frame, out / "responses" / f"{tool_id}.csv")
    _write_csv(survey, out / "public_survey.csv")
    _write_csv(population, out / "population.csv")
    if spec.commentary:
        write_demo_commentary(out)
    return out


def write_demo_commentary(out: Path) -> list[Path]:
    """Write the demo's auditors' commentary (config/demo_commentary/) into the study folder's commentary/."""
    written = []
    for relative, content in load_demo_commentary().items():
        target = out / COMMENTARY_FOLDER / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written.append(target)
    return written


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
