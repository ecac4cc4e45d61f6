"""file.write/stat/remove/fetch through the real runtime request path, on real files (as root
here, so owners can change)."""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import threading
import time

import pytest
from collection_support import InProcessHost

MIB = 1024 * 1024


@pytest.fixture
def node(tmp_path):
    return InProcessHost(tmp_path / "state")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_write_is_idempotent_by_checksum(node, tmp_path):
    target = tmp_path / "motd"
    first = node.ok("file", "write", {"path": str(target), "content": "hello\n", "mode": "0640"})
    assert first["changed"] is True and first["size"] == 6 and first["sha256"] == sha(b"hello\n")
    assert target.read_text() == "hello\n" and oct(target.stat().st_mode & 0o7777) == "0o640"
    inode = target.stat().st_ino
    second = node.ok("file", "write", {"path": str(target), "content": "hello\n", "mode": "0640"})
    assert second["changed"] is False and target.stat().st_ino == inode
    assert second["backup_path"] is None and second["diff"] is None
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".orch-tmp")]


def test_mode_and_owner_changes_count_and_are_applied_in_place(node, tmp_path):
    target = tmp_path / "conf"
    node.ok("file", "write", {"path": str(target), "content": "x=1\n", "mode": "0644"})
    inode = target.stat().st_ino
    data = node.ok("file", "write", {"path": str(target), "content": "x=1\n", "mode": "0600"})
    assert data["changed"] is True and data["mode"] == "0600"
    assert target.stat().st_mode & 0o7777 == 0o600 and target.stat().st_ino == inode
    nobody = pwd.getpwnam("nobody")
    data = node.ok("file", "write", {"path": str(target), "content": "x=1\n",
                                     "owner": "nobody", "group": "nogroup"})
    assert data["changed"] is True and data["owner"] == "nobody" and data["group"] == "nogroup"
    assert target.stat().st_uid == nobody.pw_uid
    again = node.ok("file", "write", {"path": str(target), "content": "x=1\n",
                                      "owner": "nobody", "group": "nogroup", "mode": "0600"})
    assert again["changed"] is False
    # New content keeps the owner and mode that are there when none is asked for.
    node.ok("file", "write", {"path": str(target), "content": "x=2\n"})
    assert target.stat().st_uid == nobody.pw_uid and target.stat().st_mode & 0o7777 == 0o600
    reply = node.call("file", "write", {"path": str(target), "content": "x", "owner": "nosuchuser"})
    assert reply["status"] == "Aborted" and reply["message"] == "no user 'nosuchuser' on this host"


def test_readers_never_see_a_partial_file(node, tmp_path):
    target = tmp_path / "big"
    versions = [bytes([65 + number]) * (256 * 1024) for number in range(6)]
    allowed = {sha(version) for version in versions}
    node.ok("file", "write", {"path": str(target), "content": versions[0].decode()})
    seen, bad, stop = set(), [], threading.Event()

    def reader():
        while not stop.is_set():
            data = target.read_bytes()
            digest = sha(data)
            seen.add(digest)
            if digest not in allowed:
                bad.append(len(data))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for round_number in range(60):
            node.ok("file", "write", {"path": str(target),
                                      "content": versions[round_number % 6].decode()})
    finally:
        stop.set()
        thread.join()
    assert bad == [] and len(seen) >= 2


def test_check_mode_shows_a_diff_and_changes_nothing(node, tmp_path):
    target = tmp_path / "app.conf"
    target.write_text("port = 80\nname = web\n")
    before = (target.read_bytes(), target.stat().st_mtime_ns, target.stat().st_ino)
    data = node.ok("file", "write", {"path": str(target), "content": "port = 8080\nname = web\n",
                                     "mode": "0600"}, check=True)
    assert data["changed"] is True
    assert data["diff"].splitlines() == [
        f"--- a{target}", f"+++ b{target}", "@@ -1,2 +1,2 @@", "-port = 80", "+port = 8080",
        " name = web"]
    assert (target.read_bytes(), target.stat().st_mtime_ns, target.stat().st_ino) == before
    sensitive = node.ok("file", "write", {"path": str(target), "content": "password = hunter2\n",
                                          "sensitive": True}, check=True)
    assert sensitive["changed"] is True and sensitive["diff"] is None
    assert "hunter2" not in (node.state_dir / "audit.log").read_text()
    new = node.ok("file", "write", {"path": str(tmp_path / "new"), "content": "a\n"}, check=True)
    assert new["changed"] is True and "--- /dev/null" in new["diff"]
    assert not (tmp_path / "new").exists()


