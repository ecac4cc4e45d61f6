"""The engine on a fake runner: which calls it makes, in which order, and what failure means."""

import asyncio
import textwrap

from play_fakes import REPO, FakeSession, fake_discover, lab_hosts

from orch.masking import Masker
from orch.output import events as ev
from orch.play.engine import Engine, new_run_id
from orch.play.inputs import masked, resolve_inputs
from orch.play.loader import load_play

SEED = REPO / "plays/app_cluster_upgrade.yml"
ROLLING = REPO / "plays/app_cluster_rolling.yml"
INPUTS = {"cluster": "bravo", "backend": "app", "revision": "20", "try_sleep": "0"}


def run(path, registry, inputs=INPUTS, behaviour=None, done=(), hosts=None, caller="rip",
        lock=None):
    play = load_play(path, registry)
    values = resolve_inputs(play.inputs, dict(inputs))
    events = []
    masker = Masker(values[s.name] for s in play.inputs if s.sensitive)

    def sink(event):
        events.append(masker.event(event))

    session = FakeSession(sink, behaviour)
    engine = Engine(sink, session, fake_discover(hosts or lab_hosts()), "RUN1", caller,
                    done=set(done), resumed_from="RUN0" if done else None, masker=masker,
                    lock=lock)
    outcome = asyncio.run(engine.run_play(play, values, masked(play.inputs, values)))
    return outcome, session.calls, events


def names(calls):
    return [f"{c['module']}.{c['action']}" for c in calls]


def test_seed_play_makes_the_seed_calls(registry):
    outcome, calls, events = run(SEED, registry)
    assert outcome.ok
    assert names(calls) == ["rpcutil.ping", "rpcutil.ping", "haproxy.disable", "appmgr.upgrade",
                            "nrpe.runcommand", "haproxy.enable", "appmgr.status",
                            "angelianotify.sendmsg"]
    disable, upgrade, check = calls[2], calls[3], calls[4]
    assert disable["hosts"] == ["lb1"] and disable["args"] == {"backend": "app",
                                                               "server": ["dev4", "dev5", "dev6"]}
    assert upgrade["hosts"] == ["dev4", "dev5", "dev6"]
    assert (upgrade["args"], upgrade["batch_size"], upgrade["tries"]) == ({"revision": 20}, 2, 2)
    assert (check["tries"], check["args"]) == (10, {"command": "check_load"})
    assert calls[6]["summarize"] and not calls[3]["summarize"]
    assert calls[7]["hosts"] == ["notify1"]
    assert calls[7]["args"]["message"] == "rip updated 3 node cluster bravo to revision 20"
    banners = [e.text for e in events if isinstance(e, ev.Announced)]
    assert banners == ["Updating cluster bravo", "rip updated 3 node cluster bravo to revision 20"]
    assert isinstance(events[0], ev.RunStarted) and isinstance(events[-1], ev.RunDone)
    assert events[-1].ok
    # the banner comes before any host is contacted, as in the seed's output
    assert isinstance(events[1], ev.Announced)


def test_empty_cluster_stops_with_when_empty(registry):
    outcome, calls, events = run(SEED, registry, {**INPUTS, "cluster": "charlie"})
    assert not outcome.ok and outcome.message == "No web servers found"
    assert calls == []  # nothing is sent when a node set is empty
    assert events[-1].message == "No web servers found"


def test_upgrade_failing_twice_fails_the_step_and_on_fail_reenables(registry):
    def behaviour(module, action, host, args, attempt):
        if action == "upgrade" and host == "dev5":
            return "Aborted", "deploy failed", {}
        return "OK", "", {}

    outcome, calls, events = run(SEED, registry, behaviour=behaviour)
    assert not outcome.ok
    assert names(calls)[-2:] == ["appmgr.upgrade", "haproxy.enable"]
    assert calls[-1]["args"]["server"] == ["dev4", "dev5", "dev6"]
    failed = [e for e in events if isinstance(e, ev.StepFailed)]
    assert failed[0].step == "steps[2]" and "dev5 (Aborted: deploy failed)" in failed[0].reason
    assert outcome.failed == {"dev5": "appmgr#upgrade: Aborted: deploy failed"}
    tries = [e.attempt for e in events
             if isinstance(e, ev.HostReplied) and e.host == "dev5" and e.step == "steps[2]"]
    assert tries == [1, 2]


