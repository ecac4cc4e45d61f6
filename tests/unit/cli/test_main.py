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
