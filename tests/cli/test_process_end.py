"""A command run in its own process (`flask --app server ...`, as cron runs it) ends as soon as it has succeeded,
without freeing its objects one by one: what it wrote is whole and readable, its output complete, its exit code
0; a failing command still ends with its message and its code."""
from __future__ import annotations

import os
import subprocess
import sys

from helpers import ROOT, case, grid, invoke, numbered, published, write_cases, write_units

DAY = "2021-07-31"


def _flask(data, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZONES_DATA_DIR": str(data), "ZONES_QUALITY_GATE": "off"}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "server", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_run_in_its_own_process_is_whole_and_its_output_complete(runner, app, tmp_path):
    data = app.config["ZONES"].data_dir
    assert invoke(runner, "import-units", write_units(grid(2, 3), tmp_path / "units.geojson")).exit_code == 0
    cases = write_cases(numbered([case("10002", DAY), case("10005", DAY)]), tmp_path / "cases.csv")
    assert invoke(runner, "import-cases", cases).exit_code == 0
    out = _flask(data, "reclassify", "--date", DAY)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip(), "the command's summary was printed in full"
    levels = published(app, DAY, "commune")             # the run committed and its files whole, read by another process
    assert len(levels) == 6 and levels["10002"]["level"] != "unknown"
    again = _flask(data, "users", "add", "viewer-1", "--role", "viewer")
    assert again.returncode == 0 and "viewer-1" in again.stdout, again.stderr


def test_a_failing_command_still_says_why_with_its_code(tmp_path):
    out = _flask(tmp_path / "data", "reclassify", "--date", DAY)
    assert out.returncode != 0 and out.stderr + out.stdout