def test_resume_skips_pairs_that_succeeded(registry):
    done = {("steps[1]", "lb1"), ("steps[2]", "dev4"), ("steps[2]", "dev6")}
    outcome, calls, events = run(SEED, registry, done=done)
    assert outcome.ok
    upgrade = next(c for c in calls if c["action"] == "upgrade")
    assert upgrade["hosts"] == ["dev5"]
    disable = next(c for c in calls if c["action"] == "disable")
    assert disable["hosts"] == ["lb1"]  # resume: rerun
    skipped = [(e.step, e.host) for e in events if isinstance(e, ev.HostSkipped)]
    assert skipped == [("steps[2]", "dev4"), ("steps[2]", "dev6")]
    assert events[0].resumed_from == "RUN0"


def test_resume_never_skips_on_fail(registry):
    def behaviour(module, action, host, args, attempt):
        return ("Aborted", "no", {}) if action == "upgrade" else ("OK", "", {})

    outcome, calls, events = run(SEED, registry, behaviour=behaviour, done={("on_fail[0]", "lb1")})
    assert not outcome.ok
    assert calls[-1]["step"] == "on_fail[0]" and calls[-1]["hosts"] == ["lb1"]
    assert not any(isinstance(e, ev.HostSkipped) for e in events)


def test_rolling_play_goes_batch_by_batch(registry):
    hosts = lab_hosts()
    outcome, calls, events = run(ROLLING, registry, hosts=hosts)
    assert outcome.ok
    rolling = [c for c in calls if c["step"].startswith("steps[2]")]
    assert [(c["step"], c["action"], c["hosts"]) for c in rolling] == [
        ("steps[2].batch[1].steps[0]", "disable", ["lb1"]),
        ("steps[2].batch[1].steps[1]", "upgrade", ["dev4", "dev5"]),
        ("steps[2].batch[1].steps[2]", "runcommand", ["dev4", "dev5"]),
        ("steps[2].batch[1].steps[3]", "enable", ["lb1"]),
        ("steps[2].batch[2].steps[0]", "disable", ["lb1"]),
        ("steps[2].batch[2].steps[1]", "upgrade", ["dev6"]),
        ("steps[2].batch[2].steps[2]", "runcommand", ["dev6"]),
        ("steps[2].batch[2].steps[3]", "enable", ["lb1"]),
    ]
    assert rolling[0]["args"]["server"] == ["dev4", "dev5"]
    assert rolling[4]["args"]["server"] == ["dev6"]


def test_rolling_failure_stops_and_leaves_the_failed_host_in_maint(registry):
    """Issue 16: on_fail put back in HAProxy a host whose health check had failed."""
    def behaviour(module, action, host, args, attempt):
        return ("UnknownError", "CRITICAL load", {}) if action == "runcommand" and host == "dev6" else ("OK", "", {})

    outcome, calls, events = run(ROLLING, registry, behaviour=behaviour)
    assert not outcome.ok
    assert calls[-1]["action"] == "enable" and calls[-1]["args"]["server"] == ["dev4", "dev5"]
    assert not any(c["action"] == "status" for c in calls)
    banners = [e.text for e in events if isinstance(e, ev.Announced)]
    assert banners[-1] == "Left in MAINT, upgrade or health check failed: dev6"


def test_rolling_refuses_a_cluster_too_small_for_its_batch(registry):
    outcome, calls, events = run(ROLLING, registry, {**INPUTS, "batch_size": "3"})
    [failed] = [e for e in events if isinstance(e, ev.StepFailed)]
    assert not outcome.ok and "a batch of 3 would empty the backend" in failed.reason
    assert not any(c["action"] in ("disable", "upgrade") for c in calls)


