"""The first stage: the few lines ``python3 -c`` runs on a host before orch's runtime exists.

The controller starts ``exec /usr/bin/python3 -I -S -c '<COMMAND>'`` over SSH, then writes
``payload()`` to the process's stdin: one line ``<n> <tag> <m>``, then ``n`` bytes of
zlib-compressed ``core.py`` and ``m`` bytes of zlib-compressed marshalled bytecode of that same
file, compiled by the controller's Python, whose ``sys.implementation.cache_tag`` is ``tag``.
The first stage reads exactly those bytes (with ``os.read``, so nothing that follows, such as
the first module frames, is swallowed by a buffer). When the host's Python has the same tag
it runs the bytecode, saving the ~5 ms every host would spend compiling core.py; otherwise it
compiles the source. Either way it runs it as a fresh module named ``orch_runtime`` and calls
its ``main()``, which takes over stdin and stdout for frames (hello says which was run).
Nothing is written to disk. ``-I`` ignores PYTHON* variables and the user's site folder;
``-S`` skips ``site``: the runtime sees only the standard library.

COMMAND contains no single quote, so it can sit inside ``'...'`` in any POSIX shell command.

``remote_python = auto`` (or ``ansible_python_interpreter=auto``) tries ``INTERPRETERS`` in
order in the same command, so finding the interpreter costs no extra round trip; an
interpreter older than 3.6, or none, ends the command with one line saying what was found.
Under escalation (``orch.rpc.become``) the first stage first writes ``READY`` to stdout, so
the controller knows sudo let it through before it sends the payload.
"""

from __future__ import annotations

import functools
import importlib.machinery
import marshal
import shlex
import sys
import types
import zlib
from pathlib import Path

#: Interpreters ``auto`` looks for, in order (the first one found runs, or says it is too old).
INTERPRETERS = ("python3", "/usr/bin/python3", "/usr/libexec/platform-python",
                "/usr/local/bin/python3") + tuple(f"python3.{minor}" for minor in range(13, 5, -1))

#: The source ``python3 -c`` runs. Kept short and plain: an auditor reads it in the process list.
COMMAND = """import os,sys,types,zlib,marshal
if sys.version_info < (3, 6):
    sys.exit("orch: %s is Python %d.%d; orch needs 3.6 or newer" % ((sys.executable,) + tuple(sys.version_info[:2])))
def read(count):
    data = b""
    while len(data) < count:
        chunk = os.read(0, count - len(data))
        if not chunk:
            sys.exit("orch bootstrap: input ended early")
        data += chunk
    return data
line = b""
while not line.endswith(b"\\n"):
    line += read(1)
size, tag, code_size = line.split()
source = read(int(size))
code = read(int(code_size))
runtime = types.ModuleType("orch_runtime")
runtime.__file__ = "orch/runtime/core.py"
sys.modules["orch_runtime"] = runtime
if code and tag.decode() == sys.implementation.cache_tag:
    runtime.__orch_loaded_from__ = "bytecode"
    code = marshal.loads(zlib.decompress(code))
else:
    runtime.__orch_loaded_from__ = "source"
    code = compile(zlib.decompress(source), runtime.__file__, "exec")
exec(code, runtime.__dict__)
runtime.main()
"""

CORE_PATH = Path(__file__).with_name("core.py")


#: The ready marker the first stage writes under escalation (``orch.rpc.become.READY``).
READY_LINE = """os.write(1, b"\\x00orch-ready\\n")
"""

