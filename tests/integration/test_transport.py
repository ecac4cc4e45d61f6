"""orch.transport against the lab's real sshd: what goes over the wire, and auth failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import pytest

from orch.errors import ChannelLost, Unreachable
from orch.rpc.channel import HostChannel
from orch.transport import Pool, Target, TransportOptions, sshlib
from orch.transport.sshlib import asyncssh

pytestmark = pytest.mark.lab


class _Packets(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def sent(self, name: str) -> int:
        return sum(1 for line in self.lines if f"Sent {name} (" in line)


@contextlib.contextmanager
def _capture_packets() -> Iterator[_Packets]:
    """asyncssh's packet log (debug level 3) for the duration of the block."""
    packets = _Packets()
    logger = logging.getLogger("asyncssh")
    old_level = logger.level
    logger.addHandler(packets)
    logger.setLevel(logging.DEBUG)
    asyncssh.set_debug_level(3)
    try:
        yield packets
    finally:
        asyncssh.set_debug_level(1)
        logger.removeHandler(packets)
        logger.setLevel(old_level)


async def _run_true(lab, key: str) -> bytes:
    options = TransportOptions(known_hosts=str(lab.known_hosts), connect_timeout=20)
    target = Target("dev1", lab.hosts["dev1"], lab.port, lab.user, key)
    async with Pool(options) as pool:
        connection = await pool.connect(target)
        process = await connection.start_process("echo ok")
        out = await process.readexactly(3)
        assert await process.wait() == 0
        return out


async def test_auth_is_one_signed_request_and_no_padding_packets(lab):
    with _capture_packets() as packets:
        assert await _run_true(lab, str(lab.client_key)) == b"ok\n"
    assert packets.sent("MSG_CHANNEL_OPEN") == 1
    if "sign-first" in sshlib.APPLIED:
        # no "none" probe, no "would you accept this key?" query, no MSG_IGNORE under AES-GCM
        assert packets.sent("MSG_USERAUTH_REQUEST") == 1
        assert packets.sent("MSG_IGNORE") == 0
    else:  # asyncssh as shipped: none, query, signed request, each after an ignore packet
        assert packets.sent("MSG_USERAUTH_REQUEST") == 3
        assert packets.sent("MSG_IGNORE") > 0


async def test_a_key_the_host_does_not_accept_is_refused(lab, tmp_path):
    other = tmp_path / "other_key"
    other.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    with pytest.raises(Unreachable, match=f"authentication failed as {lab.user}"):
        await _run_true(lab, str(other))


async def test_hosts_that_share_settings_each_reach_their_own_address(lab):
    # One set of prepared options serves every host (sshlib "prepared-options"); each
    # connection must still go to its own host.
    options = TransportOptions(known_hosts=str(lab.known_hosts), connect_timeout=20)
    names = ["dev1", "dev2", "dev3"]
    async with Pool(options) as pool:
        connections = await asyncio.gather(*(
            pool.connect(Target(name, lab.hosts[name], lab.port, lab.user, str(lab.client_key)))
            for name in names))
        peers = [c.peer_address for c in connections]
        shared = [prepared for prepared, _ in pool._prepared.values()]
    assert len(shared) == 1
    if "prepared-options" in sshlib.APPLIED:
        assert shared[0].prepared is not None
    assert peers == [lab.hosts[name] for name in names]


async def test_an_openssh_config_host_block_still_applies_per_host(lab, tmp_path, monkeypatch):
    # With ~/.ssh/config present, options are prepared for each host so its Host blocks match.
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text(
        f"Host dev2-alias\n    HostName {lab.hosts['dev2']}\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    options = TransportOptions(known_hosts=str(lab.known_hosts), connect_timeout=20)
    target = Target("dev2", "dev2-alias", lab.port, lab.user, str(lab.client_key))
    async with Pool(options) as pool:
        connection = await pool.connect(target)
        assert connection.peer_address == lab.hosts["dev2"]


async def test_a_connection_let_go_early_says_goodbye_once(lab):
    options = TransportOptions(known_hosts=str(lab.known_hosts), connect_timeout=20)
    with _capture_packets() as packets:
        async with Pool(options) as pool:
            await pool.connect(Target("dev1", lab.hosts["dev1"], lab.port, lab.user,
                                      str(lab.client_key)))
            pool.forget("dev1")  # what a one-step call does once the host has answered
    assert packets.sent("MSG_DISCONNECT") == 1


def _target(lab, name: str = "dev1") -> Target:
    return Target(name, lab.hosts[name], lab.port, lab.user, str(lab.client_key))


async def test_a_process_that_exits_is_reported_with_its_status_and_last_stderr_line(lab):
    options = TransportOptions(known_hosts=str(lab.known_hosts), connect_timeout=20)
    async with Pool(options) as pool:
        connection = await pool.connect(_target(lab))
        channel = HostChannel(connection, "echo first >&2; echo boom >&2; exit 3", b"")
        with pytest.raises(ChannelLost, match="^remote runtime exited with status 3: boom$"):
            await channel.request({"kind": "request", "reqid": "r1"}, [], 20)


async def test_a_connection_dropped_mid_request_is_channel_lost(lab):
    options = TransportOptions(known_hosts=str(lab.known_hosts), connect_timeout=20)
    async with Pool(options) as pool:
        connection = await pool.connect(_target(lab))
        process = await connection.start_process("sleep 30")
        pool.forget("dev1")  # the connection goes away under the running process
        with pytest.raises((ChannelLost, asyncio.IncompleteReadError)):
            await asyncio.wait_for(process.readexactly(1), 20)
        with pytest.raises(ChannelLost, match="^cannot start a process: "):
            await connection.start_process("true")
