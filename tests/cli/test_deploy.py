"""The shipped systemd units and the README's crontab line, checked by the tools that will run them."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from helpers import ROOT

UNITS = ("zones.service", "zones-reclassify.service", "zones-reclassify.timer")
needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


@needs_systemd
def test_systemd_units_verify(tmp_path):
    # installed at /srv/zones; here the repository stands in for it (its .venv has gunicorn and flask)
    for name in UNITS:
        text = (ROOT / "deploy" / name).read_text(encoding="utf-8").replace("/srv/zones", str(ROOT))
        (tmp_path / name).write_text(text, encoding="utf-8")
    out = subprocess.run(["systemd-analyze", "verify", *[str(tmp_path / n) for n in UNITS]],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
    timer = (ROOT / "deploy" / "zones-reclassify.timer").read_text(encoding="utf-8")
    spec = re.search(r"^OnCalendar=(.+)$", timer, re.M).group(1)
    cal = subprocess.run(["systemd-analyze", "calendar", spec], capture_output=True, text=True, timeout=30)
    assert cal.returncode == 0 and "23:00:00 UTC" in cal.stdout       # 06:00 in Vietnam is 23:00 UTC


def test_readme_crontab_line_runs_the_commands_we_ship():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```cron\n(.*?)```", readme, re.S).group(1)
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#") and "=" not in ln.split()[0]]
    assert len(lines) == 1
    fields = lines[0].split()
    assert fields[:5] == ["0", "6", "*", "*", "*"]
    for command in re.findall(r"flask --app server (\S+)", lines[0]):
        assert command in ("reclassify", "report"), command
    assert "CRON_TZ=Asia/Ho_Chi_Minh" in block