#: Under su or doas with a password the session has a terminal (they read the password from
#: it), which is not 8-bit clean: before the ready marker the first stage puts it into raw mode
#: (no echo, no line editing, no signal keys, no CR/LF translation, 8 bits), and moves stderr
#: off it, to /dev/null, so nothing but frames reaches the controller. ``TTY_TAIL`` then carries
#: what would have been stderr's last line when the runtime dies (``sys.exit("...")``, an
#: exception) in a ``stderr`` frame on the terminal's stream instead.
TTY_LINES = """import termios
mode = termios.tcgetattr(0)
mode[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON | termios.IXOFF | termios.INPCK)
mode[1] &= ~termios.OPOST
mode[2] = mode[2] & ~(termios.CSIZE | termios.PARENB) | termios.CS8
mode[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
termios.tcsetattr(0, termios.TCSANOW, mode)
tty = os.dup(1)
null = os.open(os.devnull, os.O_WRONLY)
os.dup2(null, 2)
os.close(null)
"""
TTY_TAIL = """try:
    runtime.main()
except BaseException as error:
    said = error.code if isinstance(error, SystemExit) else "%s: %s" % (type(error).__name__, error)
    if isinstance(said, str):
        try:
            os.write(tty, runtime.encode_frame({"kind": "stderr", "text": str(said)}))
        except OSError:
            pass
    raise
"""


def command(python: str = "/usr/bin/python3", become=None, prompt: str = "",
            tty: bool = False) -> str:
    """The shell command that starts the first stage with the given remote interpreter.

    ``python``: a path or name, or ``auto``; ``become``: an ``orch.rpc.become.Become`` (the
    command then runs under it and announces itself with the ready marker); ``tty``: the
    session has a terminal (``orch.rpc.become.needs_tty``), see ``TTY_LINES``.
    """
    source = first_stage(become is not None, tty)
    if python == "auto":
        names = " ".join(shlex.quote(name) for name in INTERPRETERS)
        script = (f"for p in {names}; do if command -v \"$p\" >/dev/null 2>&1; then "
                  f"exec \"$p\" -I -S -c '{source}'; fi; done; "
                  f"echo \"orch: no python3 found on this host (tried {' '.join(INTERPRETERS)})\" >&2;"
                  f" exit 127")
    else:
        script = f"exec {shlex.quote(python)} -I -S -c '{source}'"
    if become is not None:
        return become.wrap(script, prompt, tty)
    if python == "auto":
        return f"exec /bin/sh -c {shlex.quote(script)}"
    return script


def first_stage(escalated: bool = False, tty: bool = False) -> str:
    """The first stage's source: COMMAND, with the ready marker under escalation, and on a
    terminal (``tty``) with ``TTY_LINES`` before it and ``TTY_TAIL`` around ``main()``."""
    if not escalated:
        return COMMAND
    if not tty:
        head, _, rest = COMMAND.partition("\n")
        return head + "\n" + READY_LINE + rest
    lines = COMMAND.split("\n", 3)  # the imports, the version check (two lines), the rest
    return ("\n".join(lines[:3]) + "\n" + TTY_LINES + READY_LINE  # the check's words first
            + lines[3].replace("runtime.main()\n", TTY_TAIL))


@functools.lru_cache(maxsize=1)
def payload() -> bytes:
    """What to write to the first stage's stdin: the ``<n> <tag> <m>`` line, source, bytecode."""
    source = CORE_PATH.read_bytes()
    bytecode = marshal.dumps(_core_code(source))
    # Level 6 on the source: 54 bytes more than level 9 at half the CPU (1 ms a run).
    return pack(zlib.compress(source, 6), sys.implementation.cache_tag, zlib.compress(bytecode, 1))


def pack(compressed_source: bytes, tag: str, compressed_code: bytes = b"") -> bytes:
    """The payload's layout (tests build stand-ins with it)."""
    return (b"%d %s %d\n" % (len(compressed_source), tag.encode(), len(compressed_code))
            + compressed_source + compressed_code)


def _core_code(source: bytes) -> types.CodeType:
    """core.py's code object: from the bytecode cache when it matches the file, else compiled."""
    import orch.runtime.core as core

    loader = getattr(core, "__loader__", None)
    if isinstance(loader, importlib.machinery.SourceFileLoader) and Path(core.__file__) == CORE_PATH:
        code = loader.get_code(core.__name__)
        if code is not None:
            return code
    return compile(source, "orch/runtime/core.py", "exec")
