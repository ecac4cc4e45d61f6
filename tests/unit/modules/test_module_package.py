"""package through the real runtime request path, with the real apt and dpkg of this machine.

Packages come from a local file apt source the test writes (no network at test time): the real
Debian archive's ``sl`` (kept by scripts/test-debs.sh, called from system-deps.sh) and two
versions of a tiny package built here with dpkg-deb. The module reaches that source through
host.json ``config.package.apt_options``, as an operator would point it at a private mirror;
the dpkg database changed is the machine's own.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from collection_support import InProcessHost

TEST_DEBS = Path("/var/cache/orch/test-debs")
TINY = "orch-test-tiny"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="installing packages needs root"),
    pytest.mark.skipif(not shutil.which("apt-get") or not shutil.which("dpkg-deb"),
                       reason="no apt/dpkg on this machine"),
]


def installed(name: str) -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Status} ${Version}", name],
                          capture_output=True, text=True)
    words = done.stdout.split()
    return words[-1] if done.returncode == 0 and words[2:3] == ["installed"] else ""


def build_tiny(folder: Path, version: str) -> Path:
    root = folder / f"build-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {TINY}\nVersion: {version}\nArchitecture: all\nMaintainer: orch <orch@localhost>\n"
        f"Section: misc\nPriority: optional\nDescription: orch test package\n tiny.\n")
    share = root / "usr" / "share" / TINY
    share.mkdir(parents=True)
    (share / "version").write_text(version + "\n")
    deb = folder / f"{TINY}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


def packages_entry(deb: Path) -> str:
    control = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True,
                             text=True).stdout.rstrip("\n")
    data = deb.read_bytes()
    return (f"{control}\nFilename: ./{deb.name}\nSize: {len(data)}\n"
            f"MD5sum: {hashlib.md5(data).hexdigest()}\nSHA256: {hashlib.sha256(data).hexdigest()}\n")


class Repo:
    """A local apt source: a folder of .debs, its Packages file, private lists and caches."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.pool = folder / "pool"
        self.pool.mkdir(parents=True)
        (folder / "lists" / "partial").mkdir(parents=True)
        (folder / "parts").mkdir()
        (folder / "sources.list").write_text(f"deb [trusted=yes] file:{self.pool} ./\n")

    def publish(self, *debs: Path) -> None:
        for deb in debs:
            shutil.copy(deb, self.pool / deb.name)
        entries = [packages_entry(deb) for deb in sorted(self.pool.glob("*.deb"))]
        (self.pool / "Packages").write_text("\n".join(entries))

    def update(self) -> None:
        """apt-get update of this source only (into the private lists)."""
        argv = ["apt-get", "-q", "update"]
        for option in self.config["package"]["apt_options"]:
            argv += ["-o", option]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    @property
    def config(self) -> dict:
        return {"package": {"lock_timeout": 1, "apt_options": [
            f"Dir::Etc::sourcelist={self.folder / 'sources.list'}",
            f"Dir::Etc::sourceparts={self.folder / 'parts'}",
            f"Dir::State::Lists={self.folder / 'lists'}",
            "Dir::Cache::pkgcache=", "Dir::Cache::srcpkgcache=",
        ]}}


def purge(name: str) -> None:
    if installed(name):
        subprocess.run(["dpkg", "--purge", name], capture_output=True, timeout=120)


@pytest.fixture
def repo(tmp_path):
    repo = Repo(tmp_path / "repo")
    yield repo
    purge(TINY)


@pytest.fixture
def node(tmp_path, repo):
    return InProcessHost(tmp_path / "state", repo.config)


