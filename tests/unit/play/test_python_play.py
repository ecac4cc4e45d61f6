"""Python plays on the fake runner: the seed script's calls, inputs, errors with play lines."""

import asyncio

import pytest
from play_fakes import REPO, FakeSession, fake_discover, lab_hosts

from orch.errors import InputError
from orch.output import events as ev
from orch.play.engine import Engine
from orch.play.python_play import PythonPlay, python_body

SEED = REPO / "plays" / "app_cluster_upgrade.py"
GIVEN = {"cluster": "bravo", "backend": "app", "revision": "20", "try_sleep": "0"}


def run(path, registry, given=GIVEN, behaviour=None, done=()):
    play = PythonPlay(path)
    play.check_requires(registry)
    events = []
    session = FakeSession(events.append, behaviour)
    engine = Engine(events.append, session, fake_discover(lab_hosts()), "RUN1", "rip",
                    done=set(done), resumed_from="RUN0" if done else None)
    body = python_body(play, dict(given), None, registry)
    outcome = asyncio.run(engine.run(play.name, "play", {}, lambda: body(engine), lazy=True))
    return outcome, session.calls, events


def test_seed_script_makes_the_seed_calls(registry):
    outcome, calls, events = run(SEED, registry)
    assert outcome.ok
    assert [f"{c['module']}.{c['action']}" for c in calls] == [
        "rpcutil.ping", "rpcutil.ping", "haproxy.disable", "appmgr.upgrade", "nrpe.runcommand",
        "haproxy.enable", "appmgr.status", "angelianotify.sendmsg"]
    upgrade = calls[3]
    assert (upgrade["hosts"], upgrade["args"], upgrade["batch_size"], upgrade["tries"]) == (
        ["dev4", "dev5", "dev6"], {"revision": 20}, 2, 2)
    assert calls[2]["args"] == {"backend": "app", "server": ["dev4", "dev5", "dev6"]}
    assert calls[7]["args"]["message"] == "rip updated 3 node cluster bravo to revision 20"
    assert upgrade["step"].startswith("app_cluster_upgrade.py:")
    started = events[0]
    assert isinstance(started, ev.RunStarted) and started.inputs["revision"] == "20"
    assert [e.text for e in events if isinstance(e, ev.Announced)][-1].startswith("rip updated 3")


def test_failed_upgrade_reenables_and_fails_the_run(registry):
    def behaviour(module, action, host, args, attempt):
        return ("Aborted", "boom", {}) if action == "upgrade" and host == "dev6" else ("OK", "", {})

    outcome, calls, events = run(SEED, registry, behaviour=behaviour)
    assert not outcome.ok
    assert calls[-1]["action"] == "enable"
    assert outcome.message.startswith(f"{SEED}:") and "step failed" in outcome.message
    assert outcome.failed == {"dev6": "appmgr#upgrade: Aborted: boom"}


def test_bad_input_names_the_play_line_and_contacts_nobody(registry):
    with pytest.raises(InputError) as error:
        run(SEED, registry, {**GIVEN, "revision": "abc"})
    assert str(error.value) == f"{SEED}:21: 'revision' 'abc' does not match /\\A\\d+\\Z/"


def test_empty_cluster_is_when_empty(registry):
    outcome, calls, events = run(SEED, registry, {**GIVEN, "cluster": "charlie"})
    assert not outcome.ok and outcome.message == "No web servers found"
    assert [c["module"] for c in calls] == ["rpcutil"]


def test_errors_in_the_play_name_its_line(tmp_path, registry):
    play = tmp_path / "bug.py"
    play.write_text("def run(orch):\n    orch.announce('hi')\n    return 1 / 0\n")
    outcome, calls, events = run(play, registry, {})
    assert not outcome.ok and outcome.message == f"{play}:3: ZeroDivisionError: division by zero"
    play.write_text("def run(orch):\n    return undefined_name\n")
    with pytest.raises(InputError, match=r"bug.py:2: NameError"):
        run(play, registry, {})
    play.write_text("REQUIRES = ['puppet']\ndef run(orch):\n    pass\n")
    with pytest.raises(InputError, match="module 'puppet' is not installed"):
        run(play, registry, {})
