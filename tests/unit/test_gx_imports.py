"""GX's import of modules our suites never use stays lazy through validation and Data Docs, yet works."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

# Run in a fresh interpreter: this test process may have imported scipy.stats already.
CHECK = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from maturity.settings import configure_offline_environment
    configure_offline_environment()
    from tasks.study import read_study
    from tasks.extract import extract_dataset, study_datasets
    from tasks.validate import GX_DEFERRED_IMPORTS, validate_table, write_quality_record

    study = read_study(Path(sys.argv[1]))
    tables = [validate_table(extract_dataset(study, dataset), study) for dataset in study_datasets()]
    write_quality_record(tables, Path(sys.argv[2]))
    states = {name: type(sys.modules[name]).__name__ for name in GX_DEFERRED_IMPORTS}
    import scipy.stats
    quantile = float(scipy.stats.norm.ppf(0.975))
    after = type(sys.modules["scipy.stats"]).__name__
    print(json.dumps({"states": states, "quantile": quantile, "after": after}))
    """
)


def test_validation_and_data_docs_never_load_scipy_stats(demo_study: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-c", CHECK, str(demo_study), str(tmp_path / "quality")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["states"] == {"scipy.stats": "_LazyModule"}, "validation loaded a module it should not need"
    assert abs(found["quantile"] - 1.959964) < 1e-6, "the deferred module works when it is used"
    assert found["after"] == "module"
    assert any((tmp_path / "quality").rglob("*.html")), "Data Docs were built"
