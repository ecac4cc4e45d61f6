"""Privilege escalation, the Ansible way: the runtime runs under ``sudo`` (or ``su``, ``doas``).

The escalation wraps the bootstrap command (``orch.runtime.bootstrap.command``); the password,
when one is needed, is written to sudo's standard input after sudo has printed this run's own
prompt on stderr, so it never appears in an argv, an environment, a log or the console. The
runtime then writes a ready marker on stdout before it reads its payload, which is how the
controller knows escalation succeeded. A second prompt means the password was wrong: the
channel is closed at once (no retries that would lock the account).
"""

from __future__ import annotations

import asyncio
import secrets
import shlex
from dataclasses import dataclass

from orch.errors import InputError, TransportError, Where

METHODS = ("sudo", "su", "doas")
READY = b"\x00orch-ready\n"


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

    def wrap(self, script: str, prompt: str) -> str:
        """The shell command that runs ``script`` (POSIX sh text) as ``user``."""
        exe = shlex.quote(self.exe or self.method)
        flags = " ".join(shlex.quote(flag) for flag in shlex.split(self.flags))
        inner = f"/bin/sh -c {shlex.quote(script)}"
        user = shlex.quote(self.user)
        if self.method == "sudo":
            return (f"exec {exe} -S -p {shlex.quote(prompt)} {flags} -u {user} -- {inner}"
                    .replace("  ", " "))
        if self.method == "doas":
            return f"exec {exe} -n {flags} -u {user} {inner}".replace("  ", " ")
        return f"exec {exe} {flags} -s /bin/sh {user} -c {shlex.quote(script)}".replace("  ", " ")


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
