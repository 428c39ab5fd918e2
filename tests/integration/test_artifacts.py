"""Every run leaves Prefect artifacts: a summary, a table of council maturity levels and links."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pandas as pd

from flows.national import national_run
from flows.publish import publish_release
from flows.rerun import council_rerun
from operations.files import FILES_ROOT_VARIABLE, FILES_URL_VARIABLE

BAD_SEX = "not-a-sex"


def artifacts_of(flow_run_id: uuid.UUID) -> dict[str, object]:
    """The artifacts a flow run created, by key, read back through the Prefect client."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    flow_runs = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    with get_client(sync_client=True) as client:
        return {a.key: a for a in client.read_artifacts(artifact_filter=flow_runs)}


def test_national_rerun_and_publish_runs_leave_artifacts(
    study_copy: Path, tmp_path: Path, monkeypatch
) -> None:
    survey = study_copy / "public_survey.csv"
    frame = pd.read_csv(survey, dtype=str, keep_default_na=False)
    frame.loc[[3, 7], "sex"] = BAD_SEX
    frame.to_csv(survey, index=False)
    out = tmp_path / "out"

    state = national_run(inputs=study_copy, out=out, return_state=True)
    summary = state.result()
    found = artifacts_of(state.state_details.flow_run_id)

    markdown = found["national-run-run-summary"]
    assert markdown.type == "markdown"
    assert f"# national-run {summary.run_id} · wave 2018" in markdown.data
    assert "| responses/service_managers.csv | 769 | 769 | 0 |" in markdown.data
    assert "| public_survey.csv | 750 | 748 | 2 |" in markdown.data
    assert "| public_survey | sex | " in markdown.data  # the failed check, with its reason and rows
    assert "| 2 |" in markdown.data.split("## Quality failures")[1]
    assert "- Reports: 47 files" in markdown.data  # 46 reports and the site index

    table = found["national-run-maturity-levels"]
    assert table.type == "table"
    rows = pd.read_json(io.StringIO(table.data))
    assert len(rows) == 22
    # Prefect's database is not restricted: the table is the release's, with its withheld levels withheld
    # (before, the warehouse's combined levels were shown, withheld ones too: a helper's attack).
    published = pd.read_parquet(out / "open-data" / "2018" / "maturity_levels.parquet")
    shown = rows.set_index("gss_code")
    councils = published["recipient_group"].eq("all") & published["gss_code"].isin(shown.index)
    combined = published[councils].fillna({"status": ""})
    withheld = combined[combined["status"] != ""]
    assert len(withheld) > 0, "the demo withholds some combined levels"
    for cell in withheld.itertuples():
        assert shown.loc[cell.gss_code, cell.characteristic] == cell.status
    for cell in combined[combined["status"] == ""].dropna(subset=["level"]).itertuples():
        assert int(shown.loc[cell.gss_code, cell.characteristic]) == cell.level

    # Without `maturity serve` nothing serves the files: no dead file:// links, the paths are text.
    assert not {"national-run-reports", "national-run-data-docs", "national-run-open-data"} & set(found)
    assert f"`{out / 'reports' / '2018'}`" in markdown.data

    monkeypatch.setenv(FILES_URL_VARIABLE, "http://127.0.0.1:4201")
    monkeypatch.setenv(FILES_ROOT_VARIABLE, str(out))
    rerun = council_rerun(council="Sir Ddinbych", out=out, return_state=True)
    rerun_id = rerun.result().run_id
    found = artifacts_of(rerun.state_details.flow_run_id)
    assert set(found) >= {
        "council-rerun-run-summary",
        "council-rerun-maturity-levels",
        "council-rerun-reports",
    }
    served = f"http://127.0.0.1:4201/.versions/{rerun_id}/reports/2018/national.en.html"
    assert f"({served})" in found["council-rerun-reports"].data  # the run's own version, not `current`
    assert (out / ".versions" / rerun_id / "reports" / "2018" / "national.en.html").is_file()

    published = publish_release(out=out, to=str(tmp_path / "portal"), return_state=True)
    release = published.result()
    found = artifacts_of(published.state_details.flow_run_id)
    assert f"release {release.version}" in found["open-data-publish-run-summary"].data
    assert release.target.url in found["open-data-publish-run-summary"].data
    assert "open-data-publish-open-data-target" not in found  # a folder target: no file:// link
    assert (
        f"({'http://127.0.0.1:4201/.versions/'}{release.run_id}/open-data/2018/)"
        in found["open-data-publish-open-data"].data
    )
    assert len(pd.read_json(io.StringIO(found["open-data-publish-maturity-levels"].data))) == 22
