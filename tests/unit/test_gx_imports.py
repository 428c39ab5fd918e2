"""Great Expectations is imported only when a table is validated, and used as it ships (nothing patched)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

# Run in a fresh interpreter: this test process may have imported GX already.
CHECK = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from maturity.settings import configure_offline_environment
    configure_offline_environment()
    import flows.national, flows.rerun  # the flows import every task module
    from tasks.study import read_study
    from tasks.extract import extract_dataset, study_datasets
    from tasks.validate import validate_table, write_quality_record

    imported = {"before": "great_expectations" in sys.modules}
    study = read_study(Path(sys.argv[1]))
    tables = [extract_dataset(study, dataset) for dataset in study_datasets()]
    imported["after_extract"] = "great_expectations" in sys.modules
    tables = [validate_table(table, study) for table in tables]
    imported["after_validate"] = "great_expectations" in sys.modules
    write_quality_record(tables, Path(sys.argv[2]))
    from great_expectations.render.view.view import DefaultJinjaView
    init = DefaultJinjaView.__init__
    imported["jinja_view_init"] = f"{init.__module__}.{init.__qualname__}"
    imported["scipy_stats"] = type(sys.modules["scipy.stats"]).__name__
    print(json.dumps(imported))
    """
)


def test_gx_is_imported_only_to_validate_and_left_unpatched(demo_study: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-c", CHECK, str(demo_study), str(tmp_path / "quality")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["before"] is False, "importing the flows imported Great Expectations"
    assert found["after_extract"] is False, "extract imported Great Expectations"
    assert found["after_validate"] is True
    # GX's own Data Docs view and imports, as GX ships them: no patched method, no lazy-module stand-in.
    assert found["jinja_view_init"] == "great_expectations.render.view.view.DefaultJinjaView.__init__"
    assert found["scipy_stats"] == "module"
    assert any((tmp_path / "quality").rglob("*.html")), "Data Docs were built"
