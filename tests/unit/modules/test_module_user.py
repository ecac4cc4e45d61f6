"""user and group through the real runtime request path, on this machine's real databases.

Only what cannot change this machine runs here: status, check mode (which reads the real
pwd/grp/shadow state and predicts, never running a tool: /etc/passwd and /etc/group are
checked byte for byte), the refusals, and the argv the tools would get. Real useradd/usermod/
userdel runs are in tests/realfleet/test_daily_modules.py, on a fleet host with its own /etc.
"""

from __future__ import annotations

import hashlib
import pwd
from pathlib import Path
from types import SimpleNamespace

import pytest
from collection_support import InProcessHost
from module_support import load_module

DATABASES = [Path(path) for path in ("/etc/passwd", "/etc/group", "/etc/shadow",
                                     "/etc/gshadow")]
NEW = "orchnosuchuser"


@pytest.fixture
def node(tmp_path):
    return InProcessHost(tmp_path / "state")


@pytest.fixture
def untouched():
    """Assert, after the test, that this machine's account databases did not change."""
    def digest():
        return {path: hashlib.sha256(path.read_bytes()).hexdigest()
                for path in DATABASES if path.exists()}

    before = digest()
    yield
    assert digest() == before


def test_status_reads_the_databases(node):
    root = node.ok("user", "status", {"name": "root"})
    assert root["exists"] is True and root["uid"] == 0 and root["group"] == "root"
    assert root["home"] == pwd.getpwnam("root").pw_dir and "gid" not in root
    assert node.ok("user", "status", {"name": NEW}) == {
        "exists": False, "uid": None, "group": None, "groups": [], "shell": None,
        "home": None, "comment": None}
    assert node.ok("group", "status", {"name": "root"})["gid"] == 0
    assert node.ok("group", "status", {"name": NEW})["exists"] is False


def test_check_mode_predicts_changes_to_an_existing_user(node, untouched):
    nobody = pwd.getpwnam("nobody")
    same = node.ok("user", "present", {"name": "nobody", "shell": nobody.pw_shell,
                                       "home": nobody.pw_dir, "group": "nogroup"}, check=True)
    assert same["changed"] is False and same["changes"] == []
    data = node.ok("user", "present", {"name": "nobody", "shell": "/bin/bash",
                                       "groups": ["daemon", "adm"], "comment": "Nobody!",
                                       "uid": nobody.pw_uid}, check=True)
    assert data["changed"] is True and data["changes"] == ["groups", "shell", "comment"]
    assert data["shell"] == "/bin/bash" and data["groups"] == ["adm", "daemon"]
    assert pwd.getpwnam("nobody").pw_shell == nobody.pw_shell


def test_check_mode_password_is_compared_and_never_shown(node, untouched):
    secret = "$6$saltsalt$" + "x" * 86
    reply = node.call("user", "present", {"name": "nobody", "password_hash": secret},
                      check=True)
    assert reply["status"] == "OK" and reply["data"]["changes"] == ["password"]
    assert secret not in repr(reply)
    audit = "\n".join(node.audit())
    assert "password_hash" in audit and secret not in audit and "saltsalt" not in audit


def test_check_mode_predicts_a_new_user_and_absent(node, untouched):
    data = node.ok("user", "present", {"name": NEW, "uid": 4242, "groups": ["adm"],
                                       "shell": "/bin/sh"}, check=True)
    assert data["changed"] is True and data["changes"] == ["created"]
    assert data["uid"] == 4242 and data["group"] == NEW and data["groups"] == ["adm"]
    gone = node.ok("user", "absent", {"name": "nobody", "remove_home": True}, check=True)
    assert gone == {"changed": True, "changes": ["removed", "home"], "existed": True}
    assert node.ok("user", "absent", {"name": NEW})["changed"] is False
    assert node.ok("group", "present", {"name": NEW, "gid": 4343}, check=True)["changes"] == \
        ["created"]
    assert node.ok("group", "present", {"name": "adm"}, check=True)["changed"] is False
    assert node.ok("group", "present", {"name": "adm", "gid": 4343},
                   check=True)["changes"] == ["gid"]
    assert node.ok("group", "absent", {"name": "adm"}, check=True)["changes"] == ["removed"]
    assert node.ok("group", "absent", {"name": NEW})["changed"] is False


def test_refusals_name_the_user_and_group(node, untouched):
    reply = node.call("user", "present", {"name": NEW, "groups": ["adm", "nosuchgroup"]},
                      check=True)
    assert reply["status"] == "Aborted"
    assert reply["message"] == f"no group 'nosuchgroup' on this host (in groups of user {NEW})"
    reply = node.call("user", "present", {"name": NEW, "group": "nosuchgroup"})
    assert reply["message"] == ("no group 'nosuchgroup' on this host (the primary group of "
                                f"user {NEW})")
    reply = node.call("group", "present", {"name": NEW, "gid": 0}, check=True)
    assert reply["status"] == "Aborted" and reply["message"] == (
        f"gid 0 is group root's already (wanted for group {NEW})")
    reply = node.call("group", "absent", {"name": "root"})
    assert reply["status"] == "Aborted" and "primary group of user root" in reply["message"]
    for bad in ({"name": "-rf"}, {"name": NEW, "shell": "/bin/sh:x"},
                {"name": NEW, "comment": "a\nb"}, {"name": NEW, "groups": ["a,b", "-x"]}):
        reply = node.call("user", "present", bad)
        assert reply["status"] == "InvalidData", (bad, reply)


def _entry(name, gid):
    return SimpleNamespace(gr_name=name, gr_gid=gid)


def test_usermod_words_are_only_what_differs():
    module = load_module("user")
    current = {"uid": 1001, "gid": 1001, "group": "deploy", "groups": ["adm", "www-data"],
               "shell": "/bin/sh", "home": "/home/deploy", "comment": ""}
    plan = module["plan_update"]
    assert plan(current, {"shell": "/bin/sh", "groups": ["www-data", "adm"]}, None,
                ["www-data", "adm"]) == ([], [])
    assert plan(current, {"groups": ["adm", "docker"], "append": True}, None,
                ["adm", "docker"]) == (["groups"], ["-a", "-G", "docker"])
    assert plan(current, {"groups": []}, None, []) == (["groups"], ["-G", ""])
    assert plan(current, {"uid": 1500, "shell": "/bin/bash", "comment": "Deploy"},
                _entry("staff", 50), None) == (
        ["uid", "group", "shell", "comment"],
        ["-u", "1500", "-g", "50", "-s", "/bin/bash", "-c", "Deploy"])
    # The primary group is never listed as a supplementary one.
    assert plan(current, {"groups": ["deploy", "adm", "www-data"]}, None,
                ["deploy", "adm", "www-data"]) == ([], [])


def test_useradd_words():
    module = load_module("user")
    words = module["plan_create"](NEW, {"uid": 4242, "groups": ["b", "a", "b"],
                                        "shell": "/bin/bash", "comment": "x y",
                                        "create_home": True, "system": True},
                                  _entry("staff", 50), ["b", "a", "b"])
    assert words == ["-u", "4242", "-g", "50", "-G", "a,b", "-s", "/bin/bash", "-c", "x y",
                     "-m", "-r"]
    # A group with the user's name already there becomes its primary group.
    assert module["plan_create"]("adm", {"create_home": False}, None, None) == [
        "-g", "adm", "-M"]
