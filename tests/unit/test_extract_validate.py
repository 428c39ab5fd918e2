"""Extract and validate: identity dropped, ids pseudonymised, bad rows quarantined with reasons."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pandas as pd
import pytest

from maturity.demo import DEMO_PSEUDONYM_KEY
from tasks.contracts import DatasetError
from tasks.extract import extract_dataset, extract_file, extract_responses, pseudonymise, study_datasets
from tasks.study import read_study
from tasks.validate import (
    account_rows,
    describe_unread_columns,
    unread_columns,
    validate_table,
    write_quality_record,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def broken_study(study_copy: Path) -> Path:
    shutil.copy(FIXTURES / "broken_responses.csv", study_copy / "responses" / "leadership.csv")
    return study_copy


def _reasons(quarantine: pd.DataFrame) -> dict[int, set[str]]:
    return {row: set(part["column"]) for row, part in quarantine.groupby("source_row")}


def test_identity_columns_are_dropped_and_ids_pseudonymised(broken_study: Path) -> None:
    table = extract_responses(read_study(broken_study), "leadership")
    for column in ("respondent_email", "ip_address", "user_agent", "Respondent Name"):
        assert column not in table.frame.columns
    assert not table.frame["response_id"].str.startswith("R_").any()
    assert table.frame["response_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    text = table.frame.to_csv()
    assert "example-council.gov.uk" not in text
    assert "Ann Person" not in text


def test_columns_no_check_or_table_uses_are_named_not_dropped_unseen(study_copy: Path) -> None:
    path = study_copy / "responses" / "digital_ict.csv"
    frame = pd.read_csv(path, dtype=str)
    # A plain extra column, and a look-alike of an identity column in Cyrillic letters ("\u0415mail"
    # still holds "mail" and is dropped as one; "N\u0430me" is not matched): neither is stored, and the
    # run log says so, showing only plain column names.
    frame["Department"], frame["\u0415mail"], frame["N\u0430me"] = "x", "x@example.org", "Ann Person"
    frame.to_csv(path, index=False)
    study = read_study(study_copy)
    table = extract_responses(study, "digital_ict")
    unread = unread_columns(table, study.wave)
    assert unread == ["Department", "N\u0430me"]
    message = describe_unread_columns(table, unread)
    assert message.startswith(
        "responses/digital_ict.csv: 2 columns are not read and not stored, as no check or table uses them "
        "(Department, 1 whose name is not shown)"
    )
    assert "N\u0430me" not in message


def test_a_column_name_holding_a_name_or_a_phone_number_is_counted_not_shown(study_copy: Path) -> None:
    """A hostile review put "Zbigniew Kowalczyk 07700900123" in a header: the warning wrote it to the run
    log and Prefect's database. Only names made of ordinary words, with no listed name, are shown."""
    path = study_copy / "responses" / "digital_ict.csv"
    frame = pd.read_csv(path, dtype=str)
    for header in ("Zbigniew Kowalczyk 07700900123", "Comments for Gareth", "Ask Patel", "Service area"):
        frame[header] = "x"
    frame.to_csv(path, index=False)
    study = read_study(study_copy)
    table = extract_responses(study, "digital_ict")
    message = describe_unread_columns(table, unread_columns(table, study.wave))
    assert "(Service area, 3 whose names are not shown)" in message
    for leaked in ("Zbigniew", "Kowalczyk", "07700900123", "Gareth", "Patel"):
        assert leaked not in message


