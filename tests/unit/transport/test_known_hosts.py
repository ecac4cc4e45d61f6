"""orch.transport.known_hosts: lookups by name or address, safe reading, one line per key."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from orch.errors import ExitStatus, InputError
from orch.transport.known_hosts import MAX_SIZE, KnownHosts
from orch.transport.sshlib import asyncssh
from tests.conftest import REPO


def _public(key) -> str:
    return key.export_public_key().decode().strip()


@pytest.fixture(scope="module")
def keys() -> list:
    return [asyncssh.generate_private_key("ssh-ed25519") for _ in range(3)]


def test_host_names_and_addresses_are_both_looked_up(tmp_path, keys):
    path = tmp_path / "known_hosts"
    path.write_text(f"web3 {_public(keys[0])}\n[10.0.0.7]:2222 {_public(keys[1])}\n"
                    f"[db1.example]:2200 {_public(keys[2])}\n")
    known = KnownHosts(str(path))
    assert known.has_entry("web3", 22)  # a name used to raise "does not appear to be an IPv4"
    assert known.has_entry("web3", 2222)  # asyncssh falls back to the entry without a port
    assert not known.has_entry("web4", 22)
    assert known.has_entry("10.0.0.7", 2222)
    assert not known.has_entry("10.0.0.8", 2222)
    assert known.has_entry("db1.example", 2200)
    assert not known.has_entry("fe80::1", 22)


def _load_within(path: Path, seconds: float = 10) -> BaseException | None:
    """KnownHosts(path) in a thread: its error, or a failure if it does not return in time."""
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            KnownHosts(str(path))
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome.append(error)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"reading {path} did not return within {seconds}s")
    return outcome[0]


def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "known_hosts"
    os.mkfifo(fifo)
    error = _load_within(fifo)
    assert isinstance(error, InputError) and error.exit_status == ExitStatus.BAD_INPUT
    assert str(error) == f"{fifo}: known_hosts is not a regular file"


def test_a_device_is_refused_not_read_into_memory():
    error = _load_within(Path("/dev/zero"))
    assert isinstance(error, InputError)
    assert str(error) == "/dev/zero: known_hosts is not a regular file"


def test_a_file_over_the_size_cap_is_refused(tmp_path):
    huge = tmp_path / "known_hosts"
    with open(huge, "wb") as stream:
        stream.truncate(MAX_SIZE + 1)  # sparse: costs no disk
    error = _load_within(huge)
    assert isinstance(error, InputError)
    assert str(error) == f"{huge}: known_hosts is larger than 16 MiB"


def test_a_missing_file_trusts_nothing(tmp_path):
    assert not KnownHosts(str(tmp_path / "none")).has_entry("web3", 22)


async def test_recording_keeps_the_last_line_whole(tmp_path, keys):
    path = tmp_path / "known_hosts"
    path.write_text(f"web3 {_public(keys[0])}")  # no newline at the end
    known = KnownHosts(str(path))
    await known.record("10.0.0.9", 2222, keys[1])
    await known.record("10.0.0.9", 2222, keys[1])  # again: nothing more
    assert path.read_text().splitlines() == [f"web3 {_public(keys[0])}",
                                             f"[10.0.0.9]:2222 {_public(keys[1])}"]


_RECORDER = """
import asyncio, sys, time
from pathlib import Path
from orch.transport.known_hosts import KnownHosts
from orch.transport.sshlib import asyncssh

path, keys_file, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
keys = [asyncssh.import_public_key(line) for line in Path(keys_file).read_text().splitlines()]
known = KnownHosts(path)  # every controller reads the file before any of them writes
Path(go.parent / f"ready-{sys.argv[4]}").touch()
while not go.exists():
    time.sleep(0.005)

async def main():
    await asyncio.gather(*(known.record(f"10.9.0.{n}", 2222, key) for n, key in enumerate(keys)))

asyncio.run(main())
"""


def test_controllers_recording_the_same_hosts_at_once_write_each_line_once(tmp_path):
    count, controllers = 30, 4
    keys_file = tmp_path / "keys.pub"
    keys_file.write_text("".join(
        _public(asyncssh.generate_private_key("ssh-ed25519")) + "\n" for _ in range(count)))
    path, go = tmp_path / "known_hosts", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    processes = [subprocess.Popen([sys.executable, "-c", _RECORDER, str(path), str(keys_file),
                                   str(go), str(n)], env=env) for n in range(controllers)]
    try:
        for n in range(controllers):
            ready = tmp_path / f"ready-{n}"
            for _ in range(3000):
                if ready.exists() or processes[n].poll() is not None:
                    break
                asyncio.run(asyncio.sleep(0.01))
        go.touch()
        assert [p.wait(60) for p in processes] == [0] * controllers
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    lines = path.read_text().splitlines()
    expected = {f"[10.9.0.{n}]:2222 {key}"
                for n, key in enumerate(keys_file.read_text().splitlines())}
    assert len(lines) == count and set(lines) == expected