def write(tmp_path, text):
    path = tmp_path / "p.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_register_assert_and_max_fail(tmp_path, registry):
    path = write(tmp_path, """\
        name: t
        inputs:
          secret: {sensitive: true}
        nodes:
          apps: {agent: appmgr}
        steps:
          - call: nrpe.runcommand
            nodes: apps
            args: {command: check_load}
            assert: "exitcode == 0"
            max_fail: 50%
            register: health
          - announce: "{{ health.ok | length }} healthy, {{ health.failed | join(',') }} not; key {{ secret }}"
          - assert: "health.failed | length < 2"
            message: too many unhealthy hosts
        """)

    def behaviour(module, action, host, args, attempt):
        return "OK", "", {"exitcode": 2 if host in ("dev1", "dev2") else 0, "echo": "s3cret!"}

    outcome, calls, events = run(path, registry, {"secret": "s3cret"}, behaviour)
    banner = next(e.text for e in events if isinstance(e, ev.Announced))
    assert banner == "4 healthy, dev1,dev2 not; key ********"
    [failed] = [e for e in events if isinstance(e, ev.StepFailed)]
    assert not outcome.ok and failed.reason == "too many unhealthy hosts"
    assert outcome.failed["dev1"] == "nrpe#runcommand: AssertFailed: assert exitcode == 0 is false"
    assert events[0].inputs == {"secret": "********"}
    assert "s3cret" not in repr(events)


def test_fail_ok_keeps_going(tmp_path, registry):
    path = write(tmp_path, """\
        name: t
        nodes:
          apps: {agent: appmgr}
        steps:
          - call: appmgr.status
            nodes: apps
            fail_ok: true
          - announce: done
        """)
    outcome, calls, events = run(path, registry, {}, lambda *a: ("Aborted", "no", {}))
    assert outcome.ok and any(isinstance(e, ev.Announced) and e.text == "done" for e in events)


def test_run_ids_sort_by_time():
    first, second = new_run_id(1_700_000_000), new_run_id(1_700_000_060)
    assert first < second and len(first) == len("20231114T221320-ab12cd")
    assert first.startswith("20231114T221320-")


def test_nested_play_and_at_least(tmp_path, registry):
    (tmp_path / "inner.yml").write_text(textwrap.dedent("""\
        name: inner
        inputs:
          cluster: {}
        nodes:
          apps: {agent: appmgr, fact: "cluster={{ cluster }}", at_least: 3}
        steps:
          - call: appmgr.status
            nodes: apps
        """))
    path = write(tmp_path, """\
        name: outer
        inputs:
          cluster: {}
        steps:
          - announce: "outer {{ cluster }}"
          - play: inner.yml
            inputs: {cluster: "{{ cluster }}"}
        """)
    outcome, calls, events = run(path, registry, {"cluster": "alfa"})
    assert outcome.ok
    assert [(c["step"], c["hosts"]) for c in calls] == [("steps[1].steps[0]", ["dev1", "dev2", "dev3"])]
    hosts = [h for h in lab_hosts() if h.name != "dev3"]
    outcome, calls, events = run(path, registry, {"cluster": "alfa"}, hosts=hosts)
    assert not outcome.ok and calls == []
    [failed] = [e for e in events if isinstance(e, ev.StepFailed)]
    assert "node set 'apps': found 2 host(s), need at least 3" in failed.reason


def test_locked_hosts_stop_the_run_before_any_call(registry):
    from orch.errors import OrchError

    locked = []

    def lock(hosts):
        locked.append(hosts)
        if "dev5" in hosts:
            raise OrchError("hosts are being changed by another run: dev5 by run RUN0")

    outcome, calls, events = run(SEED, registry, lock=lock)
    assert not outcome.ok and outcome.message.endswith("dev5 by run RUN0")
    assert locked == [["dev4", "dev5", "dev6"]]  # lbs and notify are lock: false
    assert calls == []
