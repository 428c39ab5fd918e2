"""The house's layout holds: no import cycles, a Prefect-free domain, and one pipeline definition."""

from __future__ import annotations

import ast
from pathlib import Path

from flows import pipeline

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("maturity", "operations", "tasks", "flows", "warehouse", "benchmarks")
# The study's domain and its storage: usable from a notebook without Prefect, a server or the CLI.
PREFECT_FREE = ("maturity", "warehouse")
ORCHESTRATION = ("prefect", "prefect_dask", "typer", "rich", "operations", "flows", "tasks")


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages by dotted name (migrations are scripts Alembic loads)."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    return modules


def imported_names(path: Path) -> set[str]:
    """Every module an import in the file names, deferred imports inside functions included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Which project modules each project module imports."""
    modules = project_modules()
    return {
        name: {other for other in imported_names(path) if other in modules and other != name}
        for name, path in modules.items()
    }


def find_cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Groups of modules that import each other, directly or round a loop (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(group)

    for module in graph:
        if module not in index:
            visit(module)
    return cycles


def test_the_cycle_finder_finds_a_loop() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [{"a", "b", "c"}]


def test_no_module_imports_itself_round_a_loop() -> None:
    graph = import_graph()
    assert len(graph) > 50
    assert find_cycles(graph) == []


def test_domain_and_storage_never_import_prefect_or_the_cli() -> None:
    offenders = {
        f"{name} imports {imported}"
        for name, path in project_modules().items()
        if name.split(".")[0] in PREFECT_FREE
        for imported in imported_names(path)
        if imported.split(".")[0] in ORCHESTRATION
    }
    assert offenders == set()


def test_only_the_pipeline_definition_wires_the_pipeline_steps() -> None:
    """Flows call run_pipeline: none of them calls a step that builds outputs itself, so none can drift.

    The publish flow reads the stored national scores (score_national) and the change since the earlier
    wave (score_change) to rebuild a release; it loads and scores no council, so those reads are the
    steps it may call.
    """
    reads_only = {"record_inputs_task", "score_national_task", "score_change_task"}
    step_tasks = {name for name in vars(pipeline) if name.endswith("_task")} - reads_only
    assert len(step_tasks) >= 12
    for path in (ROOT / "flows").glob("*.py"):
        if path.name == "pipeline.py":
            continue
        used = {name.rsplit(".", 1)[-1] for name in imported_names(path)} & step_tasks
        assert used == set(), f"{path.name} wires steps itself: {sorted(used)}"
