"""Privilege escalation, the Ansible way: the runtime runs under ``sudo`` (or ``su``, ``doas``).

The escalation wraps the bootstrap command (``orch.runtime.bootstrap.command``); the password,
when one is needed, is written to sudo's standard input after sudo has printed this run's own
prompt on stderr, so it never appears in an argv, an environment, a log or the console. The
runtime then writes a ready marker on stdout before it reads its payload, which is how the
controller knows escalation succeeded. A second prompt means the password was wrong: the
channel is closed at once (no retries that would lock the account).

``su`` and ``doas`` read a password from the controlling terminal only, so with a password
(and only then: ``needs_tty``) the session gets a pseudo-terminal and ``escalate_tty`` talks to
them on it: it waits for their prompt (any text with "assword", or a line ending in ":" after a
quiet moment, for other languages), types the password (the terminal's echo is off while they
read it), and waits for the ready marker, which the first stage writes only once it has put the
terminal into raw mode (``orch.runtime.bootstrap.TTY_LINES``); from then on the frames pass
8-bit clean, as over pipes.
"""

from __future__ import annotations

import asyncio
import secrets
import shlex
from dataclasses import dataclass

from orch.errors import InputError, TransportError, Where

METHODS = ("sudo", "su", "doas")
READY = b"\x00orch-ready\n"
#: Methods that read the password from a terminal, never from a pipe.
TTY_METHODS = ("su", "doas")
#: How long a prompt without "assword" in it must stay unanswered before it counts as one.
QUIET_PROMPT = 1.0


class BecomeFailed(TransportError):
    """Escalation failed on a host: wrong password, not in sudoers, a tty required. The host
    was reached, so it is *failed*, not unreachable."""


@dataclass(frozen=True)
class Become:
    """How one host escalates: method, target user, the executable and its extra flags."""

    method: str = "sudo"
    user: str = "root"
    exe: str = ""
    flags: str = ""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"become method {self.method!r} is not one of {', '.join(METHODS)}",
                             Where(path="become_method"))
        if not self.user or any(char.isspace() for char in self.user):
            raise InputError(f"become user {self.user!r} is not a user name",
                             Where(path="become_user"))

    def wrap(self, script: str, prompt: str, tty: bool = False) -> str:
        """The shell command that runs ``script`` (POSIX sh text) as ``user``; ``tty``: on a
        terminal, where doas may ask for a password (``-n`` otherwise: never ask)."""
        exe = shlex.quote(self.exe or self.method)
        flags = " ".join(shlex.quote(flag) for flag in shlex.split(self.flags))
        inner = f"/bin/sh -c {shlex.quote(script)}"
        user = shlex.quote(self.user)
        if self.method == "sudo":
            return (f"exec {exe} -S -p {shlex.quote(prompt)} {flags} -u {user} -- {inner}"
                    .replace("  ", " "))
        if self.method == "doas":
            never = "" if tty else "-n"
            return f"exec {exe} {never} {flags} -u {user} {inner}".replace("  ", " ")
        return f"exec {exe} {flags} -s /bin/sh {user} -c {shlex.quote(script)}".replace("  ", " ")


def needs_tty(become: Become | None, password: str | None) -> bool:
    """Whether this escalation must run on a terminal: su or doas with a password."""
    return become is not None and become.method in TTY_METHODS and password is not None


def new_prompt() -> str:
    """A prompt nobody else prints: ``[orch-become-<hex>] password:``."""
    return f"[orch-become-{secrets.token_hex(6)}] password: "


