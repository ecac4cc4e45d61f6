"""Issue 3's call benchmark: ``bench/run.py call`` (orch call rpcutil.ping vs Ansible vs the floor).

    .venv/bin/python bench/call.py [--hosts 200] [--pairs 3] [--keep-lab] [--no-report]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["call", *sys.argv[1:]]))
