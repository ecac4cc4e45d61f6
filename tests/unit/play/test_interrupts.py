"""Interrupts, escaping exceptions and on_fail on the engine with a fake session (issue 16).

The lab proves the same end to end (tests/faults); these pin the engine's rules: the first
signal stops new work and gives requests in flight a grace, a second cancels them, on_fail (or
on_interrupt) always runs, and the run ends with one RunDone whose status says what happened.
"""

import asyncio
import signal
import textwrap

from play_fakes import REPO, FakeSession, fake_discover, lab_hosts

from orch.masking import Masker
from orch.output import events as ev
from orch.play.engine import Engine, Interrupt
from orch.play.inputs import masked, resolve_inputs
from orch.play.loader import load_play

SEED = REPO / "plays/app_cluster_upgrade.yml"
ROLLING = REPO / "plays/app_cluster_rolling.yml"
INPUTS = {"cluster": "bravo", "backend": "app", "revision": "20", "try_sleep": "0"}


class SlowSession(FakeSession):
    """A FakeSession whose chosen step takes ``seconds`` (and signals once it is in flight)."""

    def __init__(self, sink, action, seconds, behaviour=None):
        super().__init__(sink, behaviour)
        self.action, self.seconds = action, seconds
        self.in_flight = asyncio.Event()
        self.cancelled = False

    async def call(self, step_id, hosts, module, action, args, options, *, hang_up=False):
        if action == self.action and not step_id.startswith("on_"):
            self.sink(ev.StepStarted(step_id, module, action, [h.name for h in hosts], 0))
            self.in_flight.set()
            try:
                await asyncio.sleep(self.seconds)
            except asyncio.CancelledError:
                self.cancelled = True
                self.calls.append(dict(step=step_id, hosts=[h.name for h in hosts], module=module,
                                       action=action, args=args, cancelled=True))
                raise
        return await super().call(step_id, hosts, module, action, args, options)


def run(path, registry, *, action="upgrade", seconds=0.5, grace=5.0, signals=(signal.SIGINT,),
        behaviour=None, gap=0.0):
    play = load_play(path, registry)
    values = resolve_inputs(play.inputs, {k: v for k, v in INPUTS.items() if play.input(k)})
    events = []

    def sink(event):
        events.append(event)

    async def main():
        session = SlowSession(sink, action, seconds, behaviour)
        interrupt = Interrupt(grace=grace)
        engine = Engine(sink, session, fake_discover(lab_hosts()), "RUN1", "rip",
                        masker=Masker(), interrupt=interrupt)

        async def press():
            await session.in_flight.wait()
            for signum in signals:
                interrupt.trigger(signum)
                await asyncio.sleep(gap)

        presser = asyncio.ensure_future(press())
        outcome = await engine.run_play(play, values, masked(play.inputs, values))
        presser.cancel()
        return outcome, session

    outcome, session = asyncio.run(main())
    return outcome, session, events


def test_sigint_in_flight_finishes_the_request_then_runs_on_fail(registry):
    outcome, session, events = run(SEED, registry, seconds=0.3)
    assert (outcome.status, outcome.exit_status) == ("interrupted", 130)
    actions = [c["action"] for c in session.calls]
    assert actions[-2:] == ["upgrade", "enable"]  # the upgrade ended; nothing new but on_fail
    assert session.calls[-1]["step"] == "on_fail[0]"
    assert "runcommand" not in actions and not session.cancelled
    done = events[-1]
    assert isinstance(done, ev.RunDone) and done.status == "interrupted" and not done.ok
    assert "interrupted by SIGINT" in done.message and "steps[3]" in done.message


