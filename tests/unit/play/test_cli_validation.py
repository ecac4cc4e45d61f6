"""Issue 16's inputs that passed validation and then crashed or hung a run: each is now exit 2
with one line naming the field, before any host is contacted."""

import pytest
from play_fakes import REPO
from test_cli import run

from orch.play.loader import load_play

SEED = REPO / "plays" / "app_cluster_upgrade.yml"
ROLLING = REPO / "plays" / "app_cluster_rolling.yml"
BASE = ["-e", "cluster=bravo", "-e", "backend=app", "-e", "revision=20"]


@pytest.mark.parametrize("play, assignment, field", [
    (SEED, "try_sleep=nan", "try_sleep"),
    (SEED, "try_sleep=inf", "try_sleep"),
    (SEED, "try_sleep=1e9", "try_sleep"),
    (ROLLING, "batch_size=0", "batch_size"),
    (SEED, "cluster=alfa\n", "cluster"),
    (SEED, "revision=٢٠", "revision"),
    (SEED, "revision=1_000", "revision"),
])
def test_bad_play_inputs_exit_2_naming_the_field(tmp_path, play, assignment, field):
    code, out, err = run(["play", play, *BASE, "-e", assignment], tmp_path)
    assert code == 2, err
    assert err.count("\n") == 1 and field in err and "Traceback" not in err


@pytest.mark.parametrize("flag, value", [("--tries", "0"), ("--tries", "-3"), ("--batch", "-1"),
                                         ("--timeout", "0"), ("--concurrency", "0")])
def test_bad_call_options_exit_2(tmp_path, flag, value):
    code, out, err = run(["call", "rpcutil.ping", "-I", "dev1", flag, value], tmp_path)
    assert code == 2 and err.count("\n") == 1 and flag.lstrip("-") in err, err


def test_a_bad_ansible_port_is_exit_2_naming_host_and_variable(tmp_path):
    """Old code: `UnknownError: internal error: InputError` at call time, exit 1."""
    code, out, err = run(["call", "rpcutil.ping", "-I", "dev1"], tmp_path,
                         inventory="all:\n  hosts:\n    dev1: {ansible_port: eighty}\n")
    assert code == 2, (out, err)
    assert "dev1" in err and "ansible_port" in err and err.count("\n") == 1


def test_the_rolling_plays_literals_are_all_valid(tmp_path):
    from play_fakes import ModulesRegistry

    load_play(ROLLING, ModulesRegistry())
    load_play(SEED, ModulesRegistry())
