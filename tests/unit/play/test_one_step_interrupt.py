"""``orch call`` as a one-step run (``Engine.one_step``) under SIGINT/SIGTERM (issue 16): hosts
the interrupt kept from starting are NotRun, never dropped, a host that failed in the batch in
flight stays failed, the run ends with RunDone ``interrupted`` and the outcome names the hosts
not run. The lab proves the same end to end (tests/faults/test_call_interrupt.py)."""

import asyncio
import signal
from types import SimpleNamespace

from play_fakes import Host, Reply

from orch.output import events as ev
from orch.play.engine import Engine, Interrupt
from orch.play.lifecycle import interrupted_call
from orch.rpc.options import CallOptions

HOSTS = [Host(f"dev{i}") for i in range(1, 5)]


class BatchingSession:
    """Runs batches as RpcSession does (no new batch once ``stop_requested()``); the
    interrupt arrives while batch 1 is in flight; ``status`` is each reply's status."""

    def __init__(self, sink, interrupt, signum, status="OK"):
        self.sink, self.interrupt, self.signum, self.status = sink, interrupt, signum, status
        self.stop_requested = lambda: False
        self.started: list[str] = []

    async def call(self, step_id, hosts, module, action, args, options, *, hang_up=False):
        size = options.batch_size or len(hosts)
        results = {}
        for index in range(0, len(hosts), size):
            if index and self.stop_requested():
                break
            for host in hosts[index:index + size]:
                self.started.append(host.name)
                if not self.interrupt.requested:
                    self.interrupt.trigger(self.signum)  # the operator presses Ctrl-C now
                await asyncio.sleep(0.01)
                self.sink(ev.HostReplied(step_id, host.name, self.status, "boom", {}, 0.01, 1,
                                         True))
                results[host.name] = Reply(host.name, self.status, "boom", {})
        return SimpleNamespace(results=results)


def one_step(signum=signal.SIGINT, status="OK"):
    events = []
    settled = set()

    def sink(event):
        if isinstance(event, ev.HostReplied | ev.HostSkipped):
            settled.add((event.step, event.host))
        events.append(event)

    async def main():
        interrupt = Interrupt(grace=5)
        session = BatchingSession(sink, interrupt, signum, status)
        engine = Engine(sink, session, lambda selection: HOSTS, "RUN1", "rip",
                        interrupt=interrupt, settled=settled)
        session.stop_requested = lambda: engine.stopping
        body = lambda: engine.one_step("call", HOSTS, "labtest", "sleep", {"seconds": 1},  # noqa: E731
                                       CallOptions(batch_size=1), read_only=True)
        return await engine.run("call labtest.sleep", "call", {}, body), session

    outcome, session = asyncio.run(main())
    return outcome, session, events


def not_run(events):
    return [e.host for e in events if isinstance(e, ev.HostSkipped) and e.status == "NotRun"]


def test_hosts_not_started_are_not_run_and_the_run_is_interrupted():
    outcome, session, events = one_step(signal.SIGTERM)
    assert session.started == ["dev1"]  # no batch started after the signal
    assert not_run(events) == ["dev2", "dev3", "dev4"]
    assert (outcome.status, outcome.exit_status) == ("interrupted", 143)
    assert outcome.not_run == ("dev2", "dev3", "dev4")
    done = events[-1]
    assert isinstance(done, ev.RunDone) and done.status == "interrupted"
    assert "left undone: call (labtest#sleep) not started on dev2, dev3, dev4" in done.message
    assert done.recap["dev2"]["skipped"] == 1 and done.recap["dev1"]["ok"] == 1


def test_a_host_failed_in_the_batch_in_flight_stays_failed_beside_the_not_run_ones():
    # This used to raise KeyError: the hosts not started were looked up among the failures.
    outcome, _, events = one_step(signal.SIGINT, status="Aborted")
    assert (outcome.status, outcome.exit_status) == ("interrupted", 130)
    assert set(outcome.failed) == {"dev1"}  # NotRun hosts are not "failed"
    assert outcome.not_run == ("dev2", "dev3", "dev4")
    assert isinstance(events[-1], ev.RunDone) and events[-1].status == "interrupted"


def test_the_operator_is_told_which_hosts_to_call_again():
    outcome, _, _ = one_step()
    text = interrupted_call(outcome, "orch call labtest.sleep")
    assert "run RUN1 was interrupted; not run on 3 host(s): dev2, dev3, dev4" in text
    assert "run orch call labtest.sleep again on them (-I dev2 -I dev3 -I dev4)" in text
    assert "'orch runs RUN1'" in text
