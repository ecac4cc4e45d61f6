"""The daily modules (user, group, file.line) on a real fleet host, with real shadow tools.

web1 has its own /etc (an overlay, tests/realfleet/README.md) and its own /home, so useradd
there changes web1's /etc/passwd, /etc/shadow and /etc/group only: each test also checks that
this machine's own databases never see the user or group. Everything goes through
``orch call ... -b`` as an operator runs it (the fleet's inventory, ssh_config and agent).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_orch_on_fleet import orch, workdir

pytestmark = pytest.mark.realfleet

HOST = "web1"
USER = "orchdaily"
GROUP = "orchdailyops"
# openssl passwd -6 -salt dailysalt daily (a test value; it must never be shown).
HASH = ("$6$dailysalt$IYih/Mcl7yIC.SR2Lzgu.o9Kq3Hn7SaOXDU2KIkM6KLjR5eiv8nFqqei/w3gbypLer"
        "zYErZeW7mHyIOQDiLwV0")
NRPE_LINE = "command[check_orch_daily]=/usr/lib/nagios/plugins/check_dummy 0 daily"


@pytest.fixture(scope="module")
def work(fleet, tmp_path_factory):
    folder = workdir(tmp_path_factory.mktemp("daily"))
    yield folder
    # Leave web1 as it was, whatever a failed test left behind.
    for argv in (("user.absent", f"name={USER}", "remove_home=true"),
                 ("group.absent", f"name={GROUP}"),
                 ("file.line", "path=/etc/nagios/nrpe.cfg", "state=absent",
                  f"line={NRPE_LINE}")):
        orch(fleet, folder, "call", *argv, "-I", HOST, "-i", str(fleet.inventory), "-b")


def call(fleet, folder: Path, *argv: str, code: int = 0) -> tuple[dict, str]:
    """One ``orch call`` on web1 as root: (its HostReplied event, the whole output)."""
    done = orch(fleet, folder, "call", *argv, "-I", HOST, "-i", str(fleet.inventory), "-b",
                "--json", timeout=120)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    replies = [event for event in events if event.get("type") == "HostReplied"]
    assert done.returncode == code, (argv, [(event.get("status"), event.get("message"))
                                            for event in replies], done.stderr[-2000:])
    assert [event["host"] for event in replies] == [HOST], done.stdout[-3000:]
    return replies[0], done.stdout + done.stderr


def on_host(fleet, command: str) -> str:
    done = fleet.ssh(HOST, command)
    assert done.returncode == 0, done.stderr
    return done.stdout


def not_on_this_machine(*names: str) -> None:
    for path in ("/etc/passwd", "/etc/group", "/etc/shadow"):
        entries = {line.split(":", 1)[0] for line in Path(path).read_text().splitlines()}
        assert not entries & set(names), (path, names)
    for name in names:
        assert not Path("/home", name).exists()


def test_user_present_check_idempotent_absent(fleet, work):
    args = ("user.present", f"name={USER}", "shell=/bin/bash", f"groups=adm,{GROUP}",
            "comment=orch daily test", f"password_hash={HASH}")
    reply, _ = call(fleet, work, "group.present", f"name={GROUP}", "gid=4711")
    assert reply["status"] == "OK" and reply["data"]["changes"] == ["created"]
    assert on_host(fleet, f"getent group {GROUP}").startswith(f"{GROUP}:x:4711:")

    dry, _ = call(fleet, work, *args, "--check")
    assert dry["status"] == "OK" and dry["changed"] is True
    assert dry["data"]["changes"] == ["created", "password"]
    assert fleet.ssh(HOST, f"getent passwd {USER}").returncode == 2  # --check made nothing

    made, output = call(fleet, work, *args)
    assert made["status"] == "OK" and made["changed"] is True, made
    assert made["data"]["changes"] == ["created", "password"]
    assert made["data"]["groups"] == sorted(["adm", GROUP]) and made["data"]["group"] == USER
    assert HASH not in output and "dailysalt" not in output
    entry = on_host(fleet, f"getent passwd {USER}").strip().split(":")
    assert entry[0] == USER and entry[4] == "orch daily test" and entry[6] == "/bin/bash"
    assert entry[5] == f"/home/{USER}" and on_host(fleet, f"test -d /home/{USER} && echo y") \
        == "y\n"
    shadow = on_host(fleet, f"sudo -n getent shadow {USER}").split(":")
    assert shadow[1] == HASH
    assert set(on_host(fleet, f"id -nG {USER}").split()) == {USER, "adm", GROUP}
    not_on_this_machine(USER, GROUP)

    again, _ = call(fleet, work, *args)
    assert again["changed"] is False and again["data"]["changes"] == []

    changed, _ = call(fleet, work, "user.present", f"name={USER}", "shell=/bin/sh",
                      "groups=adm")
    assert changed["data"]["changes"] == ["groups", "shell"]
    assert set(on_host(fleet, f"id -nG {USER}").split()) == {USER, "adm"}
    appended, _ = call(fleet, work, "user.present", f"name={USER}", f"groups={GROUP}",
                       "append=true")
    assert appended["data"]["changes"] == ["groups"]
    assert set(on_host(fleet, f"id -nG {USER}").split()) == {USER, "adm", GROUP}

    dry_gone, _ = call(fleet, work, "user.absent", f"name={USER}", "remove_home=true",
                       "--check")
    assert dry_gone["changed"] is True and fleet.ssh(HOST, f"id {USER}").returncode == 0
    gone, _ = call(fleet, work, "user.absent", f"name={USER}", "remove_home=true")
    assert gone["data"]["changes"] == ["removed", "home"]
    assert fleet.ssh(HOST, f"getent passwd {USER}").returncode == 2
    assert on_host(fleet, f"test -e /home/{USER} || echo gone") == "gone\n"
    assert call(fleet, work, "user.absent", f"name={USER}")[0]["changed"] is False
    group_gone, _ = call(fleet, work, "group.absent", f"name={GROUP}")
    assert group_gone["data"]["changes"] == ["removed"]
    not_on_this_machine(USER, GROUP)


def test_a_tool_failure_is_one_clear_line(fleet, work):
    reply, _ = call(fleet, work, "user.present", f"name={USER}", "uid=0", code=1)
    assert reply["status"] == "Aborted"
    assert reply["message"].startswith(f"useradd {USER} failed (exit 4): useradd: UID 0 is not "
                                       "unique"), reply["message"]
    assert fleet.ssh(HOST, f"getent passwd {USER}").returncode == 2


def test_line_in_nrpe_config(fleet, work):
    path = "/etc/nagios/nrpe.cfg"
    before = on_host(fleet, f"cat {path}")
    stat_before = on_host(fleet, f"stat -c '%a %U %G %i %Y' {path}")
    dry, _ = call(fleet, work, "file.line", f"path={path}", f"line={NRPE_LINE}",
                  "insertafter=^command\\[check_load\\]", "--check")
    assert dry["changed"] is True and f"+{NRPE_LINE}" in dry["data"]["diff"].splitlines()
    assert on_host(fleet, f"cat {path}") == before
    assert on_host(fleet, f"stat -c '%a %U %G %i %Y' {path}") == stat_before

    added, _ = call(fleet, work, "file.line", f"path={path}", f"line={NRPE_LINE}",
                    "insertafter=^command\\[check_load\\]")
    assert added["changed"] is True and added["data"]["msg"] == "line added"
    after = on_host(fleet, f"cat {path}").splitlines()
    load = next(number for number, text in enumerate(after)
                if text.startswith("command[check_load]"))
    assert after[load + 1] == NRPE_LINE and len(after) == len(before.splitlines()) + 1
    mode, owner, group = on_host(fleet, f"stat -c '%a %U %G' {path}").split()
    assert [mode, owner, group] == stat_before.split()[:3]  # kept across the atomic rename

    again, _ = call(fleet, work, "file.line", f"path={path}", f"line={NRPE_LINE}",
                    "insertafter=^command\\[check_load\\]")
    assert again["changed"] is False and again["data"]["msg"] == "unchanged"

    removed, _ = call(fleet, work, "file.line", f"path={path}", "state=absent",
                      "regexp=^command\\[check_orch_daily\\]")
    assert removed["changed"] is True and removed["data"]["found"] == 1
    assert on_host(fleet, f"cat {path}") == before
