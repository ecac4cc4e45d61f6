"""bench/discover.py still runs end to end (tiny fleet, one run, report left alone)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_bench_discover_smoke(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "discover.py"), "--hosts", "300", "--runs", "1",
         "--work", str(tmp_path), "--no-report"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "| `orch discover -S 'cluster=alfa and (web or os.release.major>=12)'` |" in done.stdout
    assert "Report for fact: cluster" in done.stdout
