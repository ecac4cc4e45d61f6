"""file.line (Ansible's lineinfile) through the real runtime request path, on real files."""

from __future__ import annotations

import os
import pwd

import pytest
from collection_support import InProcessHost


@pytest.fixture
def node(tmp_path):
    return InProcessHost(tmp_path / "state")


def line(node, path, check=False, **args) -> dict:
    return node.ok("file", "line", {"path": str(path), **args}, check=check)


def test_adds_a_line_at_the_end_once(node, tmp_path):
    conf = tmp_path / "sshd_config"
    conf.write_text("Port 22\nPermitRootLogin yes\n")
    os.chmod(conf, 0o600)
    first = line(node, conf, line="UseDNS no")
    assert first["changed"] is True and first["msg"] == "line added"
    assert conf.read_text() == "Port 22\nPermitRootLogin yes\nUseDNS no\n"
    assert first["diff"].splitlines()[-1] == "+UseDNS no"
    assert conf.stat().st_mode & 0o7777 == 0o600
    inode = conf.stat().st_ino
    second = line(node, conf, line="UseDNS no")
    assert second["changed"] is False and second["msg"] == "unchanged" and second["diff"] is None
    assert conf.stat().st_ino == inode


def test_regexp_replaces_the_last_match_only(node, tmp_path):
    conf = tmp_path / "conf"
    conf.write_text("# Port 2222\nPort 22\nListen 1\nPort 23\n")
    data = line(node, conf, regexp="^Port ", line="Port 2200")
    assert data["changed"] is True and data["msg"] == "line replaced"
    assert conf.read_text() == "# Port 2222\nPort 22\nListen 1\nPort 2200\n"
    again = line(node, conf, regexp="^Port ", line="Port 2200")
    assert again["changed"] is False
    # Not matched, but the line is there already: nothing to do (Ansible's exact-line rule).
    assert line(node, conf, regexp="^NoSuch", line="Listen 1")["changed"] is False


def test_a_file_without_a_trailing_newline(node, tmp_path):
    conf = tmp_path / "conf"
    conf.write_bytes(b"a=1\nb=2")
    line(node, conf, line="c=3")
    assert conf.read_bytes() == b"a=1\nb=2\nc=3\n"
    conf.write_bytes(b"a=1\nb=2")
    line(node, conf, regexp="^b=", line="b=5")
    assert conf.read_bytes() == b"a=1\nb=5"  # the replaced line keeps its (missing) ending
    assert line(node, conf, regexp="^b=", line="b=5")["changed"] is False


def test_crlf_lines_are_kept(node, tmp_path):
    conf = tmp_path / "win.ini"
    conf.write_bytes(b"[main]\r\nkey=old\r\nother=1\r\n")
    line(node, conf, regexp="^key=", line="key=new")
    assert conf.read_bytes() == b"[main]\r\nkey=new\r\nother=1\r\n"
    line(node, conf, line="added=1", insertafter="^\\[main\\]$")
    assert conf.read_bytes() == b"[main]\r\nadded=1\r\nkey=new\r\nother=1\r\n"
    assert line(node, conf, line="added=1")["changed"] is False


def test_insertafter_insertbefore_bof_eof(node, tmp_path):
    conf = tmp_path / "conf"
    conf.write_text("[a]\nx=1\n[b]\ny=1\n[b]\n")
    line(node, conf, line="after", insertafter="^\\[b\\]")
    assert conf.read_text() == "[a]\nx=1\n[b]\ny=1\n[b]\nafter\n"  # after the LAST match
    line(node, conf, line="before", insertbefore="^x=")
    assert conf.read_text().startswith("[a]\nbefore\nx=1\n")
    line(node, conf, line="first", insertbefore="BOF")
    assert conf.read_text().startswith("first\n[a]\n")
    line(node, conf, line="last", insertafter="EOF")
    assert conf.read_text().endswith("after\nlast\n")
    line(node, conf, line="nowhere", insertafter="^no match")
    assert conf.read_text().endswith("last\nnowhere\n")  # no match: at the end, as Ansible
    # A regexp that matches wins over insertafter.
    line(node, conf, regexp="^x=", line="x=2", insertafter="BOF")
    assert "\nx=2\n" in conf.read_text() and not conf.read_text().startswith("x=2")