def test_a_missing_header_row_is_named_as_such(study_copy: Path) -> None:
    """Without its header the first data row is read as one, and its repeated answers look like duplicate
    column names: the stop says the header row may be missing, and quotes none of that row."""
    path = study_copy / "responses" / "leadership.csv"
    path.write_text("\n".join(path.read_text(encoding="utf-8").splitlines()[1:]) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as stopped:
        extract_responses(read_study(study_copy), "leadership")
    assert "the header row is missing" in str(stopped.value)
    assert "more not shown" not in str(stopped.value)


def test_the_demo_study_has_no_unread_column(study_copy: Path) -> None:
    study = read_study(study_copy)
    assert {d: unread_columns(extract_dataset(study, d), study.wave) for d in study_datasets()} == {
        d: [] for d in study_datasets()
    }


def test_pseudonyms_depend_on_the_key() -> None:
    ids = pd.Series(["R_1", "R_2"])
    same = pseudonymise(ids, "key-a", "leadership")
    assert same.equals(pseudonymise(ids, "key-a", "leadership"))
    assert not same.equals(pseudonymise(ids, "key-b", "leadership"))
    assert same.nunique() == 2


def test_a_real_study_needs_the_pseudonym_key(study_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = (study_copy / "study.yaml").read_text().replace("demo: true", "demo: false")
    (study_copy / "study.yaml").write_text(spec)
    monkeypatch.delenv("MATURITY_PSEUDONYM_KEY", raising=False)
    with pytest.raises(DatasetError, match="MATURITY_PSEUDONYM_KEY is not set"):
        extract_responses(read_study(study_copy), "leadership")
    for weak in ("x", DEMO_PSEUDONYM_KEY):  # before: any key was taken, the public demo key too
        monkeypatch.setenv("MATURITY_PSEUDONYM_KEY", weak)
        with pytest.raises(DatasetError, match="too weak for a real study"):
            extract_responses(read_study(study_copy), "leadership")
    monkeypatch.setenv("MATURITY_PSEUDONYM_KEY", "a-long-random-secret-of-at-least-32-characters")
    assert len(extract_responses(read_study(study_copy), "leadership").frame) > 0


def test_bad_rows_are_quarantined_with_column_value_and_reason(broken_study: Path) -> None:
    study = read_study(broken_study)
    validated = validate_table(extract_responses(study, "leadership"), study)
    assert validated.rows_read == 8
    assert validated.rows_loaded == 1
    assert validated.rows_quarantined == 7
    assert _reasons(validated.quarantine) == {
        2: {"response_id"},
        4: {"council"},
        5: {"lvl_leadership"},
        6: {"submitted_at"},
        7: {"submitted_at"},
        8: {"response_id"},
        9: {"st_clear_vision"},
    }
    by_row = validated.quarantine.set_index("source_row")
    assert 'closest known council is "Denbighshire"' in by_row.at[4, "reason"]
    assert by_row.at[4, "value"] == "Denbyshire"
    assert by_row.at[5, "value"] == "4"
    assert "1, 2, 3 or DK" in by_row.at[5, "reason"]
    assert by_row.at[7, "value"] == "last Tuesday"
    assert "fieldwork window" in by_row.at[6, "reason"]
    assert set(validated.quarantine["source_file"]) == {"responses/leadership.csv"}
    assert validated.frame["gss_code"].tolist() == ["W06000004"]


def test_accounting_balances_and_is_saved(broken_study: Path, tmp_path: Path) -> None:
    study = read_study(broken_study)
    tables = [
        validate_table(extract_responses(study, "leadership"), study),
        validate_table(extract_file(study, "invitations", "invitations.csv"), study),
    ]
    accounting = write_quality_record(tables, tmp_path / "quality")
    assert (accounting["rows_read"] == accounting["rows_loaded"] + accounting["rows_quarantined"]).all()
    saved = pd.read_csv(tmp_path / "quality" / "quarantine.csv")
    assert len(saved) == 7
    assert (
        pd.read_parquet(tmp_path / "quality" / "quarantine.parquet")["source_row"].tolist()
        == saved["source_row"].tolist()
    )


def test_accounting_refuses_a_lost_row(broken_study: Path) -> None:
    from tasks.validate import AccountingError

    study = read_study(broken_study)
    table = validate_table(extract_responses(study, "leadership"), study)
    table.frame = table.frame.iloc[0:0]
    with pytest.raises(AccountingError):
        account_rows([table])


def test_missing_column_stops_with_the_file_and_column(study_copy: Path) -> None:
    path = study_copy / "responses" / "digital_ict.csv"
    pd.read_csv(path, dtype=str).drop(columns=["lvl_open_data"]).to_csv(path, index=False)
    study = read_study(study_copy)
    with pytest.raises(DatasetError, match=r"digital_ict\.csv: missing column\(s\) lvl_open_data"):
        validate_table(extract_responses(study, "digital_ict"), study)


def test_empty_file_stops_the_run(study_copy: Path) -> None:
    path = study_copy / "invitations.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n\n\n")
    study = read_study(study_copy)
    with pytest.raises(DatasetError, match=r"invitations\.csv: has no data rows"):
        validate_table(extract_file(study, "invitations", "invitations.csv"), study)


def test_missing_file_names_the_path(study_copy: Path) -> None:
    (study_copy / "population.csv").unlink()
    with pytest.raises(DatasetError, match=r"population\.csv: not found"):
        extract_file(read_study(study_copy), "population", "population.csv")


def test_invitations_checks_counts_tools_and_duplicates(study_copy: Path) -> None:
    path = study_copy / "invitations.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.loc[0, "invited"] = "0"
    frame.loc[1, "invited"] = "twelve"
    frame.loc[2, "tool_id"] = "finance"
    frame.loc[3, "recipient_group"] = "elected_members"  # a tool sent to officers
    frame = pd.concat([frame, frame.iloc[[10]]])
    frame.to_csv(path, index=False)
    study = read_study(study_copy)
    validated = validate_table(extract_file(study, "invitations", "invitations.csv"), study)
    reasons = validated.quarantine.groupby("source_row")["reason"].apply(" ".join)
    assert "above zero" in reasons[2]
    assert "not a whole number" in reasons[3]
    assert "Unknown data tool" in reasons[4]
    assert "not sent to this recipient group" in reasons[5]
    assert "more than one row" in reasons[12]
    assert "more than one row" in reasons[len(frame) + 1]
    assert validated.rows_loaded + validated.rows_quarantined == validated.rows_read


def test_wave_must_match_study_yaml(demo_study: Path) -> None:
    assert read_study(demo_study, "2018").wave == "2018"
    with pytest.raises(DatasetError, match="is for wave 2018 but --wave 2019"):
        read_study(demo_study, "2019")


def test_missing_study_yaml_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="maturity demo --out DIR"):
        read_study(tmp_path)


