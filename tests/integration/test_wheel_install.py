"""A built wheel ships the modules (issue 14 item 6): build it from a copy of the source, install
it alone into a folder, and run ``orch agents`` and ``orch call rpcutil.ping`` against the lab
from there, with neither the checkout's orch/ nor its modules/ on the path.

The wheel is built by ``pip wheel`` with build isolation (setuptools and wheel from the package
index, as any user's build). The installed orch runs under ``python -S`` with PYTHONPATH = the
install folder + this venv's site-packages (for asyncssh & co.): ``-S`` keeps the venv's
editable-install ``.pth`` from putting the checkout on the path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "orch", "modules")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                            "-q", "-w", str(out)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    [wheel] = out.glob("orch-*.whl")
    return wheel


def test_wheel_holds_every_shipped_module_and_the_runtime(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {path.name for path in (REPO / "modules").glob("*.py")}
    assert shipped >= {"rpcutil.py", "orchhost.py", "haproxy.py"}
    assert {f"orch/shipped_modules/{name}" for name in shipped} <= names
    assert "orch/runtime/core.py" in names and "orch/runtime/bootstrap.py" in names
    assert not any(name.startswith("modules/") for name in names)  # no top-level 'modules'


def test_wheel_only_install_lists_modules_and_pings_the_lab(wheel, lab, tmp_path):
    target = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                                "--target", str(target), str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    workdir = tmp_path / "work"
    workdir.mkdir()
    # The lab's orch.cfg without module_paths (which names the checkout's modules/).
    lines = [line for line in (lab.workdir / "orch.cfg").read_text().splitlines()
             if not line.startswith(("module_paths", "fact_cache", "journal"))]
    lines += [f"fact_cache = sqlite:///{workdir / 'facts.db'}",
              f"journal = sqlite:///{workdir / 'journal.db'}"]
    (workdir / "orch.cfg").write_text("\n".join(lines) + "\n")
    deps = sysconfig.get_paths()["purelib"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir),
           "PYTHONPATH": f"{target}:{deps}", "PYTHONDONTWRITEBYTECODE": "1"}

    def orch(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-S", "-m", "orch", *argv], cwd=workdir, env=env,
                              capture_output=True, text=True, timeout=120)

    where = subprocess.run(
        [sys.executable, "-S", "-c", "import orch, orch.agents.registry as r; "
         "print(orch.__file__); print(r.SHIPPED_MODULES); import sys; print(*sys.path)"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    package_file, modules_dir, *path = where.stdout.split()
    assert package_file.startswith(str(target)), package_file
    assert modules_dir == str(target / "orch" / "shipped_modules")
    assert str(REPO) not in path and str(REPO / "modules") not in path

    agents = orch("agents")
    assert agents.returncode == 0, agents.stderr
    listed = {line.split()[0] for line in agents.stdout.splitlines()[1:] if line.strip()}
    assert {"rpcutil", "appmgr", "haproxy", "nrpe", "orchhost"} <= listed

    ping = orch("call", "rpcutil.ping", "-v")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    for name in lab.hosts:
        assert name in ping.stdout
