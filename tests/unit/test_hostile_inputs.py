"""A corpus of hostile inputs: values and files built to escape OUT, exhaust memory or confuse messages.

Every value from an input is hostile until checked. Each case ends in one clear line (file, field or
row, what to do) raised as the documented error, never a traceback; and nothing outside the test's own
study folder and OUT is created, changed or deleted. Large inputs are generated here, never committed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from maturity.settings import UnsafeValueError, check_path_value
from operations.preflight import UsageError, check_out, check_target_url, check_wave
from tasks.contracts import DatasetError
from tasks.distribute import check_target_history, copy_release_to_target
from tasks.extract import extract_dataset
from tasks.publish import build_release
from tasks.report import plan_reports
from tasks.sources import read_file
from tasks.study import read_study
from warehouse.store import partition_dir, table_dir, write_table
from warehouse.versions import (
    CURRENT_LINK,
    LOCK_FILE,
    VERSIONS_DIR,
    OutputLayoutError,
    abandon_version,
    begin_version,
    check_out_links,
    commit_version,
    inside,
    remove_tree,
)
from warehouse.versions import _take_lock as take_lock

VICTIM = "victim"  # a folder beside the study and OUT that no case may touch

# Values for a field that becomes part of a path; {victim} is replaced by the victim folder's path.
HOSTILE_VALUES = {
    "absolute": "{victim}",
    "parent": "..",
    "parents": "../../..",
    "parents to victim": "../../../../../{victim_name}",
    "nested": "2018/../../x",
    "nul": "2018\x00",
    "newline": "2018\nStopped: all fine",
    "carriage return": "2018\r",
    "tab": "20\t18",
    "unicode division slash": "20\u221518",
    "unicode fullwidth solidus": "2018\uff0f..",
    "one dot leader pair": "\u2024\u2024",
    "fullwidth digits": "\uff12\uff10\uff11\uff18",
    "line separator": "2018\u2028",
    "bidi override": "\u202e8102",
    "very long": "2" * 5000,
    "empty": "",
    "spaces": " 2018 ",
    "backslash": "..\\..\\x",
}


def hostile(name: str, victim: Path) -> str:
    return HOSTILE_VALUES[name].format(victim=victim, victim_name=victim.name)


def snapshot(root: Path, skip: set[str]) -> dict[str, str]:
    """Every path under root (links not followed) with what it is and a hash of its content."""
    state = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if (here / d).relative_to(root).parts[0] not in skip]
        for name in [*dirs, *files]:
            path = here / name
            if path.relative_to(root).parts[0] in skip:
                continue
            if path.is_symlink():
                state[str(path)] = f"link:{os.readlink(path)}"
            elif path.is_dir():
                state[str(path)] = "dir"
            else:
                state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    folder = tmp_path / VICTIM
    (folder / "inner").mkdir(parents=True)
    (folder / "precious.txt").write_text("keep me", encoding="utf-8")
    (folder / "inner" / "also.txt").write_text("and me", encoding="utf-8")
    return folder


@pytest.fixture
def guarded(tmp_path: Path, victim: Path):
    """Fails the test if anything outside tmp_path/study and tmp_path/out changed (the victim above all)."""
    before = snapshot(tmp_path, {"study", "out"})
    yield
    assert snapshot(tmp_path, {"study", "out"}) == before


def assert_one_line(error: BaseException, *fragments: str) -> None:
    message = str(error)
    for bad in ("\n", "\r", "\x00", "\u2028", "Traceback"):
        assert bad not in message, message
    assert len(message) < 600, message
    for fragment in fragments:
        assert fragment in message, message


def version_folder(tmp_path: Path) -> Path:
    version = tmp_path / "out" / VERSIONS_DIR / "20180101T000000-abcdef12"
    for area in ("warehouse", "reports", "open-data"):
        (version / area).mkdir(parents=True, exist_ok=True)
    return version


# ---------------------------------------------------------------- 1. values that become paths


@pytest.mark.parametrize("case", sorted(HOSTILE_VALUES))
def test_hostile_wave_in_study_yaml_stops_with_one_line(
    case: str, study_copy: Path, victim: Path, guarded: None
) -> None:
    spec = yaml.safe_load((study_copy / "study.yaml").read_text(encoding="utf-8"))
    spec["wave"] = hostile(case, victim)
    (study_copy / "study.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(DatasetError) as stopped:
        read_study(study_copy)
    assert_one_line(stopped.value, "study.yaml wave", "^[0-9]{4}$", "config/limits.yaml")


@pytest.mark.parametrize("value", [True, 2018.0, [2018], {"a": 1}, None])
def test_wave_that_is_not_text_or_a_whole_number_stops(value: object, study_copy: Path) -> None:
    spec = yaml.safe_load((study_copy / "study.yaml").read_text(encoding="utf-8"))
    spec["wave"] = value
    (study_copy / "study.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(DatasetError) as stopped:
        read_study(study_copy)
    assert_one_line(stopped.value, "study.yaml wave")


def test_a_numeric_wave_in_study_yaml_is_still_read(study_copy: Path) -> None:
    assert read_study(study_copy).wave == "2018"


@pytest.mark.parametrize("case", sorted(HOSTILE_VALUES))
def test_hostile_wave_option_is_a_usage_error(case: str, victim: Path) -> None:
    with pytest.raises(UsageError) as refused:
        check_wave(None, hostile(case, victim))
    assert_one_line(refused.value, "--wave")


@pytest.mark.parametrize("kind", ["wave", "tool_id", "dataset", "gss_code", "release_version", "run_id"])
@pytest.mark.parametrize("case", sorted(HOSTILE_VALUES))
def test_every_path_value_kind_refuses_hostile_values(kind: str, case: str, victim: Path) -> None:
    with pytest.raises(UnsafeValueError) as refused:
        check_path_value(kind, hostile(case, victim), "somewhere.yaml field")
    assert_one_line(refused.value, "somewhere.yaml field", "config/limits.yaml")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("wave", "2018"),
        ("tool_id", "service_managers"),
        ("dataset", "responses:leadership"),
        ("gss_code", "W06000004"),
        ("release_version", "2018.1"),
        ("run_id", "20180201T100000-0a1b2c3d"),
    ],
)
def test_plain_path_values_pass(kind: str, value: str) -> None:
    assert check_path_value(kind, value, "here") == value


def test_config_ids_that_become_paths_are_checked() -> None:
    from maturity.settings import load_settings

    settings = load_settings()  # the shipped config passes its own patterns
    assert all(check_path_value("gss_code", c.gss_code, "x") for c in settings.councils)
    assert all(check_path_value("tool_id", t.id, "x") for t in settings.tools)


@pytest.mark.parametrize("case", ["absolute", "parents", "parents to victim", "nul", "newline", "nested"])
def test_reports_never_clear_a_folder_outside_the_version(
    case: str, tmp_path: Path, victim: Path, guarded: None
) -> None:
    # Before: plan_reports(version, "/some/folder") ran shutil.rmtree("/some/folder").
    version = version_folder(tmp_path)
    with pytest.raises(OutputLayoutError) as refused:
        plan_reports(version, hostile(case, victim))
    assert_one_line(refused.value, "refusing")


@pytest.mark.parametrize("case", ["absolute", "parents", "parents to victim", "nul", "nested"])
def test_open_data_never_replaces_a_folder_outside_the_version(
    case: str, tmp_path: Path, victim: Path, guarded: None
) -> None:
    version = version_folder(tmp_path)
    with pytest.raises(OutputLayoutError) as refused:
        build_release(SimpleNamespace(wave=hostile(case, victim)), version)
    assert_one_line(refused.value, "refusing")


@pytest.mark.parametrize("case", ["parents", "parents to victim", "nul", "nested", "absolute"])
def test_warehouse_partitions_never_leave_the_warehouse(
    case: str, tmp_path: Path, victim: Path, guarded: None
) -> None:
    warehouse = version_folder(tmp_path) / "warehouse"
    with pytest.raises(OutputLayoutError):
        partition_dir(warehouse, "response_rates", "2018", hostile(case, victim))
    frame = pd.DataFrame({"gss_code": [hostile(case, victim)]})
    with pytest.raises(OutputLayoutError):
        write_table(warehouse, "response_rates", "2018", frame, councils=[hostile(case, victim)])


def test_a_link_inside_the_version_is_never_followed(tmp_path: Path, victim: Path, guarded: None) -> None:
    # Before: rmtree refused the link silently (ignore_errors) and reports were then written through it.
    version = version_folder(tmp_path)
    (version / "reports" / "2018").symlink_to(victim, target_is_directory=True)
    (version / "open-data" / "2018").symlink_to(victim, target_is_directory=True)
    (version / "warehouse" / "response_rates").symlink_to(victim, target_is_directory=True)
    with pytest.raises(OutputLayoutError) as refused:
        plan_reports(version, "2018")
    assert_one_line(refused.value, "leads outside", "link")
    with pytest.raises(OutputLayoutError):
        build_release(SimpleNamespace(wave="2018"), version)
    with pytest.raises(OutputLayoutError):
        table_dir(version / "warehouse", "response_rates", "2018")


def test_old_versions_are_cleared_only_inside_versions(tmp_path: Path, victim: Path, guarded: None) -> None:
    out = tmp_path / "out"
    (out / VERSIONS_DIR).mkdir(parents=True)
    (out / VERSIONS_DIR / "stray-link").symlink_to(victim, target_is_directory=True)
    (out / VERSIONS_DIR / ".previous").write_text("../../" + VICTIM, encoding="utf-8")
    version = begin_version(out, "20180101T000000-abcdef12")
    assert not (out / VERSIONS_DIR / "stray-link").exists()  # the link itself went, not its target
    abandon_version(out, version.name)
    assert not version.exists()


# OUT's own entries replaced by links to the victim (a helper's attack: OUT/.versions as a link took the
# whole version, restricted warehouse included, into the victim, and the clean-up deleted its folders).
HOSTILE_OUT_LINKS = {
    "versions": (VERSIONS_DIR, ""),
    "registry": ("registry.sqlite", "precious.txt"),
    "registry journal": ("registry.sqlite-journal", "precious.txt"),
    "quality": ("quality", ""),
    "demo study": ("demo-study", ""),
    "current": (CURRENT_LINK, "inner"),
    "published area": ("reports", "inner"),
}


@pytest.mark.parametrize("case", list(HOSTILE_OUT_LINKS))
def test_an_out_entry_linked_elsewhere_stops_the_run_before_it_writes(
    case: str, tmp_path: Path, victim: Path, guarded: None
) -> None:
    name, target = HOSTILE_OUT_LINKS[case]
    out = tmp_path / "out"
    out.mkdir()
    (out / name).symlink_to(victim / target if target else victim)
    with pytest.raises(OutputLayoutError) as refused:
        begin_version(out, "20180101T000000-abcdef12")
    assert_one_line(refused.value, str(out / name))
    with pytest.raises(UsageError) as usage:
        check_out(out)
    assert_one_line(usage.value, str(out / name))
    assert sorted(p.name for p in out.iterdir()) == [name], "nothing was written in OUT either"


def test_current_naming_a_version_that_is_a_link_is_refused(
    tmp_path: Path, victim: Path, guarded: None
) -> None:
    """Before: current -> .versions/EVIL, EVIL a link, passed, and the run then removed the real version."""
    out = tmp_path / "out"
    real = begin_version(out, "20180101T000000-abcdef12")
    commit_version(out, real)
    (out / VERSIONS_DIR / "EVIL").symlink_to(real.name)
    (out / CURRENT_LINK).unlink()
    (out / CURRENT_LINK).symlink_to(Path(VERSIONS_DIR) / "EVIL")
    with pytest.raises(OutputLayoutError) as refused:
        begin_version(out, "20180101T000001-abcdef12")
    assert_one_line(refused.value, "itself a link")
    assert real.is_dir()


def test_the_links_a_run_makes_pass_the_check(tmp_path: Path) -> None:
    out = tmp_path / "out"
    version = begin_version(out, "20180101T000000-abcdef12")
    commit_version(out, version)
    check_out_links(out)
    begin_version(out, "20180101T000001-abcdef12")  # and the next run starts


@pytest.mark.parametrize("case", ["absolute", "parents", "parents to victim"])
def test_remove_tree_refuses_anything_outside_versions(
    case: str, tmp_path: Path, victim: Path, guarded: None
) -> None:
    version = version_folder(tmp_path)
    with pytest.raises(OutputLayoutError):
        remove_tree(version / hostile(case, victim), version)
    with pytest.raises(OutputLayoutError):
        remove_tree(version, version)  # never the folder itself


@pytest.mark.parametrize("case", ["absolute", "parents", "nul", "newline", "empty", "backslash"])
def test_inside_refuses_names_that_are_not_plain(case: str, tmp_path: Path, victim: Path) -> None:
    with pytest.raises(OutputLayoutError) as refused:
        inside(tmp_path / "out", "quality", hostile(case, victim))
    assert_one_line(refused.value)


@pytest.mark.parametrize(
    ("wave", "version"),
    [("..", "2018.1"), ("2018", "../../x"), ("2018", "2018.1/../.."), ("2018", "/etc"), ("2018", "2018.1\n")],
)
def test_release_copy_names_no_folder_outside_the_target(
    wave: str, version: str, tmp_path: Path, victim: Path, guarded: None
) -> None:
    release = tmp_path / "out" / "release"
    folder = release / wave if wave != ".." else release / "x" / ".."
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SHA256SUMS").write_text("", encoding="utf-8")
    target = tmp_path / "out" / "to"
    with pytest.raises(DatasetError) as refused:
        copy_release_to_target(folder, version, str(target))
    assert_one_line(refused.value, "config/limits.yaml")
    assert not target.exists()


@pytest.mark.parametrize("link", ["2018", "2018/2018.1", "2018/latest.json", "2018/2018.1/a.csv"])
def test_a_link_under_the_target_is_never_written_through(
    link: str, tmp_path: Path, victim: Path, guarded: None
) -> None:
    """Before: <to>/2018 as a link to the victim took the release and latest.json there."""
    folder = tmp_path / "out" / "release" / "2018"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("x\n", encoding="utf-8")
    digest = hashlib.sha256(b"x\n").hexdigest()
    (folder / "SHA256SUMS").write_text(f"{digest}  a.csv\n", encoding="utf-8")
    target = tmp_path / "out" / "to"
    (target / link).parent.mkdir(parents=True, exist_ok=True)
    (target / link).symlink_to(victim if link != "2018/latest.json" else victim / "precious.txt")
    with pytest.raises(DatasetError) as refused:
        copy_release_to_target(folder, "2018.1", str(target))
    assert_one_line(refused.value, "symbolic link", str(target / link))
    with pytest.raises(DatasetError):
        check_target_history(str(target), "2018", {})


@pytest.mark.parametrize("folder", ["", "2018"])
def test_a_target_every_user_may_write_in_is_refused(folder: str, tmp_path: Path) -> None:
    release = tmp_path / "out" / "release" / "2018"
    release.mkdir(parents=True)
    (release / "a.csv").write_text("x\n", encoding="utf-8")
    digest = hashlib.sha256(b"x\n").hexdigest()
    (release / "SHA256SUMS").write_text(f"{digest}  a.csv\n", encoding="utf-8")
    target = tmp_path / "to"
    (target / folder).mkdir(parents=True)
    (target / folder).chmod(0o1777)  # /tmp's mode: another account could still make a link at a new name
    with pytest.raises(DatasetError) as refused:
        copy_release_to_target(release, "2018.1", str(target))
    assert_one_line(refused.value, "writable by every user", str(target / folder).rstrip("/"))
    (target / folder).chmod(0o775)
    copy_release_to_target(release, "2018.1", str(target))


@pytest.mark.parametrize("to", ["/tmp/x\nStopped: fine", "/tmp/x\x00y", "s3://bucket/\rprefix"])
def test_to_with_control_characters_is_a_usage_error(to: str) -> None:
    with pytest.raises(UsageError) as refused:
        check_target_url(to)
    assert_one_line(refused.value, "--to")


# ---------------------------------------------------------------- 2. links in the study folder

SECRET = "root:x:0:0:SECRET-PASSWORD-LINE:/root:/bin/bash"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "victim-passwd"
    path.write_text(f"{SECRET}\n{SECRET}\n", encoding="utf-8")
    return path


def link_in_place(path: Path, target: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.symlink_to(target, target_is_directory=target.is_dir())


@pytest.mark.parametrize(
    "relative", ["study.yaml", "invitations.csv", "responses/leadership.csv", "population.csv", "responses"]
)
def test_a_link_in_the_study_folder_is_refused_naming_it(
    relative: str, study_copy: Path, secret_file: Path, tmp_path: Path
) -> None:
    # Before: a link to /etc/passwd was followed and its first line copied into the message.
    target = secret_file
    if relative == "responses":
        target = tmp_path / "elsewhere"
        shutil.copytree(study_copy / "responses", target)
        (target / "leadership.csv").write_text(SECRET + "\n", encoding="utf-8")
    link_in_place(study_copy / relative, target)
    with pytest.raises(DatasetError) as stopped:
        read_study(study_copy)  # checks every entry of the study folder and responses/
    assert_one_line(stopped.value, str(study_copy / relative), "link")
    assert "SECRET" not in str(stopped.value)


def test_a_link_named_directly_by_a_rerun_is_refused(study_copy: Path, secret_file: Path) -> None:
    link_in_place(study_copy / "population.csv", secret_file)
    with pytest.raises(DatasetError) as stopped:
        read_file(study_copy / "population.csv", "population.csv")
    assert_one_line(stopped.value, "population.csv", "link")


def test_messages_never_quote_file_content(study_copy: Path) -> None:
    (study_copy / "population.csv").write_text(f"{SECRET}\n1,2\n", encoding="utf-8")
    study = read_study(study_copy)
    with pytest.raises(DatasetError) as stopped:
        extract_dataset(study, "population")
    assert_one_line(stopped.value, "population.csv", "council")
    assert "SECRET" not in str(stopped.value)
    (study_copy / "study.yaml").write_text(f"wave: [{SECRET}\n", encoding="utf-8")
    with pytest.raises(DatasetError) as stopped:
        read_study(study_copy)
    assert_one_line(stopped.value, "study.yaml", "line")
    assert "SECRET" not in str(stopped.value)


# ---------------------------------------------------------------- 3. the run lock


def dead_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def race_for_the_lock(out: Path, contenders: int) -> list[str]:
    """Threads that all see the same dead holder and try to take OUT at once; the run ids that got it."""
    barrier = threading.Barrier(contenders)
    won: list[str] = []

    def contend(run_id: str) -> None:
        barrier.wait()
        try:
            take_lock(out, run_id)
        except OutputLayoutError:
            return
        won.append(run_id)

    threads = [threading.Thread(target=contend, args=(f"run-{i}",)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_runs_that_see_the_same_dead_lock_never_both_take_it(tmp_path: Path) -> None:
    # Before: each deleted the dead lock, and one deleted the other's fresh (still empty) lock: two holders.
    pid = dead_pid()
    for round_number in range(30):
        out = tmp_path / f"out{round_number}"
        out.mkdir()
        (out / LOCK_FILE).write_text(f"{pid} crashed-run", encoding="utf-8")
        won = race_for_the_lock(out, 6)
        assert len(won) == 1, won
        assert (out / LOCK_FILE).read_text(encoding="utf-8") == f"{os.getpid()} {won[0]}"


def _contend_in_a_process(out: str, run_id: str, ready, results) -> None:
    ready.wait()
    try:
        take_lock(Path(out), run_id)
        results.put(run_id)
    except OutputLayoutError:
        results.put("")
    ready.wait()  # stay alive, holding, until every contender has tried


def test_processes_that_see_the_same_dead_lock_never_both_take_it(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    contenders = 4
    (tmp_path / LOCK_FILE).write_text(f"{dead_pid()} crashed-run", encoding="utf-8")
    ready, results = context.Barrier(contenders), context.Queue()
    processes = [
        context.Process(target=_contend_in_a_process, args=(str(tmp_path), f"run-{i}", ready, results))
        for i in range(contenders)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert len([o for o in outcomes if o]) == 1, outcomes


@pytest.mark.parametrize("content", ["", "not-a-pid run", "\x00\x00", "99999999999999999999 x", "-5 x"])
def test_a_damaged_lock_file_is_taken_over_not_a_traceback(content: str, tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text(content, encoding="utf-8")
    take_lock(tmp_path, "run-1")
    assert (tmp_path / LOCK_FILE).read_text(encoding="utf-8") == f"{os.getpid()} run-1"


def test_a_link_in_place_of_the_lock_file_is_refused(tmp_path: Path, victim: Path, guarded: None) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_FILE).symlink_to(victim / "precious.txt")
    with pytest.raises(OutputLayoutError) as refused:
        take_lock(out, "run-1")
    assert_one_line(refused.value, LOCK_FILE, "not a plain file")


# ---------------------------------------------------------------- 4. malformed inputs: one line each

LEADERSHIP_CSV = "responses/leadership.csv"


def study_yaml(root: Path, content: str | bytes) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    (root / "study.yaml").write_bytes(data)


def valid_study_yaml(root: Path) -> str:
    return (root / "study.yaml").read_text(encoding="utf-8")


ALIAS_BOMB = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
    + ["wave: *i", "title: t", "fieldwork_start: 2018-01-01", "fieldwork_end: 2018-02-01"]
)

STUDY_YAML_CASES = {
    "plain string": (lambda root: "just a string\n", ["study.yaml", "mapping"]),
    "a list": (lambda root: "- wave\n- title\n", ["study.yaml", "mapping"]),
    "cp1252": (
        lambda root: valid_study_yaml(root).replace("title:", "title: Sir G\xe2r").encode("cp1252"),
        ["study.yaml", "UTF-8", "line"],
    ),
    "alias bomb": (lambda root: ALIAS_BOMB, ["study.yaml", "alias"]),
    "deeply nested": (lambda root: "wave: " + "[" * 30000 + "]" * 30000 + "\n", ["study.yaml"]),
    "too big": (lambda root: valid_study_yaml(root) + "# " + "x" * 200_000 + "\n", ["study.yaml", "bytes"]),
    "nul byte": (lambda root: valid_study_yaml(root).replace("title:", "title: a\x00b"), ["study.yaml"]),
    # Before: bool('false') made a real study a demo, its ids pseudonymised with the public demo key.
    "demo as text": (
        lambda root: valid_study_yaml(root).replace("demo: true", "demo: 'false'"),
        ["study.yaml", "demo must be true or false"],
    ),
    "demo as a number": (
        lambda root: valid_study_yaml(root).replace("demo: true", "demo: 1"),
        ["study.yaml", "demo must be true or false"],
    ),
}


@pytest.mark.parametrize("case", sorted(STUDY_YAML_CASES))
def test_malformed_study_yaml_is_one_line(case: str, study_copy: Path) -> None:
    make, fragments = STUDY_YAML_CASES[case]
    study_yaml(study_copy, make(study_copy))
    with pytest.raises(DatasetError) as stopped:
        read_study(study_copy)
    assert_one_line(stopped.value, *fragments)


def as_json(root: Path, relative: str, edit=None) -> Path:
    from tests.study_formats import read_csv_text

    path = root / relative
    records = read_csv_text(path).replace("", None).to_dict("records")
    if edit:
        edit(records)
    path.unlink()
    target = path.with_suffix(".json")
    text = json.dumps(records, ensure_ascii=True) if not isinstance(records, str) else records
    target.write_text(text, encoding="utf-8")
    return target


def deep_json(root: Path) -> str:
    target = as_json(root, "population.csv")
    target.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    return "population"


def long_number_json(root: Path) -> str:
    target = as_json(root, "invitations.csv")
    text = target.read_text(encoding="utf-8")
    target.write_text(
        text.replace('"invited": "', '"invited": ' + "9" * 5000 + ', "x": "', 1), encoding="utf-8"
    )
    return "invitations"


def lone_surrogate_json(root: Path) -> str:
    target = as_json(root, LEADERSHIP_CSV)
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace('"comments": "', '"comments": "bad \\ud800 text', 1), encoding="utf-8")
    return "responses:leadership"


def nul_in_json_value(root: Path) -> str:
    target = as_json(root, LEADERSHIP_CSV)
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace('"comments": "', '"comments": "bad \\u0000 text', 1), encoding="utf-8")
    return "responses:leadership"


def parquet_year_40000(root: Path) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.study_formats import read_csv_text

    frame = read_csv_text(root / LEADERSHIP_CSV)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    big = pa.array([1_200_000_000_000_000_000] * len(frame), pa.timestamp("us"))  # year ~40000
    table = table.set_column(table.column_names.index("submitted_at"), "submitted_at", big)
    (root / LEADERSHIP_CSV).unlink()
    pq.write_table(table, root / "responses" / "leadership.parquet")
    return "responses:leadership"


def extra_level_column(root: Path) -> str:
    path = root / LEADERSHIP_CSV
    text = path.read_text(encoding="utf-8").split("\n")
    text = [text[0] + ",lvl_telepathy"] + [line + ",2" if line else line for line in text[1:]]
    path.write_text("\n".join(text), encoding="utf-8")
    return "responses:leadership"


def statement_not_asked(root: Path) -> str:
    path = root / LEADERSHIP_CSV
    text = path.read_text(encoding="utf-8").split("\n")
    text = [text[0] + ",st_staff_skills"] + [line + ",4" if line else line for line in text[1:]]
    path.write_text("\n".join(text), encoding="utf-8")
    return "responses:leadership"


def nul_byte_in_csv(root: Path) -> str:
    path = root / LEADERSHIP_CSV
    text = path.read_text(encoding="utf-8").split("\n")
    text[2] = text[2][:5] + "\x00" + text[2][5:]
    path.write_text("\n".join(text), encoding="utf-8")
    return "responses:leadership"


def bell_in_csv(root: Path) -> str:
    path = root / LEADERSHIP_CSV
    text = path.read_text(encoding="utf-8").split("\n")
    text[3] = text[3][:7] + "\x07" + text[3][7:]
    path.write_text("\n".join(text), encoding="utf-8")
    return "responses:leadership"


def next_line_in_csv(root: Path) -> str:
    path = root / LEADERSHIP_CSV
    text = path.read_text(encoding="utf-8").split("\n")
    text[3] = text[3][:7] + "\x85" + text[3][7:]  # NEL: a C1 control, and a line end to str.splitlines
    path.write_text("\n".join(text), encoding="utf-8")
    return "responses:leadership"


def duplicate_key_json(root: Path) -> str:
    target = as_json(root, "population.csv")
    text = target.read_text(encoding="utf-8")
    target.write_text(
        text.replace('"population": ', '"population": "999999", "population": ', 1), encoding="utf-8"
    )
    return "population"


def many_columns(root: Path) -> str:
    path = root / LEADERSHIP_CSV
    text = path.read_text(encoding="utf-8").split("\n")
    text[0] = text[0] + "," * 100_000
    path.write_text("\n".join(text), encoding="utf-8")
    return "responses:leadership"


def long_line(root: Path) -> str:
    path = root / LEADERSHIP_CSV
    text = path.read_text(encoding="utf-8").split("\n")
    text[1] = text[1] + "x" * 2_000_000
    path.write_text("\n".join(text), encoding="utf-8")
    return "responses:leadership"


def huge_cell(root: Path) -> str:
    path = root / LEADERSHIP_CSV
    text = path.read_text(encoding="utf-8").split("\n")
    text[1] = text[1] + ',"' + "word\n" * 300_000 + '"'
    path.write_text("\n".join(text), encoding="utf-8")
    return "responses:leadership"


def long_number_csv(root: Path) -> str:
    path = root / "invitations.csv"
    text = path.read_text(encoding="utf-8").split("\n")
    cells = text[1].split(",")
    cells[-1] = "9" * 5000
    text[1] = ",".join(cells)
    path.write_text("\n".join(text), encoding="utf-8")
    return "invitations"


def as_xlsx(root: Path, widen) -> None:
    """Replace leadership.csv by a workbook of the same rows, with widen(rows) applied."""
    import openpyxl

    from tests.study_formats import read_csv_text

    frame = read_csv_text(root / LEADERSHIP_CSV)
    rows = [list(frame.columns), *frame.astype(object).where(frame.notna(), None).values.tolist()]
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    for row in widen(rows):
        sheet.append(row)
    (root / LEADERSHIP_CSV).unlink()
    workbook.save(root / "responses" / "leadership.xlsx")


def wide_xlsx_header(root: Path) -> str:
    as_xlsx(root, lambda rows: [rows[0] + [f"Column{i}" for i in range(5000)], *rows[1:]])
    return "responses:leadership"


def wide_xlsx_row(root: Path) -> str:
    as_xlsx(root, lambda rows: [*rows[:3], rows[3] + ["x"] * 5000, *rows[4:]])
    return "responses:leadership"


FILE_CASES = {
    "xlsx header 5000 columns wider": (
        wide_xlsx_header,
        ["leadership.xlsx", "header (row 1)", "max_columns"],
    ),
    "xlsx row 4 5000 cells wider": (wide_xlsx_row, ["leadership.xlsx", "row 4 has", "max_columns"]),
    "json nested 100k deep": (deep_json, ["population.json", "nested"]),
    "json 5000-digit number": (long_number_json, ["invitations.json", "digits", "line 1"]),
    "json lone surrogate": (lone_surrogate_json, ["leadership.json", "record", "comments"]),
    "json NUL in a value": (nul_in_json_value, ["leadership.json", "record", "comments", "NUL"]),
    "parquet year 40000": (parquet_year_40000, ["leadership.parquet", "submitted_at"]),
    "extra lvl_ column": (extra_level_column, ["leadership.csv", "lvl_telepathy", "config/framework.yaml"]),
    "st_ column the tool does not ask": (statement_not_asked, ["leadership.csv", "st_staff_skills"]),
    "NUL byte in a CSV": (nul_byte_in_csv, ["leadership.csv", "line 3, column 6", "NUL"]),
    "bell character in a CSV": (bell_in_csv, ["leadership.csv", "line 4, column 8", "U+0007"]),
    "next-line character in a CSV": (next_line_in_csv, ["leadership.csv", "line 4, column 8", "U+0085"]),
    "json key twice in a record": (
        duplicate_key_json,
        ["population.json", "record 1", "population", "twice"],
    ),
    "100k columns": (many_columns, ["leadership.csv", "columns", "config/limits.yaml"]),
    "2M-character line": (long_line, ["leadership.csv", "line 2", "config/limits.yaml"]),
    "1.5M-character cell": (huge_cell, ["leadership.csv", "row 2", "config/limits.yaml"]),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_malformed_input_file_is_one_line(case: str, study_copy: Path) -> None:
    make, fragments = FILE_CASES[case]
    dataset = make(study_copy)
    study = read_study(study_copy)
    started = time.perf_counter()
    with pytest.raises(DatasetError) as stopped:
        extract_dataset(study, dataset)
    assert_one_line(stopped.value, *fragments)
    assert time.perf_counter() - started < 20


def test_a_file_over_the_size_limit_stops_before_it_is_read(
    study_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.sources

    limits = tasks.sources.input_limits().model_copy(update={"max_file_bytes": 1000})
    monkeypatch.setattr(tasks.sources, "input_limits", lambda: limits)
    study = read_study(study_copy)
    with pytest.raises(DatasetError) as stopped:
        extract_dataset(study, "responses:leadership")
    assert_one_line(stopped.value, "leadership.csv", "bytes", "config/limits.yaml")


def test_utf16_files_with_their_nul_bytes_still_read(study_copy: Path) -> None:
    path = study_copy / LEADERSHIP_CSV
    path.write_text(path.read_text(encoding="utf-8").replace(",", "\t"), encoding="utf-16")
    table = extract_dataset(read_study(study_copy), "responses:leadership")
    assert table.rows_read > 100


@pytest.mark.parametrize("case", sorted(STUDY_YAML_CASES))
def test_the_wave_option_check_survives_a_malformed_study_yaml(case: str, study_copy: Path) -> None:
    # Before: a cp1252 study.yaml with --wave gave a UnicodeDecodeError traceback before the run started.
    make, _ = STUDY_YAML_CASES[case]
    study_yaml(study_copy, make(study_copy))
    started = time.perf_counter()
    check_wave(study_copy, "2018")  # the run itself then reports what is wrong with study.yaml
    assert time.perf_counter() - started < 5


# ---------------------------------------------------------------- 5. disk full, permissions, the registry


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, "No space left on device"),
        (errno.EACCES, "Permission denied"),
        (errno.EROFS, "Read-only"),
        (errno.EPERM, "Operation not permitted"),  # what an immutable (chattr +i) .versions gives
    ],
)
def test_a_failed_write_is_one_line_with_its_exit_code(
    code: int, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer

    from operations.cli import EXIT_ENVIRONMENT_ERROR, _stop_cleanly_on_user_errors

    path = tmp_path / "out" / ".versions" / "r" / "reports" / "2018" / "W06000004.en.html"
    with pytest.raises(typer.Exit) as stopped, _stop_cleanly_on_user_errors():
        raise OSError(code, reason, str(path))
    assert stopped.value.exit_code == EXIT_ENVIRONMENT_ERROR
    [line] = [text for text in capsys.readouterr().err.splitlines() if text.strip()]
    assert line.startswith("Stopped: "), line
    assert str(path) in line and reason in line, line  # noqa: PT018
    assert "previous outputs are unchanged" in line


def test_a_failed_run_removes_its_version_and_lock_even_if_the_registry_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks import runs
    from warehouse import registry

    out = tmp_path / "out"
    run = runs.open_run(out, "national-run", {}, "0a1b2c3d-0000-0000-0000-000000000000")
    (run.version / "reports" / "half-written.html").write_text("x", encoding="utf-8")

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(registry, "fail_run", disk_full)
    with pytest.raises(OSError, match="No space"):  # Prefect logs a failing hook; the clean-up is done
        runs.fail_run(out, "0a1b2c3d-0000-0000-0000-000000000000", "disk full")
    assert not run.version.exists()
    assert not (out / LOCK_FILE).exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_registry_is_named_with_how_to_recover(damage: str, tmp_path: Path) -> None:
    from operations.failures import registry_problem
    from warehouse import registry

    out = tmp_path / "out"
    out.mkdir()
    database = out / "registry.sqlite"
    if damage == "garbage":
        database.write_bytes(b"this is not a database" * 100)
    else:
        registry.recent_runs(f"sqlite:///{database}", 1)  # a real one, then cut short
        database.write_bytes(database.read_bytes()[:200])
    with pytest.raises(Exception) as failed:  # noqa: PT011
        registry.recent_runs(f"sqlite:///{database}", 1)
    message = registry_problem(failed.value, out)
    assert message is not None
    assert_one_line(ValueError(message), str(database), "mv ")


def test_a_locked_registry_says_wait(tmp_path: Path) -> None:
    import sqlite3

    from operations.failures import registry_problem
    from warehouse import registry

    out = tmp_path / "out"
    out.mkdir()
    database = out / "registry.sqlite"
    url = f"sqlite:///{database}"
    registry.recent_runs(url, 1)
    holder = sqlite3.connect(database)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(Exception) as failed:  # noqa: PT011
            registry.start_run(url + "?timeout=0.2", "20180101T000000-abcdef12", "national-run", {})
    finally:
        holder.rollback()
        holder.close()
    message = registry_problem(failed.value, out)
    assert message is not None
    assert "locked" in message
    assert str(database) in message


def test_status_on_a_damaged_registry_is_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from operations.cli import EXIT_ENVIRONMENT_ERROR, app

    (tmp_path / "registry.sqlite").write_bytes(b"\x00garbage" * 500)
    result = CliRunner().invoke(app, ["status", "--out", str(tmp_path)])
    assert result.exit_code == EXIT_ENVIRONMENT_ERROR, result.output
    assert "Traceback" not in result.output
    assert "registry.sqlite" in result.output


def test_a_council_with_no_answers_stops_its_scoring_in_one_line() -> None:
    """A rerun of a council the study has no rows for (or all quarantined) had ended in KeyError: 'level'."""
    from tasks.score import COUNTED_COLUMNS, check_answers_loaded

    none = pd.DataFrame({c: pd.Series(dtype="int64" if c == "n" else "str") for c in COUNTED_COLUMNS})
    with pytest.raises(DatasetError) as stopped:
        check_answers_loaded(none, ["W06000003"])
    assert_one_line(stopped.value, "W06000003 (Conwy)", "no answers", "maturity run")


APPROVED_QUOTES_CASES = {
    "deeply nested": "approved: " + "[" * 30000 + "]" * 30000 + "\n",  # before: a RecursionError traceback
    "alias": "a: &a [3f2a9c0b1d4e5f60]\napproved: *a\n",
    "too big": "approved: []\n# " + "x" * 2_000_000 + "\n",
    "not UTF-8": "approved: [] # S\xe2r\n",
    "not hashes": "approved: [hello]\n",
}


@pytest.mark.parametrize("case", sorted(APPROVED_QUOTES_CASES))
def test_a_malformed_quotes_approved_file_stops_before_scoring(case: str, study_copy: Path) -> None:
    content = APPROVED_QUOTES_CASES[case]
    data = content.encode("cp1252") if case == "not UTF-8" else content.encode("utf-8")
    (study_copy / "quotes_approved.yaml").write_bytes(data)
    with pytest.raises(DatasetError) as stopped:
        read_study(study_copy)
    assert_one_line(stopped.value, "quotes_approved.yaml")


def test_a_hard_link_or_fifo_in_place_of_the_lock_is_refused_untouched(
    tmp_path: Path, victim: Path, guarded: None
) -> None:
    """Before: a hard link at OUT/.run.lock truncated the victim; a FIFO there hung the run."""
    out = tmp_path / "out"
    out.mkdir()
    os.link(victim / "precious.txt", out / LOCK_FILE)
    with pytest.raises(OutputLayoutError) as refused:
        take_lock(out, "run-1")
    assert_one_line(refused.value, LOCK_FILE, "hard link")
    (out / LOCK_FILE).unlink()
    os.mkfifo(out / LOCK_FILE)
    with pytest.raises(OutputLayoutError):
        take_lock(out, "run-1")


def test_the_previous_marker_is_never_written_through(tmp_path: Path, victim: Path, guarded: None) -> None:
    """Before: a hard link at .versions/.previous had the victim overwritten with a run id."""
    out = tmp_path / "out"
    commit_version(out, begin_version(out, "20180101T000000-abcdef12"))
    os.link(victim / "precious.txt", out / VERSIONS_DIR / ".previous")
    commit_version(out, begin_version(out, "20180101T000001-abcdef12"))
    assert (out / VERSIONS_DIR / ".previous").read_text(encoding="utf-8") == "20180101T000000-abcdef12"


def test_a_run_failing_after_its_commit_keeps_the_version_current_points_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a failure between the rename of `current` and the lock's release (a FIFO at .previous, a
    full disk) ran the clean-up, which deleted the version `current` had just been pointed at."""
    from warehouse import versions

    out = tmp_path / "out"
    commit_version(out, begin_version(out, "20180101T000000-abcdef12"))
    version = begin_version(out, "20180101T000001-abcdef12")
    (version / "reports" / "page.html").write_text("new", encoding="utf-8")

    def full_disk(out: Path, name: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(versions, "_write_previous_marker", full_disk)
    with pytest.raises(OSError, match="No space left"):
        commit_version(out, version)
    abandon_version(out, version.name)
    assert (out / "reports" / "page.html").read_text(encoding="utf-8") == "new"


def test_a_link_inside_the_current_version_is_not_carried_on(tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "out"
    version = begin_version(out, "20180101T000000-abcdef12")
    commit_version(out, version)
    (version / "reports" / "stolen.html").symlink_to(victim / "precious.txt")
    with pytest.raises(OutputLayoutError) as refused:
        begin_version(out, "20180101T000001-abcdef12")
    assert_one_line(refused.value, "stolen.html", "symbolic link")


def test_the_demo_study_is_written_afresh_never_through_a_planted_link(
    tmp_path: Path, victim: Path, guarded: None
) -> None:
    from prefect.logging import disable_run_logger

    from flows.national import read_study_task

    out = tmp_path / "out"
    (out / "demo-study").mkdir(parents=True)
    (out / "demo-study" / "study.yaml").symlink_to(victim / "precious.txt")
    (out / "demo-study" / "responses").symlink_to(victim / "inner", target_is_directory=True)
    with disable_run_logger():
        study = read_study_task.fn(None, out, None)
    assert study.root == out / "demo-study"
    assert not (out / "demo-study" / "study.yaml").is_symlink()


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("registry.sqlite-journal", os.mkfifo),  # before: the run hung on the FIFO forever
        ("quality", lambda path: path.write_text("x", encoding="utf-8")),  # before: NotADirectoryError
        (VERSIONS_DIR, lambda path: path.write_text("x", encoding="utf-8")),
    ],
)
def test_an_out_entry_of_the_wrong_kind_stops_in_one_line(name: str, make, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    make(out / name)
    with pytest.raises(OutputLayoutError) as refused:
        check_out_links(out)
    assert_one_line(refused.value, str(out / name), "is not a")


def test_a_to_that_is_a_file_stops_in_one_line(tmp_path: Path) -> None:
    """Before: about 30 s of retries, then a traceback."""
    folder = tmp_path / "out" / "release" / "2018"
    folder.mkdir(parents=True)
    (folder / "SHA256SUMS").write_text("", encoding="utf-8")
    target = tmp_path / "a-file"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(DatasetError) as refused:
        copy_release_to_target(folder, "2018.1", str(target))
    assert_one_line(refused.value, "is a file, not a folder")


@pytest.mark.parametrize("title", ["null", "''", "[a, b]", "true"])
def test_a_study_title_that_is_not_text_stops(title: str, study_copy: Path) -> None:
    """Before: `title: null` put "None" on every report."""
    spec = re.sub(r"(?m)^title:.*$", f"title: {title}", valid_study_yaml(study_copy))
    study_yaml(study_copy, spec)
    with pytest.raises(DatasetError) as stopped:
        read_study(study_copy)
    assert_one_line(stopped.value, "title must be the study's name as text")


def test_an_unknown_council_with_control_characters_is_shown_escaped() -> None:
    from maturity.councils import UnknownCouncilError, resolve_council

    with pytest.raises(UnknownCouncilError) as unknown:
        resolve_council("x\x1b[31mred\nStopped: fine")
    assert_one_line(unknown.value, "is not a known council")
    assert "\x1b" not in str(unknown.value)


@pytest.mark.parametrize("folder", [".", VERSIONS_DIR, "quality"])
def test_an_out_every_user_may_write_in_is_refused(folder: str, tmp_path: Path) -> None:
    # Another account could swap one of OUT's folders for a link between the run's check and its write.
    out = tmp_path / "out"
    commit_version(out, begin_version(out, "20180101T000000-abcdef12"))
    (out / folder).mkdir(exist_ok=True)
    (out / folder).chmod(0o1777)  # the sticky bit does not stop another account making a new name
    with pytest.raises(OutputLayoutError) as refused:
        check_out_links(out)
    assert_one_line(refused.value, "writable by every user")
    (out / folder).chmod(0o775)  # a group-writable OUT (a team's, or a user private group's) is allowed
    check_out_links(out)