def test_install_and_remove_a_real_archive_package(node, repo):
    debs = sorted(glob.glob(str(TEST_DEBS / "sl_*.deb")))
    assert debs, f"no sl .deb in {TEST_DEBS}: run `make install` (scripts/test-debs.sh)"
    if installed("sl"):
        pytest.skip("sl is installed on this machine already; not removing it")
    repo.publish(Path(debs[-1]))
    version = debs[-1].split("_")[1].replace("%3a", ":")
    try:
        status = node.ok("package", "status", {"name": "sl"})
        assert status == dict(status, version="", version_before="", changed=False,
                              manager="apt")
        repo.update()  # check mode never refreshes the lists
        dry = node.ok("package", "install", {"name": "sl", "update_cache": True}, check=True)
        assert dry["changed"] is True and dry["version"] == version and installed("sl") == ""
        first = node.ok("package", "install", {"name": "sl", "update_cache": True})
        assert first == dict(first, version_before="", version=version, changed=True)
        assert installed("sl") == version and os.access("/usr/games/sl", os.X_OK)
        dry = node.ok("package", "install", {"name": "sl"}, check=True)
        assert dry["changed"] is False and dry["version"] == version
        assert node.ok("package", "install", {"name": "sl"})["changed"] is False
        assert node.ok("package", "status", {"name": "sl"})["version"] == version

        dry = node.ok("package", "remove", {"name": "sl"}, check=True)
        assert dry["changed"] is True and installed("sl") == version
        removed = node.ok("package", "remove", {"name": "sl"})
        assert removed == dict(removed, version_before=version, version="", changed=True)
        assert installed("sl") == "" and not os.path.exists("/usr/games/sl")
        assert node.ok("package", "remove", {"name": "sl"})["changed"] is False
    finally:
        purge("sl")


def test_upgrade_between_two_built_versions(node, repo, tmp_path):
    purge(TINY)
    v1, v2 = build_tiny(tmp_path, "1.0-1"), build_tiny(tmp_path, "2.0-1")
    subprocess.run(["dpkg", "-i", str(v1)], check=True, capture_output=True)
    repo.publish(v1, v2)
    share = Path(f"/usr/share/{TINY}/version")
    assert node.ok("package", "status", {"name": TINY})["version"] == "1.0-1"

    repo.update()
    dry = node.ok("package", "upgrade", {"name": TINY}, check=True)
    assert dry == dict(dry, version_before="1.0-1", version="2.0-1", changed=True)
    assert share.read_text() == "1.0-1\n" and installed(TINY) == "1.0-1"
    up = node.ok("package", "upgrade", {"name": TINY, "update_cache": True})
    assert up == dict(up, version_before="1.0-1", version="2.0-1", changed=True)
    assert share.read_text() == "2.0-1\n" and installed(TINY) == "2.0-1"
    again = node.ok("package", "upgrade", {"name": TINY})
    assert again == dict(again, version_before="2.0-1", version="2.0-1", changed=False)

    # An exact version: back to 1.0-1 (a downgrade, asked for), then idempotent.
    down = node.ok("package", "install", {"name": TINY, "version": "1.0-1"})
    assert down["changed"] is True and installed(TINY) == "1.0-1"
    assert share.read_text() == "1.0-1\n"
    assert node.ok("package", "install", {"name": TINY, "version": "1.0-1"})["changed"] is False
    reply = node.call("package", "install", {"name": TINY, "version": "9.9"})
    assert reply["status"] == "Aborted"
    assert reply["message"] == f"version 9.9 of {TINY} is not available"


def test_held_lock_is_a_quick_clear_failure(node, repo, tmp_path):
    purge(TINY)
    repo.publish(build_tiny(tmp_path, "1.0-1"))
    node.ok("package", "status", {"name": TINY})
    with open("/var/lib/dpkg/lock-frontend", "w") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX)  # as apt and dpkg take it
        started = time.time()
        reply = node.call("package", "install", {"name": TINY, "update_cache": True})
        elapsed = time.time() - started
    assert reply["status"] == "Aborted" and elapsed < 20, (reply, elapsed)
    assert reply["message"].startswith("package manager is locked by another process (waited 1s)")
    assert "lock-frontend" in reply["message"] and installed(TINY) == "", reply["message"]
    assert node.ok("package", "install", {"name": TINY})["changed"] is True


@pytest.mark.parametrize("name", ["sl; reboot", "-oAPT::Foo=1", "../sl", "a b", "$(id)"])
def test_bad_names_are_refused_before_anything_runs(node, name):
    reply = node.call("package", "install", {"name": name})
    assert reply["status"] == "InvalidData" and "'name'" in reply["message"]


def test_unknown_package_is_a_clear_abort(node, repo):
    repo.publish()
    reply = node.call("package", "upgrade", {"name": "no-such-package-orch", "update_cache": True})
    assert reply["status"] == "Aborted"
    assert reply["message"] == "no candidate version of no-such-package-orch (unknown package?)"
