"""A page printed to PDF by Chromium (the Debian package), offline: the morning report."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from geo.base.errors import MissingInputError


def pdf(html_text: str, path: Path) -> None:
    """Print the HTML report to PDF with Chromium (Debian package), offline."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise MissingInputError("no_chromium")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html_text, encoding="utf-8")
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               f"--user-data-dir={tmp}/profile", "--host-resolver-rules=MAP * ~NOTFOUND",
               f"--print-to-pdf={Path(path).resolve()}", page.as_uri()]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not Path(path).exists():
            raise MissingInputError("pdf_failed", detail=(done.stderr or "")[-400:])
