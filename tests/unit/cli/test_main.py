import io

from orch.cli import COMMANDS, main
from orch.cli.env import Environment


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, env=Environment(stdout=out, stderr=err, stdin=io.StringIO()))
    return code, out.getvalue(), err.getvalue()


def test_help_lists_every_command():
    code, out, _ = run([])
    assert code == 2
    for name in ("play", "call", "discover", "facts", "inventory", "agents", "runs", "lab"):
        assert name in COMMANDS
        assert f"    {name}" in out


def test_unknown_command_is_one_line_exit_2():
    code, out, err = run(["frobnicate"])
    assert code == 2
    assert err.count("\n") == 1 and "invalid choice" in err


def test_a_command_builds_only_its_own_parser_and_still_checks_its_flags():
    import sys

    sys.modules.pop("orch.cli.commands.lab", None)
    code, _, err = run(["--traceback", "call", "rpcutil.ping", "--no-such-flag"])
    assert code == 2 and "unrecognized arguments: --no-such-flag" in err
    assert "orch.cli.commands.lab" not in sys.modules  # the other commands were not configured


def test_settle_heap_freezes_what_was_loaded_before_a_run():
    import gc

    from orch.cli.runner import settle_heap

    gc.disable()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()


def test_the_collector_is_back_on_after_a_command():
    import gc

    assert gc.isenabled()
    run(["call", "rpcutil.ping", "--no-such-flag"])
    assert gc.isenabled()
