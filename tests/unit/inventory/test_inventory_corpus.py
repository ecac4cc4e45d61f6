"""Every inventory of the shared corpus and of tests/data/inventory against real ansible-inventory.

The expected files were written by ansible-core 2.19 (``ansible-inventory --list`` and
``--graph --vars``; ``scripts/regen-inventory-expected.sh`` rewrites ours), so these tests need
no Ansible. A case in ``cases/invalid/`` must be refused with exit 2 and one line naming the
file and line.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from orch.cli import main
from orch.cli.env import Environment
from orch.errors import InputError
from orch.inventory import load_inventory

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared" / "inventory-corpus"
OURS = REPO / "tests" / "data" / "inventory"


def _cases(root: Path, invalid: bool) -> list:
    folder = root / "cases" / "invalid" if invalid else root / "cases"
    if not folder.is_dir():
        return []
    return [pytest.param(root, path.name, id=f"{root.parent.name}/{path.name}")
            for path in sorted(folder.iterdir()) if path.name != "invalid"]


def _need(root: Path) -> None:
    if not (root / "cases").is_dir():
        pytest.skip(f"inventory corpus {root} is missing (it lives beside the repo in shared/)")


VALID = _cases(SHARED, False) + _cases(OURS, False)
INVALID = _cases(SHARED, True) + _cases(OURS, True)


def _normalised(listing: dict) -> dict:
    """Host and child lists compared as sets, as the corpus README asks."""
    result = {}
    for key, value in listing.items():
        if key == "_meta":
            result[key] = value
        else:
            result[key] = {k: sorted(v) if isinstance(v, list) else v for k, v in value.items()}
    return result


def _orch(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, env=Environment(stdout=out, stderr=err, stdin=io.StringIO(), cwd=REPO))
    return code, out.getvalue(), err.getvalue()


def test_the_shared_corpus_is_there():
    _need(SHARED)
    assert len(_cases(SHARED, False)) >= 20 and len(_cases(SHARED, True)) >= 5


@pytest.mark.parametrize(("root", "name"), VALID)
def test_list_equals_ansible_inventory(root: Path, name: str):
    _need(root)
    code, out, err = _orch(["inventory", "--list", "-i", str(root / "cases" / name)])
    assert (code, err) == (0, "")
    expected = json.loads((root / "expected" / f"{name}.json").read_text(encoding="utf-8"))
    assert _normalised(json.loads(out)) == _normalised(expected)


@pytest.mark.parametrize(("root", "name"), VALID)
def test_graph_with_vars_equals_ansible_inventory(root: Path, name: str):
    _need(root)
    code, out, err = _orch(["inventory", "--graph", "--vars", "-i", str(root / "cases" / name)])
    assert (code, err) == (0, "")
    expected = (root / "expected" / f"{name}.graph.txt").read_text(encoding="utf-8")
    assert out.rstrip("\n") == expected.rstrip("\n")


@pytest.mark.parametrize(("root", "name"), INVALID)
def test_invalid_inventory_is_one_line_exit_2_naming_file_and_line(root: Path, name: str):
    _need(root)
    path = root / "cases" / "invalid" / name
    code, out, err = _orch(["inventory", "--list", "-i", str(path)])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"orch: error: {path}:")
    with pytest.raises(InputError) as raised:
        load_inventory([str(path)])
    assert raised.value.where.file == str(path)
    assert isinstance(raised.value.where.line, int) and raised.value.where.line >= 1


@pytest.mark.parametrize(("root", "name"), INVALID)
def test_invalid_reason_is_ansibles(root: Path, name: str):
    """The reason orch gives is the one Ansible gives (its last parser's message)."""
    _need(root)
    expected = (root / "expected" / f"{name}.error.txt").read_text(encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_inventory([str(root / "cases" / "invalid" / name)])
    reason = raised.value.message.split(": ", 1)[1]
    assert _first_words(reason) in expected.replace("\n\n", " ").replace("\n", " ")


def _first_words(text: str) -> str:
    """Ansible prints Python type names of its own classes; compare the message up to them."""
    return text.split("<class")[0].split("got: '")[0].split("got:")[0].strip()[:60]


HOST_CASES = [c for c in VALID if (c.values[0] / "expected" / f"{c.values[1]}.hosts.json").exists()]


@pytest.mark.parametrize(("root", "name"), HOST_CASES)
def test_host_equals_ansible_inventory_for_every_host(root: Path, name: str):
    expected = json.loads((root / "expected" / f"{name}.hosts.json").read_text(encoding="utf-8"))
    for host, variables in expected.items():
        if variables is None:  # Ansible cannot address this host by name (e.g. a space in it)
            continue
        code, out, err = _orch(["inventory", "--host", host, "-i", str(root / "cases" / name)])
        assert (code, err) == (0, "")
        assert json.loads(out) == variables, host