# ---------------------------------------------------------------- GX decides and names the failing rows


def _set_cells(path: Path, cells: dict[tuple[int, str], str]) -> None:
    """Set cells addressed by (spreadsheet row, column); row 2 is the first data row."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for (row, column), value in cells.items():
        frame.loc[row - 2, column] = value
    frame.to_csv(path, index=False, lineterminator="\n")


def test_an_expectation_type_with_no_rule_of_ours_quarantines_its_rows(
    study_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: GX found the failure, then "expectation type ... has no row-level rule" stopped the run.
    from tasks import validate

    suite = copy.deepcopy(validate.load_suite_definition("responses"))
    reason = "Comment holds an email address. Remove it from the export."
    suite["expectations"].append(
        {
            "type": "expect_column_values_to_not_match_regex",
            "kwargs": {"column": "comments", "regex": r"[\w.]+@[\w.]+"},
            "meta": {"reason": reason},
        }
    )
    monkeypatch.setattr(validate, "load_suite_definition", lambda name: suite)
    path = study_copy / "responses" / "leadership.csv"
    _set_cells(path, {(3, "comments"): "Ask me: ann@example.org", (5, "comments"): "a@b.c and more"})
    comments = pd.read_csv(path, dtype=str)["comments"]
    expected = comments[comments.str.contains(r"[\w.]+@[\w.]+", na=False)]  # the demo has a few more
    study = read_study(study_copy)
    validated = validate_table(extract_responses(study, "leadership"), study)
    quarantine = validated.quarantine
    assert {3, 5} <= set(quarantine["source_row"])
    assert quarantine["source_row"].tolist() == [i + 2 for i in expected.index]
    assert set(quarantine["column"]) == {"comments"}
    assert set(quarantine["reason"]) == {reason}
    assert quarantine["value"].tolist() == expected.tolist()
    assert validated.rows_loaded == validated.rows_read - len(expected)


def test_a_pair_with_one_value_empty_is_quarantined(study_copy: Path) -> None:
    # Before: GX failed the pair check, our pandas rule found no row and building the record crashed.
    _set_cells(study_copy / "invitations.csv", {(3, "recipient_group"): ""})
    study = read_study(study_copy)
    validated = validate_table(extract_file(study, "invitations", "invitations.csv"), study)
    record = validated.quarantine.set_index("source_row").loc[3]
    assert record["column"] == "tool_id, recipient_group"
    assert record["value"].endswith(" | ")
    assert "not sent to this recipient group" in record["reason"]
    assert validated.rows_loaded == validated.rows_read - 1


def test_data_docs_show_counts_but_no_value(study_copy: Path, tmp_path: Path) -> None:
    secret_comment = "Private remark by Ann Person " + "x" * 10_001  # over responses.max_comment_chars
    secret_level = "AnnPersonLevel"
    path = study_copy / "responses" / "leadership.csv"
    _set_cells(path, {(2, "comments"): secret_comment, (3, "lvl_leadership"): secret_level})
    study = read_study(study_copy)
    validated = validate_table(extract_responses(study, "leadership"), study)
    assert set(validated.quarantine["source_row"]) == {2, 3}
    for result in validated.gx_results:
        for outcome in result.results:
            assert not {"unexpected_index_list", "partial_unexpected_list", "unexpected_list"} & set(
                outcome.result
            )
    write_quality_record([validated], tmp_path / "quality")
    docs = tmp_path / "quality" / "data_docs"
    files = [f for f in docs.rglob("*") if f.is_file()]
    assert any(f.suffix == ".html" for f in files)
    for file in files:
        content = file.read_bytes()
        for secret in ("Private remark by Ann Person", secret_level):
            assert secret.encode() not in content, file
    page = next(f for f in files if f.parent.parent.parent.name == "responses-leadership")
    assert "1 unexpected values found" in page.read_text(encoding="utf-8")


def test_a_check_failing_too_many_rows_stops_the_file(
    study_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.validate

    limits = tasks.validate.input_limits().model_copy(update={"max_failing_rows_per_check": 2})
    monkeypatch.setattr(tasks.validate, "input_limits", lambda: limits)
    path = study_copy / "responses" / "leadership.csv"
    _set_cells(path, {(2, "lvl_leadership"): "2", (3, "lvl_leadership"): "7", (4, "lvl_leadership"): "8"})
    study = read_study(study_copy)
    table = extract_responses(study, "leadership")
    validate_table(table, study)  # two failing rows: quarantined
    _set_cells(path, {(2, "lvl_leadership"): "9"})
    with pytest.raises(DatasetError) as stopped:
        validate_table(extract_responses(study, "leadership"), study)
    message = str(stopped.value)
    assert "\n" not in message
    for fragment in (
        "leadership.csv",
        "3 rows",
        "lvl_leadership",
        "max_failing_rows_per_check",
        "limits.yaml",
    ):
        assert fragment in message


def test_a_check_gx_cannot_run_stops_the_run(study_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: GX's error in a metric (here comparing a missing count) read as a failed check.
    from tasks import validate

    suite = copy.deepcopy(validate.load_suite_definition("response_counts"))
    for expectation in suite["expectations"]:
        expectation["kwargs"].pop("ignore_row_if", None)
    shipped = validate.load_suite_definition
    monkeypatch.setattr(
        validate, "load_suite_definition", lambda name: suite if name == "response_counts" else shipped(name)
    )
    path = study_copy / "invitations.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = frame[~((frame["council"] == "Isle of Anglesey") & (frame["tool_id"] == "leadership"))]
    frame.to_csv(path, index=False, lineterminator="\n")
    study = read_study(study_copy)
    tables = [
        validate_table(extract_file(study, "invitations", "invitations.csv"), study),
        validate_table(extract_responses(study, "leadership"), study),
    ]
    with pytest.raises(DatasetError, match=r"a_to_be_greater_than_b .* could not run: boolean value of NA"):
        validate.reconcile_response_counts(tables, study)


@pytest.fixture(scope="module")
def study_2021(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from maturity.demo import write_demo_study

    return write_demo_study(tmp_path_factory.mktemp("wave2021") / "study", wave="2021")


def test_a_2021_study_extracts_and_validates_its_own_statements(study_2021: Path) -> None:
    study = read_study(study_2021)
    assert study.wave == "2021"
    table = extract_responses(study, "information_governance")
    validated = validate_table(table, study)
    assert len(validated.frame) == table.rows_read
    assert validated.quarantine.empty
    assert "st_share_with_partners" in validated.frame.columns
    assert "st_know_what_to_share" not in validated.frame.columns


def test_a_statement_not_asked_in_the_studys_wave_stops_the_extract(study_2021: Path, tmp_path: Path) -> None:
    copy_root = Path(shutil.copytree(study_2021, tmp_path / "study"))
    path = copy_root / "responses" / "information_governance.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["st_know_what_to_share"] = "4"  # asked in 2018 only
    frame.to_csv(path, index=False)
    with pytest.raises(
        DatasetError,
        match=r"column st_know_what_to_share is not a question of the "
        r"information_governance tool in wave 2021",
    ):
        extract_responses(read_study(copy_root), "information_governance")


def test_a_2021_study_lacking_a_2021_statement_is_one_clear_line(study_2021: Path, tmp_path: Path) -> None:
    copy_root = Path(shutil.copytree(study_2021, tmp_path / "study"))
    path = copy_root / "responses" / "information_governance.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["st_share_with_partners"])
    frame.to_csv(path, index=False)
    study = read_study(copy_root)
    with pytest.raises(DatasetError, match=r"missing column\(s\) st_share_with_partners"):
        validate_table(extract_responses(study, "information_governance"), study)
