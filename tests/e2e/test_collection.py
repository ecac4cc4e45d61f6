"""The collection's command and file modules through ``orch call`` on the real lab (sshd, the
unprivileged ``orchlab`` login), on files under the lab hosts' own state folders."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

import pytest

pytestmark = pytest.mark.lab


@pytest.fixture
def lab(lab):
    """The lab, once the controller's registry reads the collection's declarations."""
    described = lab.orch("agents", "command")
    if described.code != 0:
        pytest.fail(f"orch agents command failed: {described.stderr.strip()}")
    return lab


def replies(result) -> dict:
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {event["host"]: event for event in events if event.get("type") == "HostReplied"}


def test_command_runs_without_a_shell_on_each_host(lab):
    result = lab.orch("call", "command.run", "command=echo $HOME; id 'a b'", "-I", "dev1",
                      "-I", "dev2", "--json", check=0)
    got = replies(result)
    assert set(got) == {"dev1", "dev2"}
    for reply in got.values():
        assert reply["status"] == "OK" and reply["data"]["stdout"] == "$HOME; id a b\n"
        assert reply["data"]["rc"] == 0 and reply["data"]["changed"] is True


def test_command_creates_stdin_exit_codes(lab):
    marker = lab.state_dir("dev1") / f"made-{uuid.uuid4().hex[:8]}"
    touch = ("call", "command.run", f"argv=[\"touch\", \"{marker}\"]", f"creates={marker}",
             "-I", "dev1", "--json")
    first = replies(lab.orch(*touch, check=0))["dev1"]
    assert first["data"]["changed"] is True and marker.exists()
    second = replies(lab.orch(*touch, check=0))["dev1"]
    assert second["data"]["changed"] is False and second["data"]["skipped"] is True

    secret = "pw-" + uuid.uuid4().hex
    digest = replies(lab.orch("call", "command.run", "argv=sha256sum", f"stdin={secret}",
                              "-I", "dev1", "--json", check=0))["dev1"]
    assert digest["data"]["stdout"].split()[0] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in line for line in lab.audit_lines("dev1"))

    failed = lab.orch("call", "command.run", "argv=[\"sh\", \"-c\", \"echo nope >&2; exit 4\"]",
                      "-I", "dev1", check=1)
    assert "dev1: Aborted: sh exited with 4: nope" in failed.stdout


def test_file_write_is_idempotent_and_fetch_returns_it(lab):
    target = lab.state_dir("dev1") / f"motd-{uuid.uuid4().hex[:8]}"
    write = ("call", "file.write", f"path={target}", "content=hello lab\n", "mode=0640",
             "-I", "dev1", "--json")
    first = replies(lab.orch(*write, check=0))["dev1"]
    assert first["status"] == "OK" and first["data"]["changed"] is True
    assert target.read_text() == "hello lab\n" and target.stat().st_mode & 0o777 == 0o640
    assert first["data"]["owner"] == lab.user
    second = replies(lab.orch(*write, check=0))["dev1"]
    assert second["data"]["changed"] is False
    stat = replies(lab.orch("call", "file.stat", f"path={target}", "-I", "dev1", "--json",
                            check=0))["dev1"]["data"]
    assert stat["sha256"] == hashlib.sha256(b"hello lab\n").hexdigest() and stat["mode"] == "0640"
    fetched = replies(lab.orch("call", "file.fetch", f"path={target}", "-I", "dev1", "--json",
                               check=0))["dev1"]["data"]
    assert base64.b64decode(fetched["content_b64"]) == b"hello lab\n"
    removed = replies(lab.orch("call", "file.remove", f"path={target}", "-I", "dev1", "--json",
                               check=0))["dev1"]["data"]
    assert removed["changed"] is True and not target.exists()


def test_file_write_template_check_diff_then_fetch_to_dest(lab, tmp_path):
    """src=*.j2 rendered per host on the controller; --check --diff shows each host's diff
    and leaves the files untouched; the real run writes them; --dest fetches them back."""
    name = f"motd-{uuid.uuid4().hex[:8]}"
    targets = {host: lab.state_dir(host) / name for host in ("dev1", "dev4")}
    for host, target in targets.items():  # made by the lab's login user, as on a real host
        lab.orch("call", "file.write", f"path={target}", "content=old line\n", "-I", host,
                 check=0)
    template = tmp_path / "motd.j2"
    template.write_text("{{ inventory_hostname }} in cluster {{ facts.cluster }}\n")
    for host, target in targets.items():  # each lab host's state folder has its own path
        dry = lab.orch("call", "file.write", f"path={target}", f"src={template}", "-I", host,
                       "--check", "--diff", check=0)
        cluster = "alfa" if host == "dev1" else "bravo"
        assert f"diff from {host}:" in dry.stdout
        assert "-old line" in dry.stdout and f"+{host} in cluster {cluster}" in dry.stdout
        assert target.read_text() == "old line\n"
        lab.orch("call", "file.write", f"path={target}", f"src={template}", "-I", host,
                 check=0)
        assert target.read_text() == f"{host} in cluster {cluster}\n"
    secret = lab.orch("call", "file.write", f"path={targets['dev1']}", "content=top secret\n",
                      "sensitive=true", "-I", "dev1", "--check", "--diff", check=0)
    assert "top secret" not in secret.stdout and "diff from" not in secret.stdout
    dest = tmp_path / "fetched"
    fetched = lab.orch("call", "file.fetch", f"path={targets['dev1']}", "-I", "dev1",
                       "--dest", str(dest), check=0)
    saved = dest / "dev1" / str(targets["dev1"]).lstrip("/")
    assert saved.read_text() == "dev1 in cluster alfa\n"
    assert f"fetched dev1:{targets['dev1']} -> {saved}" in fetched.stderr
    missing = lab.orch("call", "file.write", f"path={targets['dev1']}",
                       f"src={tmp_path / 'absent'}", "-I", "dev1", check=2)
    assert "cannot read" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1


def test_the_documented_example_package_installs_and_runs_on_the_lab(lab, tmp_path):
    """docs/modules.md's example, built and installed with pip into a folder, found through
    its orch.modules entry point, checked, and called on a lab host (helper sent first)."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    example = repo / "docs" / "examples" / "orch-greeter"
    doc = (repo / "docs" / "modules.md").read_text()
    assert 'greeter = "orch_greeter.greeter"' in doc
    assert 'greeter = "orch_greeter.greeter"' in (example / "pyproject.toml").read_text()
    target = tmp_path / "site"
    built = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                            "--target", str(target), str(example)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    env = {"PYTHONPATH": str(target)}
    listed = lab.orch("agents", env=env, check=0)
    assert "greeter" in listed.stdout
    installed = target / "orch_greeter" / "greeter.py"
    checked = lab.orch("agents", "--check", str(installed), env=env, check=0)
    assert "ok: 1 path(s) checked" in checked.stdout
    state = lab.state_dir("dev2") / "greeting"
    if state.exists():
        state.unlink()
    dry = replies(lab.orch("call", "greeter.greet", "name=ada", "-I", "dev2", "--check",
                           "--json", env=env, check=0))["dev2"]
    assert dry["status"] == "OK" and dry["changed"] is True and not state.exists()
    first = replies(lab.orch("call", "greeter.greet", "name=ada", "-I", "dev2", "--json",
                             env=env, check=0))["dev2"]
    assert first["data"]["greeting"] == "hello ada!" and first["data"]["kernel"] == "Linux"
    assert state.read_text() == "hello ada!\n"
    again = replies(lab.orch("call", "greeter.greet", "name=ada", "-I", "dev2", "--json",
                             env=env, check=0))["dev2"]
    assert again["changed"] is False
    unit = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(example / "tests")], capture_output=True, text=True, timeout=120)
    assert unit.returncode == 0, unit.stdout + unit.stderr
