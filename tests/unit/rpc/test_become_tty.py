"""``escalate_tty``: talking to su/doas on a terminal (a scripted stand-in for the process).

The real thing runs on the realistic fleet (tests/realfleet/test_su_become.py); these pin the
decisions: when the password is typed, what a refusal says, that the password never shows.
"""

import asyncio

import pytest

from orch.rpc import become
from orch.rpc.become import READY, Become, BecomeFailed, escalate_tty

SECRET = "s3cret-Pw"


class Terminal:
    """The process as seen through a pty: scripted output, each piece after a written line."""

    def __init__(self, *script: bytes | None):
        self.script = list(script)  # bytes: output; None: wait for the next write
        self.written: list[bytes] = []
        self._wrote = asyncio.Event()
        self._waits = 0

    def write(self, data: bytes) -> None:
        self.written.append(data)
        self._wrote.set()

    async def read(self, limit: int) -> bytes:
        while self.script and self.script[0] is None:
            self.script.pop(0)
            self._waits += 1
            while len(self.written) < self._waits:
                self._wrote.clear()
                await self._wrote.wait()
        if not self.script:
            await asyncio.sleep(3600)
        return self.script.pop(0)


def run(terminal: Terminal, timeout: float = 5) -> None:
    asyncio.run(escalate_tty(terminal, Become(method="su"), SECRET, timeout))


def test_the_password_is_typed_after_the_prompt_and_ready_ends_it():
    terminal = Terminal(b"Password: ", None, b"\r\n", READY)
    run(terminal)
    assert terminal.written == [SECRET.encode() + b"\n"]


def test_no_prompt_at_all_is_fine():  # su from root, or a method that does not ask
    terminal = Terminal(READY)
    run(terminal)
    assert terminal.written == []


def test_a_prompt_in_another_language_is_answered_after_a_quiet_moment(monkeypatch):
    monkeypatch.setattr(become, "QUIET_PROMPT", 0.1)
    terminal = Terminal("Mot de passe\u00a0: ".encode(), None, b"\r\n", READY)
    run(terminal)
    assert terminal.written == [SECRET.encode() + b"\n"]


def test_a_wrong_password_is_one_clear_line():
    terminal = Terminal(b"Password: ", None, b"\r\nsu: Authentication failure\r\n", b"")
    with pytest.raises(BecomeFailed) as caught:
        run(terminal)
    assert str(caught.value) == "become: incorrect password (su: Authentication failure)"
    assert len(terminal.written) == 1  # typed once: no retries


def test_asked_again_means_wrong_and_is_not_answered_twice():
    terminal = Terminal(b"doas (ops@web5) password: ", None, b"\r\ndoas (ops@web5) password: ")
    with pytest.raises(BecomeFailed, match="incorrect password"):
        run(terminal)
    assert len(terminal.written) == 1


def test_a_missing_su_says_so():
    terminal = Terminal(b"sh: 1: exec: su: not found\r\n", b"")
    with pytest.raises(BecomeFailed) as caught:
        run(terminal)
    assert str(caught.value) == "become: su is not installed here (sh: 1: exec: su: not found)"


def test_the_password_never_shows_in_a_message_even_if_echoed():
    terminal = Terminal(b"Password: ", None, SECRET.encode() + b"\r\nsu: something odd\r\n", b"")
    with pytest.raises(BecomeFailed) as caught:
        run(terminal)
    assert SECRET not in str(caught.value)


def test_silence_ends_at_the_timeout():
    terminal = Terminal()
    with pytest.raises(BecomeFailed, match="no answer from su within 0.2s"):
        run(terminal, timeout=0.2)


def test_bytes_after_the_marker_are_refused():
    with pytest.raises(BecomeFailed, match="unexpected output"):
        run(Terminal(READY + b"junk"))
