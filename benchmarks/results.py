"""Each benchmark owns one section of benchmarks/RESULTS.md, between HTML comment markers."""
from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Benchmark results\n\nEach section is rewritten by the script named in it; figures are from this machine.\n"


def write_section(name: str, lines: list[str]) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    if not text.startswith(HEADER):
        text = HEADER
    block = f"<!-- {name} -->\n" + "\n".join(lines).rstrip() + f"\n<!-- /{name} -->\n"
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->\n", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    RESULTS.write_text(text, encoding="utf-8")
