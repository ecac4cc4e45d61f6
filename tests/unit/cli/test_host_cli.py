"""``orch host init``'s controller side: ``--caller NAME=KEY`` becomes the callers line the
host's runtime matches (``SHA256:<fingerprint> NAME``, as ``ssh-keygen -l`` prints it), bad input
is one line with exit 2, and ``-b`` says plainly when become is not available."""

from __future__ import annotations

import io
import subprocess

import pytest

from orch.cli import main
from orch.cli.commands.host import caller_line
from orch.cli.env import Environment
from orch.errors import InputError


def _keygen(tmp_path):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rip@desk", "-f", str(key)],
                   check=True)
    printed = subprocess.run(["ssh-keygen", "-l", "-f", str(key) + ".pub"], check=True,
                             capture_output=True, text=True).stdout.split()[1]
    return key, printed


def test_public_key_file_text_and_fingerprint_give_ssh_keygens_fingerprint(tmp_path):
    key, fingerprint = _keygen(tmp_path)
    assert caller_line(f"rip={key}.pub", tmp_path) == f"{fingerprint} rip"
    assert caller_line("rip=id_ed25519.pub", tmp_path) == f"{fingerprint} rip"
    text = (tmp_path / "id_ed25519.pub").read_text().strip()
    assert caller_line(f"rip={text}", tmp_path) == f"{fingerprint} rip"
    assert caller_line(f"alice={fingerprint}", tmp_path) == f"{fingerprint} alice"


@pytest.mark.parametrize("text", ["rip", "=SHA256:x", "r p=SHA256:x", "rip=SHA256:short",
                                  "rip=/nonexistent/key.pub"])
def test_bad_callers_are_input_errors(tmp_path, text):
    with pytest.raises(InputError):
        caller_line(text, tmp_path)


def test_a_private_key_is_refused(tmp_path):
    key, _ = _keygen(tmp_path)
    with pytest.raises(InputError, match="expected a public key"):
        caller_line(f"rip={key}", tmp_path)


def _run(tmp_path, *argv):
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, stdin=io.StringIO(), environ={}, cwd=tmp_path)
    return main(list(argv), env=env), out.getvalue(), err.getvalue()


def test_become_flag_is_a_clear_error_until_become_exists(tmp_path):
    from dataclasses import fields

    from orch.rpc.options import CallOptions

    if "become" in {field.name for field in fields(CallOptions)}:
        pytest.skip("become exists: -b goes to the call")
    code, _, err = _run(tmp_path, "host", "init", "-b", "-i", str(tmp_path / "none.yml"))
    assert code == 2 and "become is not available in this orch yet" in err
    assert len(err.strip().splitlines()) == 1


def test_bad_caller_exits_2_with_one_line(tmp_path):
    code, _, err = _run(tmp_path, "host", "init", "--caller", "rip", "-i", str(tmp_path / "x.yml"))
    assert code == 2 and "--caller" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [("init", "--root-login"), ("trust", "--root-login")])
def test_root_login_without_init_restricted_exits_2_with_one_line(tmp_path, argv):
    code, _, err = _run(tmp_path, "host", *argv, "-i", str(tmp_path / "x.yml"))
    assert code == 2 and "--root-login goes with 'init --restricted'" in err, err
    assert len(err.strip().splitlines()) == 1
