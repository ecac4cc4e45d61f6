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


def test_a_fleet_command_leaves_no_frozen_heap(tmp_path):
    import gc
    import io

    from orch.cli import main
    from orch.cli.env import Environment

    (tmp_path / "orch.cfg").write_text(
        f"[defaults]\ninventory = {tmp_path / 'inv.yml'}\n"
        f"fact_cache = sqlite:///{tmp_path / 'f.db'}\njournal = sqlite:///{tmp_path / 'j.db'}\n"
        "connect_timeout = 1\n")
    (tmp_path / "inv.yml").write_text("all:\n  hosts:\n    h1: {ansible_host: 127.0.0.1, ansible_port: 1}\n")
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO(), stdin=io.StringIO(""),
                      environ={"USER": "rip"}, cwd=tmp_path, stdin_isatty=False,
                      stdout_isatty=False)
    assert main(["call", "rpcutil.ping"], env=env) == 1  # settles the heap, host refuses
    assert gc.get_freeze_count() == 0


def test_an_unknown_flag_prints_the_usage_once_and_one_error_line(capsys):
    import io

    from orch.cli import main
    from orch.cli.env import Environment

    err = io.StringIO()
    env = Environment(stdout=io.StringIO(), stderr=err, stdin=io.StringIO(""), environ={},
                      stdin_isatty=False, stdout_isatty=False)
    assert main(["call", "rpcutil.ping", "--bogus"], env=env) == 2
    text = err.getvalue()
    assert text.count("usage: orch call") == 1
    assert text.splitlines()[-1] == "orch: error: unrecognized arguments: --bogus"
    assert "orch: orch:" not in text
