"""--resume correct by construction (issue 16): batches are units, rerun pairs never split."""

import textwrap

import pytest
from test_engine import ROLLING, SEED, names, run

from orch.errors import InputError
from orch.output import events as ev
from orch.play.loader import load_play

BATCH1 = [(f"steps[2].batch[1].steps[{i}]", host)
          for i, hosts in enumerate((["lb1"], ["dev4", "dev5"], ["dev4", "dev5"], ["lb1"]))
          for host in hosts]


def test_rolling_resume_skips_finished_batches_and_reruns_the_unfinished_one_whole(registry):
    """Old code: batch 1's disable ran again while its enable was skipped (dev4/dev5 in MAINT)."""
    done = set(BATCH1) | {("steps[2].batch[2].steps[0]", "lb1")}
    outcome, calls, events = run(ROLLING, registry, done=done)
    assert outcome.ok
    rolling = [(c["step"], c["action"], c["hosts"]) for c in calls if c["step"].startswith("steps[2]")]
    assert rolling == [("steps[2].batch[2].steps[0]", "disable", ["lb1"]),
                       ("steps[2].batch[2].steps[1]", "upgrade", ["dev6"]),
                       ("steps[2].batch[2].steps[2]", "runcommand", ["dev6"]),
                       ("steps[2].batch[2].steps[3]", "enable", ["lb1"])]
    skipped = {(e.step, e.host) for e in events if isinstance(e, ev.HostSkipped)}
    assert set(BATCH1) <= skipped


def test_rolling_resume_of_a_half_done_batch_reruns_it_from_its_first_step(registry):
    done = {("steps[2].batch[1].steps[0]", "lb1"), ("steps[2].batch[1].steps[1]", "dev4")}
    outcome, calls, events = run(ROLLING, registry, done=done)
    first = [(c["action"], c["hosts"]) for c in calls if c["step"].startswith("steps[2].batch[1]")]
    assert first == [("disable", ["lb1"]), ("upgrade", ["dev4", "dev5"]),
                     ("runcommand", ["dev4", "dev5"]), ("enable", ["lb1"])]


def test_seed_resume_after_the_enable_does_not_take_servers_out_again(registry):
    """Old code: resume: rerun disabled every server, and the done enable was skipped."""
    done = {("steps[1]", "lb1"), ("steps[4]", "lb1")} | {
        (step, host) for step in ("steps[2]", "steps[3]") for host in ("dev4", "dev5", "dev6")}
    outcome, calls, events = run(SEED, registry, done=done)
    assert outcome.ok
    assert "haproxy.disable" not in names(calls) and "haproxy.enable" not in names(calls)


def test_seed_resume_that_reruns_the_disable_reruns_its_enable(registry):
    done = {("steps[1]", "lb1"), ("steps[4]", "lb1"), ("steps[2]", "dev4")}
    outcome, calls, events = run(SEED, registry, done=done)
    assert names(calls).count("haproxy.disable") == 1 and names(calls).count("haproxy.enable") == 1
    assert names(calls).index("haproxy.disable") < names(calls).index("haproxy.enable")


def test_named_steps_are_keyed_by_name(registry, tmp_path):
    play = tmp_path / "p.yml"
    play.write_text(textwrap.dedent("""\
        name: p
        nodes:
          apps: {agent: appmgr}
        steps:
          - call: appmgr.upgrade
            name: upgrade apps
            nodes: apps
            args: {revision: 3}
          - call: appmgr.status
            nodes: apps
        """))
    loaded = load_play(play, registry)
    assert [step.id for step in loaded.steps] == ["upgrade apps", "steps[1]"]
    play.write_text(play.read_text().replace("  - call: appmgr.status\n",
                                             "  - call: appmgr.status\n    name: upgrade apps\n"))
    with pytest.raises(InputError, match="step name 'upgrade apps' must be unique"):
        load_play(play, registry)


@pytest.mark.parametrize("literal, message", [
    ("abc", "expected an integer"),
    ('"a\\0b"', "NUL byte"),
])
def test_literal_play_args_are_checked_at_load(registry, tmp_path, literal, message):
    """Old code: `args: {revision: abc}` failed at run time, after haproxy.disable."""
    play = tmp_path / "p.yml"
    play.write_text(textwrap.dedent(f"""\
        name: p
        nodes:
          apps: {{agent: appmgr}}
        steps:
          - call: appmgr.upgrade
            nodes: apps
            args: {{revision: {literal}}}
        """))
    with pytest.raises(InputError, match=message) as error:
        load_play(play, registry)
    assert error.value.where.line == 7 and "args.revision" in error.value.where.path
