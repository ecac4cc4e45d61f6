"""Differential fuzzing: random INI and YAML inventories through orch and real ansible-inventory.

Not collected by pytest (it needs ansible-core in .venv-ansible/, made by
scripts/ansible-venv.sh, and takes about a second per case). Run it after changing the
inventory code:

    .venv/bin/python tests/unit/inventory/fuzz_against_ansible.py --seed 1 --cases 100

It prints every case where the two disagree (one refuses what the other accepts, or the
--list / --graph --vars outputs differ) and keeps those files in --work for a look.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from orch.errors import InputError  # noqa: E402
from orch.inventory import load_inventory  # noqa: E402

ANSIBLE = REPO / ".venv-ansible" / "bin" / "ansible-inventory"
GROUPS = ["a", "b", "c", "h1", "web-x", "all", "ungrouped", "c.d"]
HOSTS = ["h1", "h2", "a", "h[1:3]", "h[a:b]", "h2:2200", "[::1]:23", "10.0.0.[1:2]", "x[01:02]",
         "h3 #c", '"q h"', "h[01:05:2]"]
VALUES = ["1", '"1"', "x", "True", "yes", "[1,2]", "{'k':1}", "1.5", "None", "", "'q q'", "010",
          "a=b", "#x", "a#b", '[1,"a"]', "(1,)", 'b"x"', "1e3", "-0", "0x10", "1_0", "...", "1j"]
KEYS = ["v", "w", "ansible_port", "ansible_host", "ansible_group_priority", "facts", "classes"]


def ini_text(r: random.Random) -> str:
    out = []
    for _ in range(r.randint(1, 9)):
        group, kind = r.choice(GROUPS), r.choice(["", ":vars", ":children", ""])
        out.append(f"[{group}{kind}]")
        for _ in range(r.randint(0, 3)):
            if kind == ":vars":
                key = r.choice(KEYS)
                value = str(r.randint(0, 5)) if key == "ansible_group_priority" else r.choice(VALUES)
                out.append(f"{key}={value}")
            elif kind == ":children":
                out.append(r.choice(GROUPS[:5]))
            else:
                pairs = " ".join(f"{r.choice(KEYS[:2])}={r.choice(VALUES)}"
                                 for _ in range(r.randint(0, 2)))
                out.append(f"{r.choice(HOSTS)} {pairs}".strip())
    return "\n".join(out) + "\n"


def _value(r: random.Random, depth: int = 0):
    if depth > 2 or r.random() < 0.6:
        return r.choice([1, "x", True, None, 2.5, [1], {"k": "v"}, "h1"])
    return {r.choice(KEYS[:2]): _value(r, depth + 1)}


def _group(r: random.Random, depth: int = 0):
    group: dict = {}
    if r.random() < 0.6:
        group["hosts"] = {r.choice(HOSTS): None if r.random() < 0.4 else {r.choice(KEYS): _value(r)}
                          for _ in range(r.randint(1, 3))}
    if r.random() < 0.5:
        group["vars"] = {key: r.randint(0, 5) if key == "ansible_group_priority" else _value(r)
                         for key in r.sample(KEYS, r.randint(1, 3))}
    if depth < 3 and r.random() < 0.5:
        group["children"] = {r.choice(GROUPS[:5]): _group(r, depth + 1) if r.random() < 0.7 else None
                             for _ in range(r.randint(1, 2))}
    return group if group or r.random() < 0.5 else None


def yaml_text(r: random.Random) -> str:
    import yaml

    return yaml.safe_dump({r.choice(GROUPS[:6]): _group(r) for _ in range(r.randint(1, 3))})


def _sets(listing: dict) -> dict:
    return {key: value if key == "_meta" else
            {k: sorted(v) if isinstance(v, list) else v for k, v in value.items()}
            for key, value in listing.items()}


def compare(path: Path, env: dict) -> str | None:
    """None when orch and Ansible agree on ``path``, else what differs."""
    theirs = subprocess.run([str(ANSIBLE), "-i", str(path), "--list"], env=env,
                            capture_output=True, text=True)
    try:
        inventory = load_inventory([str(path)])
        ours, refused = json.loads(inventory.to_list_json()), None
    except InputError as error:
        ours, refused = None, error
    if theirs.returncode != 0:
        return None if refused else "Ansible refuses it, orch accepts it"
    if refused:
        return f"orch refuses it ({refused}), Ansible accepts it"
    if _sets(json.loads(theirs.stdout)) != _sets(ours):
        return "--list differs"
    graph = subprocess.run([str(ANSIBLE), "-i", str(path), "--graph", "--vars"], env=env,
                           capture_output=True, text=True).stdout.rstrip("\n")
    return None if graph == inventory.to_graph(show_vars=True) else "--graph --vars differs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--work", default=None, help="folder for the generated files")
    options = parser.parse_args()
    if not ANSIBLE.exists():
        print("run scripts/ansible-venv.sh first", file=sys.stderr)
        return 2
    work = Path(options.work or tempfile.mkdtemp(prefix="orch-fuzz-"))
    (work / "home").mkdir(parents=True, exist_ok=True)
    (work / "ansible.cfg").write_text("")
    env = {"PATH": os.environ["PATH"], "HOME": str(work / "home"), "LANG": "C.UTF-8",
           "ANSIBLE_CONFIG": str(work / "ansible.cfg"), "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True"}
    failures = 0
    for index in range(options.cases):
        r = random.Random(options.seed * 100_000 + index)
        kind = "ini" if index % 2 == 0 else "yml"
        path = work / f"case{options.seed}_{index}.{kind}"
        path.write_text(ini_text(r) if kind == "ini" else yaml_text(r), encoding="utf-8")
        problem = compare(path, env)
        if problem:
            failures += 1
            print(f"{path}: {problem}")
        else:
            path.unlink()
    print(f"{options.cases - failures} agreed, {failures} differed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