def test_backup_keeps_the_old_file(node, tmp_path):
    target = tmp_path / "hosts"
    target.write_text("old\n")
    data = node.ok("file", "write", {"path": str(target), "content": "new\n", "backup": True})
    backup = data["backup_path"]
    assert backup.startswith(f"{target}.") and backup.endswith("~")
    assert open(backup).read() == "old\n" and target.read_text() == "new\n"
    again = node.ok("file", "write", {"path": str(target), "content": "new\n", "backup": True})
    assert again["backup_path"] is None
    assert len([name for name in os.listdir(tmp_path) if name.endswith("~")]) == 1


def test_binary_content_and_size_limit(node, tmp_path):
    target = tmp_path / "blob"
    blob = bytes(range(256)) * 4
    data = node.ok("file", "write", {"path": str(target),
                                     "content_b64": base64.b64encode(blob).decode()})
    assert target.read_bytes() == blob and data["sha256"] == sha(blob)
    reply = node.call("file", "write", {"path": str(target), "content": "é" * (MIB // 2 + 1)})
    assert reply["status"] == "Aborted"
    assert reply["message"] == ("content is 1048578 bytes, over the file module's limit of "
                                "1048576 bytes (1 MiB)")
    assert target.read_bytes() == blob
    reply = node.call("file", "write", {"path": str(target), "content": "a", "content_b64": "YQ=="})
    assert reply["status"] == "Aborted" and "exactly one" in reply["message"]
    reply = node.call("file", "write", {"path": "relative/x", "content": "a"})
    assert reply["status"] == "InvalidData" and "'path'" in reply["message"]
    reply = node.call("file", "write", {"path": str(tmp_path / "no" / "x"), "content": "a"})
    assert reply["status"] == "Aborted" and "does not exist" in reply["message"]


def test_stat_remove_and_fetch(node, tmp_path):
    target = tmp_path / "data.txt"
    target.write_bytes(b"payload\n")
    os.chmod(target, 0o604)
    info = node.ok("file", "stat", {"path": str(target)})
    assert info["exists"] is True and info["type"] == "file" and info["size"] == 8
    assert info["mode"] == "0604" and info["owner"] == "root" and info["sha256"] == sha(b"payload\n")
    assert abs(info["mtime"] - target.stat().st_mtime) < 0.01
    link = tmp_path / "link"
    link.symlink_to(target)
    assert node.ok("file", "stat", {"path": str(link)})["type"] == "link"
    assert node.ok("file", "stat", {"path": str(tmp_path)})["type"] == "directory"
    assert node.ok("file", "stat", {"path": str(tmp_path / "none")}) ["exists"] is False

    fetched = node.ok("file", "fetch", {"path": str(target)})
    assert base64.b64decode(fetched["content_b64"]) == b"payload\n" and fetched["size"] == 8
    big = tmp_path / "big"
    big.write_bytes(b"0" * (MIB + 1))
    reply = node.call("file", "fetch", {"path": str(big)})
    assert reply["status"] == "Aborted" and "over the file module's limit" in reply["message"]

    assert node.ok("file", "remove", {"path": str(target)}, check=True)["changed"] is True
    assert target.exists()
    assert node.ok("file", "remove", {"path": str(target)})["changed"] is True
    assert not target.exists()
    assert node.ok("file", "remove", {"path": str(target)})["changed"] is False
    reply = node.call("file", "remove", {"path": str(tmp_path)})
    assert reply["status"] == "Aborted" and "is a directory" in reply["message"]


def test_write_follows_a_link_to_its_file(node, tmp_path):
    real = tmp_path / "real"
    real.write_text("a\n")
    link = tmp_path / "link"
    link.symlink_to(real)
    node.ok("file", "write", {"path": str(link), "content": "b\n"})
    assert link.is_symlink() and real.read_text() == "b\n"


def test_many_writes_are_quick(node, tmp_path):
    started = time.time()
    for number in range(20):
        node.ok("file", "write", {"path": str(tmp_path / f"f{number}"), "content": "x\n"})
    assert time.time() - started < 10
