"""file.directory and file.link through the real runtime request path, on real folders."""

from __future__ import annotations

import os
import pwd

import pytest
from collection_support import InProcessHost


@pytest.fixture
def node(tmp_path):
    return InProcessHost(tmp_path / "state")


def test_directory_is_made_with_parents_then_unchanged(node, tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    dry = node.ok("file", "directory", {"path": str(deep), "mode": "0750"}, check=True)
    assert dry["changed"] is True and dry["changes"] == ["created"] and dry["mode"] == "0750"
    assert not (tmp_path / "a").exists()
    made = node.ok("file", "directory", {"path": str(deep), "mode": "0750",
                                         "owner": "nobody"})
    assert made["changed"] is True and made["changes"] == ["created"]
    nobody = pwd.getpwnam("nobody").pw_uid
    for folder in (tmp_path / "a", tmp_path / "a" / "b", deep):  # each new one, as Ansible
        assert folder.is_dir() and folder.stat().st_mode & 0o7777 == 0o750
        assert folder.stat().st_uid == nobody
    again = node.ok("file", "directory", {"path": str(deep), "mode": "0750", "owner": "nobody"})
    assert again["changed"] is False and again["changes"] == []
    assert again["mode"] == "0750" and again["owner"] == "nobody"


def test_directory_fixes_mode_and_owner(node, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    dry = node.ok("file", "directory", {"path": str(folder), "mode": "0700",
                                        "group": "nogroup"}, check=True)
    assert dry["changes"] == ["mode", "group"] and dry["mode"] == "0700"
    assert folder.stat().st_mode & 0o7777 == 0o755
    data = node.ok("file", "directory", {"path": str(folder), "mode": "0700",
                                         "group": "nogroup"})
    assert data["changed"] is True and data["changes"] == ["mode", "group"]
    assert folder.stat().st_mode & 0o7777 == 0o700 and data["group"] == "nogroup"
    assert node.ok("file", "directory", {"path": str(folder)})["changed"] is False


def test_directory_refuses_a_file_and_follows_a_link(node, tmp_path):
    (tmp_path / "file").write_text("x")
    reply = node.call("file", "directory", {"path": str(tmp_path / "file" / "sub")})
    assert reply["status"] == "Aborted"
    assert reply["message"] == f"{tmp_path / 'file'} exists and is not a directory"
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert node.ok("file", "directory", {"path": str(tmp_path / "link")})["changed"] is False
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    reply = node.call("file", "directory", {"path": str(tmp_path / "dangling")})
    assert reply["status"] == "Aborted" and "which does not exist" in reply["message"]


def test_link_made_replaced_and_unchanged(node, tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    current = tmp_path / "current"
    made = node.ok("file", "link", {"path": str(current), "target": "v1"})
    assert made["changed"] is True and made["replaced"] is None
    assert os.readlink(current) == "v1"
    assert node.ok("file", "link", {"path": str(current), "target": "v1"})["changed"] is False
    dry = node.ok("file", "link", {"path": str(current), "target": str(tmp_path / "v2")},
                  check=True)
    assert dry["changed"] is True and dry["target_before"] == "v1" and dry["replaced"] == "link"
    assert os.readlink(current) == "v1"
    data = node.ok("file", "link", {"path": str(current), "target": str(tmp_path / "v2")})
    assert data["changed"] is True and os.readlink(current) == str(tmp_path / "v2")
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".orch-tmp")]


def test_link_refuses_files_and_directories_unless_force(node, tmp_path):
    (tmp_path / "target").write_text("t")
    plain = tmp_path / "plain"
    plain.write_text("keep me")
    reply = node.call("file", "link", {"path": str(plain), "target": "target"})
    assert reply["status"] == "Aborted"
    assert reply["message"] == (f"{plain} exists and is a file; force=true replaces it "
                                "with the link")
    assert plain.read_text() == "keep me"
    assert node.ok("file", "link", {"path": str(plain), "target": "target",
                                    "force": True})["replaced"] == "file"
    assert plain.is_symlink() and plain.read_text() == "t"
    full = tmp_path / "full"
    full.mkdir()
    (full / "inside").write_text("x")
    reply = node.call("file", "link", {"path": str(full), "target": "target"})
    assert reply["status"] == "Aborted" and "is a directory" in reply["message"]
    reply = node.call("file", "link", {"path": str(full), "target": "target", "force": True})
    assert reply["status"] == "Aborted" and "not empty" in reply["message"]
    assert (full / "inside").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert node.ok("file", "link", {"path": str(empty), "target": "target",
                                    "force": True})["replaced"] == "directory"
    assert empty.is_symlink()


def test_link_target_must_exist_unless_force(node, tmp_path):
    link = tmp_path / "link"
    reply = node.call("file", "link", {"path": str(link), "target": "missing"})
    assert reply["status"] == "Aborted"
    assert reply["message"] == ("link target missing does not exist (force=true makes a "
                                "dangling link)")
    assert not os.path.lexists(link)
    node.ok("file", "link", {"path": str(link), "target": "missing", "force": True})
    assert os.readlink(link) == "missing"
    reply = node.call("file", "link", {"path": str(tmp_path / "no" / "link"), "target": "x"})
    assert reply["status"] == "Aborted" and "does not exist" in reply["message"]