def test_sigterm_past_the_grace_cancels_and_records_every_host(registry):
    outcome, session, events = run(ROLLING, registry, seconds=30, grace=0.2,
                                   signals=(signal.SIGTERM,))
    assert (outcome.status, outcome.exit_status) == ("interrupted", 143)
    assert session.cancelled
    cut = [(e.step, e.host, e.status) for e in events if isinstance(e, ev.HostSkipped)]
    assert cut == [("steps[2].batch[1].steps[1]", "dev4", "NotRun"),
                   ("steps[2].batch[1].steps[1]", "dev5", "NotRun")]
    enable = session.calls[-1]
    # on_interrupt (= on_fail) puts back only the servers whose upgrade is known to be done
    assert enable["step"] == "on_fail[0]" and enable["args"]["server"] == ["dev6"]
    assert "left undone" in events[-1].message and "dev4, dev5" in events[-1].message


def test_a_second_signal_skips_the_grace(registry):
    import time

    started = time.monotonic()
    outcome, session, events = run(SEED, registry, seconds=30, grace=20,
                                   signals=(signal.SIGINT, signal.SIGINT), gap=0.05)
    assert time.monotonic() - started < 10
    assert session.cancelled and outcome.exit_status == 130
    assert "second signal" in events[-1].message


def test_an_exception_in_a_step_still_runs_on_fail(registry):
    def behaviour(module, action, host, args, attempt):
        if action == "runcommand":
            raise RuntimeError("boom")
        return "OK", "", {}

    outcome, session, events = run(SEED, registry, seconds=0, signals=(), behaviour=behaviour)
    assert outcome.status == "failed" and outcome.exit_status == 1
    assert session.calls[-1]["step"] == "on_fail[0]"
    failed = [e for e in events if isinstance(e, ev.StepFailed)]
    assert failed and "RuntimeError: boom" in failed[0].reason
    assert isinstance(events[-1], ev.RunDone)


def test_a_failure_inside_on_fail_is_reported(registry, tmp_path):
    def behaviour(module, action, host, args, attempt):
        if action in ("upgrade", "enable"):
            return "Aborted", "nope", {}
        return "OK", "", {}

    outcome, session, events = run(SEED, registry, seconds=0, signals=(), behaviour=behaviour)
    assert not outcome.ok
    assert "FAILED in cleanup: on_fail on_fail[0]" in events[-1].message
    assert [e.step for e in events if isinstance(e, ev.StepFailed)] == ["steps[2]", "on_fail[0]"]


def test_run_done_does_not_repeat_the_step_failed_line(registry):
    def behaviour(module, action, host, args, attempt):
        return ("Aborted", "deploy failed", {}) if action == "upgrade" else ("OK", "", {})

    outcome, session, events = run(SEED, registry, seconds=0, signals=(), behaviour=behaviour)
    failed = next(e for e in events if isinstance(e, ev.StepFailed))
    line = f"step {failed.step} failed: {failed.reason}"
    assert line not in events[-1].message and "failed:" not in events[-1].message


def test_run_done_after_a_failed_ping_does_not_repeat_it(registry):
    def behaviour(module, action, host, args, attempt):
        return ("Unreachable", "refused", {}) if action == "ping" and host == "dev5" else ("OK", "", {})

    outcome, session, events = run(SEED, registry, seconds=0, signals=(), behaviour=behaviour)
    assert not outcome.ok
    assert "failed:" not in events[-1].message
    assert events[-1].message == "play 'app_cluster_upgrade' stopped before changing anything"


def test_on_interrupt_replaces_on_fail_for_an_interrupt(registry, tmp_path):
    play = tmp_path / "p.yml"
    play.write_text(textwrap.dedent("""\
        name: p
        nodes:
          apps: {agent: appmgr}
        steps:
          - call: appmgr.upgrade
            nodes: apps
            args: {revision: 3}
          - call: appmgr.status
            nodes: apps
        on_fail:
          - announce: on fail
        on_interrupt:
          - announce: on interrupt
        """))
    outcome, session, events = run(play, registry, seconds=0.2)
    assert [e.text for e in events if isinstance(e, ev.Announced)] == ["on interrupt"]
    assert outcome.exit_status == 130