async def escalate(process, become: Become, prompt: str, password: str | None,
                   timeout: float) -> None:
    """Wait until the escalated runtime says it is ready, answering the password prompt once.

    ``process`` is the transport's RemoteProcess (``write``, ``readexactly``, ``read_stderr``).

    :raises BecomeFailed: wrong or missing password, or the method refused (its own words).
    """
    ready = asyncio.ensure_future(process.readexactly(len(READY)))
    said = b""
    answered = False
    marker = prompt.strip().encode()
    try:
        async with asyncio.timeout(timeout):
            while not ready.done():
                chunk_task = asyncio.ensure_future(process.read_stderr(4096))
                done, _ = await asyncio.wait({ready, chunk_task},
                                             return_when=asyncio.FIRST_COMPLETED)
                if ready in done:
                    chunk_task.cancel()
                    break
                chunk = chunk_task.result()
                if not chunk:  # stderr ended: the method gave up; its words say why
                    await asyncio.wait({ready}, timeout=1)
                    if ready.done() and not ready.exception():
                        break
                    raise BecomeFailed(_refusal(become, said))
                said += chunk
                prompts = said.count(marker)
                if prompts and not answered:
                    if password is None:
                        raise BecomeFailed(
                            f"become: {become.method} asks for a password (give -K, "
                            f"--become-password-file or ansible_become_password)")
                    process.write(password.encode("utf-8") + b"\n")
                    answered = True
                elif prompts > 1:
                    raise BecomeFailed("become: incorrect password")
    except TimeoutError:
        raise BecomeFailed(f"become: no answer from {become.method} within {timeout:g}s") from None
    finally:
        if not ready.done():
            ready.cancel()
    try:
        if ready.result() != READY:
            raise BecomeFailed(_refusal(become, said))
    except asyncio.IncompleteReadError:
        raise BecomeFailed(_refusal(become, said)) from None


def _refusal(become: Become, said: bytes) -> str:
    """The method's own last line (``… is not in the sudoers file``), password prompts aside."""
    lines = [line.strip() for line in said.decode("utf-8", "replace").splitlines()
             if line.strip() and "[orch-become-" not in line]
    if not lines:
        return f"become: {become.method} to {become.user} failed"
    text = lines[-1]
    if "incorrect password" in text or "Sorry, try again" in text:
        return "become: incorrect password"
    return f"become: {text}"


async def escalate_tty(process, become: Become, password: str, timeout: float) -> None:
    """``escalate`` for su and doas on a terminal: stdout and stderr are one stream there.

    Everything before the ready marker is the method's own words (its prompt, its refusal);
    nothing follows the marker until the payload is sent, so no frame byte is read here.

    :raises BecomeFailed: wrong password, the method missing or refusing (its own words).
    """
    said = b""
    answered_at = -1  # where in ``said`` the password was typed
    secret = password.encode("utf-8")
    try:
        async with asyncio.timeout(timeout):
            while READY not in said:
                quiet = answered_at < 0 and said.rstrip().endswith(b":")
                try:
                    chunk = await asyncio.wait_for(process.read(4096),
                                                   QUIET_PROMPT if quiet else None)
                except TimeoutError:  # a prompt in another language, waiting for an answer
                    chunk = None
                if chunk == b"":  # the method exited: its last words say why
                    raise BecomeFailed(_tty_refusal(become, said, answered_at, secret))
                if chunk:
                    said += chunk
                if answered_at < 0 and (b"assword" in said or chunk is None):
                    process.write(secret + b"\n")
                    answered_at = len(said)
                elif answered_at >= 0 and b"assword" in said[answered_at:]:
                    raise BecomeFailed("become: incorrect password")  # asked again: no retry
    except TimeoutError:
        raise BecomeFailed(f"become: no answer from {become.method} within {timeout:g}s") from None
    if not said.endswith(READY):
        raise BecomeFailed(f"become: unexpected output from {become.method} after the ready "
                           f"marker")


def _tty_refusal(become: Become, said: bytes, answered_at: int, secret: bytes) -> str:
    """The method's last line on the terminal, as ``become: su: Authentication failure``."""
    text = said.replace(secret, b"********").decode("utf-8", "replace")
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    wrong = ("Authentication failure", "authentication failed", "Authentication failed",
             "incorrect password", "Sorry")
    if answered_at >= 0 and lines and any(word in lines[-1] for word in wrong):
        return f"become: incorrect password ({lines[-1]})"
    if answered_at < 0 and lines and ("not found" in lines[-1] or "No such file" in lines[-1]):
        return f"become: {become.method} is not installed here ({lines[-1]})"
    if not lines:
        return f"become: {become.method} to {become.user} failed"
    return f"become: {lines[-1]}"