def test_absent_removes_every_match(node, tmp_path):
    conf = tmp_path / "hosts.allow"
    conf.write_text("sshd: 10.0.0.1\nALL: LOCAL\nsshd: 10.0.0.2\n")
    data = line(node, conf, regexp="^sshd:", state="absent")
    assert data["changed"] is True and data["found"] == 2 and data["msg"] == "2 lines removed"
    assert conf.read_text() == "ALL: LOCAL\n"
    assert line(node, conf, regexp="^sshd:", state="absent")["changed"] is False
    data = line(node, conf, line="ALL: LOCAL", state="absent")
    assert data["found"] == 1 and conf.read_text() == ""
    missing = line(node, tmp_path / "none", line="x", state="absent")
    assert missing["changed"] is False and not (tmp_path / "none").exists()


def test_check_mode_diffs_and_changes_nothing(node, tmp_path):
    conf = tmp_path / "conf"
    conf.write_text("a\nb\n")
    before = (conf.read_bytes(), conf.stat().st_mtime_ns, conf.stat().st_ino)
    data = line(node, conf, check=True, regexp="^b$", line="B")
    assert data["changed"] is True
    assert data["diff"].splitlines() == [f"--- a{conf}", f"+++ b{conf}", "@@ -1,2 +1,2 @@",
                                         " a", "-b", "+B"]
    assert (conf.read_bytes(), conf.stat().st_mtime_ns, conf.stat().st_ino) == before
    new = line(node, tmp_path / "new", check=True, line="x", create=True)
    assert new["changed"] is True and "--- /dev/null" in new["diff"]
    assert not (tmp_path / "new").exists()
    assert line(node, conf, check=True, regexp="^a$", state="absent")["changed"] is True
    assert conf.read_bytes() == before[0]
    hidden = line(node, conf, check=True, line="secret=1", sensitive=True)
    assert hidden["changed"] is True and hidden["diff"] is None


def test_create_backup_and_attributes(node, tmp_path):
    path = tmp_path / "new.conf"
    reply = node.call("file", "line", {"path": str(path), "line": "x=1"})
    assert reply["status"] == "Aborted"
    assert reply["message"] == f"{path} does not exist (create=true makes it)"
    nobody = pwd.getpwnam("nobody")
    data = line(node, path, line="x=1", create=True, mode="0640", owner="nobody",
                group="nogroup")
    assert data["changed"] is True and data["msg"] == "line added"
    assert path.read_text() == "x=1\n" and path.stat().st_mode & 0o7777 == 0o640
    assert path.stat().st_uid == nobody.pw_uid
    assert line(node, path, line="x=1", create=True, mode="0640", owner="nobody",
                group="nogroup")["changed"] is False
    data = line(node, path, regexp="^x=", line="x=2", backup=True)
    assert open(data["backup_path"]).read() == "x=1\n" and path.read_text() == "x=2\n"
    assert path.stat().st_uid == nobody.pw_uid and path.stat().st_mode & 0o7777 == 0o640


def test_a_link_is_followed(node, tmp_path):
    real = tmp_path / "real.conf"
    real.write_text("a\n")
    link = tmp_path / "link.conf"
    link.symlink_to(real)
    line(node, link, line="b")
    assert link.is_symlink() and real.read_text() == "a\nb\n"


def test_bad_requests_abort_naming_the_problem(node, tmp_path):
    conf = tmp_path / "conf"
    conf.write_text("a\n")
    cases = [
        ({"line": "x", "regexp": "("}, "regexp '(' is not a valid regular expression"),
        ({"line": "x", "insertafter": "a", "insertbefore": "b"}, "at most one of"),
        ({"state": "absent"}, "state=absent needs line or regexp"),
        ({"regexp": "a"}, "state=present needs line"),
    ]
    for args, words in cases:
        reply = node.call("file", "line", {"path": str(conf), **args})
        assert reply["status"] == "Aborted" and words in reply["message"], reply
    reply = node.call("file", "line", {"path": str(conf), "line": "two\nlines"})
    assert reply["status"] == "InvalidData" and "'line'" in reply["message"]
    reply = node.call("file", "line", {"path": str(tmp_path), "line": "x"})
    assert reply["status"] == "Aborted" and "is a directory" in reply["message"]
    (tmp_path / "blob").write_bytes(b"a\x00b\n")
    reply = node.call("file", "line", {"path": str(tmp_path / "blob"), "line": "x"})
    assert reply["status"] == "Aborted" and "not a text file" in reply["message"]
    assert conf.read_text() == "a\n"


def test_bytes_that_are_not_utf8_survive(node, tmp_path):
    conf = tmp_path / "latin1.conf"
    conf.write_bytes(b"name=caf\xe9\nport=1\n")
    data = line(node, conf, regexp="^port=", line="port=2")
    assert conf.read_bytes() == b"name=caf\xe9\nport=2\n" and data["diff"] is None
