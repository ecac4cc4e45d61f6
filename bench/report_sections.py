"""bench/REPORT.md is made of ``<!-- section: NAME -->`` blocks, each rewritten by its own
benchmark; this replaces one and keeps every other."""

from __future__ import annotations

import re
from pathlib import Path


def replace_section(path: Path, name: str, text: str) -> None:
    """Put ``text`` in section ``name`` of ``path`` (appended when the section is new)."""
    current = path.read_text() if path.exists() else "# orch benchmarks\n"
    start, end = f"<!-- section: {name} -->", f"<!-- end section: {name} -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        current = pattern.sub(lambda _: block, current)
    else:
        current = current.rstrip() + "\n\n" + block + "\n"
    path.write_text(current)
