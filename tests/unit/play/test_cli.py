"""`orch play` and `orch runs` through orch.cli.main, without hosts (the e2e tests use the lab)."""

import io
import textwrap

from play_fakes import REPO

from orch.cli import main
from orch.cli.env import Environment


def run(argv, tmp_path, stdin="", environ=None, inventory="all:\n  hosts:\n    dev1: {}\n"):
    (tmp_path / "orch.cfg").write_text(textwrap.dedent(f"""\
        [defaults]
        inventory = {tmp_path / 'inventory.yml'}
        module_paths = {REPO / 'modules'}
        fact_cache = sqlite:///{tmp_path / 'facts.db'}
        journal = sqlite:///{tmp_path / 'journal.db'}
        """))
    (tmp_path / "inventory.yml").write_text(inventory)
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, stdin=io.StringIO(stdin), environ={"USER": "rip", **(environ or {})},
                      cwd=tmp_path, stdin_isatty=False, stdout_isatty=False)
    code = main([str(arg) for arg in argv], env=env)
    return code, out.getvalue(), err.getvalue()


SEED = REPO / "plays" / "app_cluster_upgrade.yml"


def test_syntax_check_accepts_the_seed_play(tmp_path):
    code, out, err = run(["play", SEED, "revision=20", "--syntax-check", "-e", "cluster=bravo",
                          "-e", "backend=app"], tmp_path)
    assert (code, err) == (0, "")
    assert "play 'app_cluster_upgrade' is valid" in out


def test_bad_revision_is_one_line_exit_2(tmp_path):
    code, out, err = run(["play", SEED, "-e", "cluster=bravo", "-e", "backend=app",
                          "-e", "revision=abc"], tmp_path)
    assert code == 2 and out == ""
    assert err == ("orch: error: -e revision: input 'revision': expected an integer (ASCII digits)"
                   " (got 'abc')\n")


def test_missing_input_without_terminal_says_how_to_give_it(tmp_path):
    code, out, err = run(["play", SEED, "-e", "cluster=bravo", "-e", "backend=app"], tmp_path)
    assert code == 2
    assert "input 'revision' is required: give -e revision=VALUE" in err


def test_a_broken_play_is_refused_with_its_line(tmp_path):
    play = tmp_path / "broken.yml"
    play.write_text("name: b\nsteps:\n  - call: appmgr.upgrade\n    nodes: apps\n")
    code, out, err = run(["play", play], tmp_path)
    assert code == 2 and err.count("\n") == 1
    assert f"{play}:4: steps[0].nodes: unknown node set 'apps'" in err


def test_python_play_errors_name_the_play_line(tmp_path):
    play = tmp_path / "p.py"
    play.write_text("def run(orch):\n    value = orch.ask('Revision', 'revision')\n"
                    "    orch.validate(value, r'^\\d+$', 'revision')\n")
    code, out, err = run(["play", play, "revision=abc"], tmp_path)
    assert code == 2
    assert err == f"orch: error: {play}:3: 'revision' 'abc' does not match /^\\d+$/\n"
    play.write_text("def run(orch)\n    pass\n")
    code, out, err = run(["play", play], tmp_path)
    assert code == 2 and f"{play}:1: syntax error" in err


def test_resume_of_an_unknown_run(tmp_path):
    code, out, err = run(["play", SEED, "--resume", "20990101T000000-000000"], tmp_path)
    assert code == 2 and "no run '20990101T000000-000000' in the journal" in err


def test_runs_on_an_empty_journal(tmp_path):
    code, out, err = run(["runs"], tmp_path)
    assert (code, out) == (0, "no runs in the journal yet\n")
    code, out, err = run(["runs", "nope"], tmp_path)
    assert code == 2 and "no run 'nope'" in err


def test_resume_refuses_other_inputs(tmp_path):
    from orch.journal import open_journal
    from orch.output import events as ev

    journal = open_journal(f"sqlite:///{tmp_path / 'journal.db'}")
    journal(ev.RunStarted("20261125T081500-ab12cd", "app_cluster_upgrade", "play",
                          {"cluster": "bravo", "backend": "app", "revision": 20}, "rip"))
    journal.close()
    code, out, err = run(["play", SEED, "--syntax-check", "--resume", "20261125T081500-ab12cd"], tmp_path)
    assert (code, err) == (0, "")  # the old run's inputs are reused
    code, out, err = run(["play", SEED, "revision=21", "--resume", "20261125T081500-ab12cd"],
                         tmp_path)
    assert code == 2 and "ran with revision=20; resume it with the same inputs" in err


def test_unknown_event_loop_stops_the_play_before_the_journal(tmp_path):
    code, out, err = run(["play", SEED, "-e", "cluster=bravo", "-e", "backend=app",
                          "-e", "revision=20"], tmp_path, environ={"ORCH_EVENT_LOOP": "tokio"})
    assert code == 2 and out == ""
    assert err == "orch: error: ORCH_EVENT_LOOP: must be one of auto, uvloop, asyncio, got 'tokio'\n"
    assert not (tmp_path / "journal.db").exists()
