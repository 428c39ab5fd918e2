"""Quotes reach a final report only once an auditor has approved them; no planted personal data ever does."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

import tasks.report
from maturity.comments import (
    QUOTES_APPROVED_FILE,
    build_redactor,
    build_theme_rules,
    code_comments,
    quote_hash,
    read_approved_quotes,
)
from maturity.settings import load_comment_rules, load_settings
from tasks.report import quote_candidates, render_reports, write_quote_candidates
from tests.unit.test_reports import page_text

DENBIGHSHIRE = "W06000004"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = yaml.safe_load((FIXTURES / "pii_corpus.yaml").read_text(encoding="utf-8"))["comments"]
UNSEEN = yaml.safe_load((FIXTURES / "pii_unseen.yaml").read_text(encoding="utf-8"))["comments"]
PLANTED = [(e["text"], [v for vs in e["pii"].values() for v in vs]) for e in CORPUS if e["pii"]] + [
    (e["text"], [str(v) for v in e["pii"]]) for e in UNSEEN
]


def _present(value: str, text: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(value) + r"(?!\w)", text) is not None


def _with_comments(scored_demo, texts: list[str], theme: str | None = None):
    """The demo scores with Denbighshire's coded comments replaced by these texts, every one a candidate
    (all put in one theme if given, so that every one reaches the report)."""
    rules = load_comment_rules()
    frame = pd.DataFrame(
        {
            "gss_code": DENBIGHSHIRE,
            "response_id": [f"r{i:03d}" for i in range(len(texts))],
            "tool_id": "service_managers",
            "comment": texts,
        }
    )
    coded = code_comments(frame, build_redactor(rules, load_settings().councils), build_theme_rules(rules))
    if theme:
        coded = coded.assign(theme=theme).drop_duplicates(["response_id", "theme"])
    coded["recipient_group"] = "officers"
    # Int16: more planted comments than an Int8 rank holds share one theme here (a council has a few).
    coded["quote_rank"] = pd.array(coded.groupby("theme").cumcount() + 1, dtype="Int16")
    others = scored_demo.scores.comment_themes
    others = others[others["gss_code"] != DENBIGHSHIRE]
    comments = pd.concat([others, coded[others.columns]], ignore_index=True)
    return dataclasses.replace(scored_demo.scores, comment_themes=comments)


def _render(scores, study, out: Path, draft: bool) -> dict[str, str]:
    render_reports(scores, study, out, [DENBIGHSHIRE], draft=draft, pdf=False)
    folder = out / "reports" / scores.wave
    return {path.name: path.read_text(encoding="utf-8") for path in folder.glob("*.html")}


def test_quote_hash_is_stable_and_ignores_spacing() -> None:
    assert quote_hash(DENBIGHSHIRE, "Data sits in  silos.") == quote_hash(
        DENBIGHSHIRE, "Data sits in silos. "
    )
    assert quote_hash(DENBIGHSHIRE, "Data sits in silos.") != quote_hash(DENBIGHSHIRE, "Data sits in silos!")
    assert quote_hash(DENBIGHSHIRE, "Data sits in silos.") != quote_hash("W06000015", "Data sits in silos.")
    assert re.fullmatch(r"[0-9a-f]{16}", quote_hash(DENBIGHSHIRE, "x"))


def test_planted_personal_data_never_reaches_a_report(scored_demo, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tasks.report, "QUOTES_PER_THEME", 1000)
    scores = _with_comments(scored_demo, [text for text, _ in PLANTED], theme="data_protection")
    study = dataclasses.replace(scored_demo.study, root=tmp_path / "study")
    study.root.mkdir()
    candidates = quote_candidates(scores)
    (study.root / QUOTES_APPROVED_FILE).write_text(
        yaml.safe_dump({"approved": sorted(candidates["quote_hash"])}), encoding="utf-8"
    )
    for draft in (True, False):
        pages = _render(scores, study, tmp_path / f"out-{draft}", draft)
        text = " ".join(page_text(page) for page in pages.values())
        ours = candidates.loc[candidates["gss_code"] == DENBIGHSHIRE, "quote"]
        shown = [q for q in ours if " ".join(q.split()) in text]
        assert len(shown) == len(ours) == len(PLANTED)  # every comment is there, redacted
        leaked = [value for _, values in PLANTED for value in values if _present(value, text)]
        assert leaked == []


def test_a_final_report_shows_only_approved_quotes(scored_demo, tmp_path) -> None:
    texts = [  # all coded to data_protection, a theme the council report has a section for
        "GDPR is too often used as an excuse not to share information with partners.",
        "Staff are unsure what they are allowed to share, so they share nothing at all.",
        "The data sharing protocols are years out of date and nobody owns them.",
    ]
    scores = _with_comments(scored_demo, texts)
    study = dataclasses.replace(scored_demo.study, root=tmp_path / "study")
    study.root.mkdir()
    final = " ".join(page_text(p) for p in _render(scores, study, tmp_path / "a", draft=False).values())
    assert not any(text in final for text in texts)  # nothing approved yet
    draft_pages = _render(scores, study, tmp_path / "b", draft=True)
    draft = " ".join(page_text(p) for p in draft_pages.values())
    assert all(text in draft for text in texts)
    assert "not yet approved" in draft_pages[f"{DENBIGHSHIRE}.en.html"]
    (study.root / QUOTES_APPROVED_FILE).write_text(
        f"# approved by the audit team\napproved:\n  - {quote_hash(DENBIGHSHIRE, texts[0])}  # GDPR\n",
        encoding="utf-8",
    )
    assert read_approved_quotes(study.root) == frozenset({quote_hash(DENBIGHSHIRE, texts[0])})
    pages = _render(scores, study, tmp_path / "c", draft=False)
    final = " ".join(page_text(p) for p in pages.values())
    assert texts[0] in final
    assert texts[1] not in final
    assert texts[2] not in final
    assert "not yet approved" not in pages[f"{DENBIGHSHIRE}.en.html"]


def test_candidates_are_written_to_the_restricted_quality_folder(scored_demo, tmp_path) -> None:
    path = write_quote_candidates(scored_demo.scores, scored_demo.study, tmp_path / "quality" / "run-1")
    assert path == tmp_path / "quality" / "run-1" / "quote_candidates.csv"
    written = pd.read_csv(path, dtype=str)
    assert {"quote_hash", "gss_code", "theme", "quote_rank", "approved", "quote"} <= set(written.columns)
    assert written["quote_hash"].tolist() == [
        quote_hash(g, q) for g, q in zip(written["gss_code"], written["quote"], strict=True)
    ]
    assert (written["approved"] == "False").all()
    assert not any("@" in q for q in written["quote"])


def test_a_malformed_approval_file_is_a_clear_error(tmp_path) -> None:
    assert read_approved_quotes(tmp_path) == frozenset()
    (tmp_path / QUOTES_APPROVED_FILE).write_text("approved: yes\n", encoding="utf-8")
    with pytest.raises(ValueError, match=QUOTES_APPROVED_FILE):
        read_approved_quotes(tmp_path)


def test_approving_a_quote_for_one_council_approves_it_for_that_council_only(scored_demo) -> None:
    # Before: the key was the text's hash alone, so one approval published the same words in every
    # council whose respondents wrote them (17 councils shared one quote in the demo).
    candidates = quote_candidates(scored_demo.scores)
    shared = candidates.groupby("quote")["gss_code"].nunique()
    text = shared[shared > 1].index[0]
    rows = candidates[candidates["quote"] == text]
    first = rows.iloc[0]
    assert rows["quote_hash"].nunique() == len(rows)  # one key per council
    approved = quote_candidates(scored_demo.scores, frozenset({first["quote_hash"]}))
    approved = approved[approved["quote"] == text].set_index("gss_code")["approved"]
    assert approved[first["gss_code"]]
    assert not approved.drop(first["gss_code"]).any()
