"""The first stage: the few lines ``python3 -c`` runs on a host before orch's runtime exists.

The controller starts ``exec /usr/bin/python3 -I -S -c '<COMMAND>'`` over SSH, then writes
``payload()`` to the process's stdin: one line with a byte count, then that many bytes of
zlib-compressed ``core.py``. The first stage reads exactly those bytes (with ``os.read``, so
nothing that follows, such as the first module frames, is swallowed by a buffer), execs them as
a fresh module named ``orch_runtime`` and calls its ``main()``, which takes over stdin and stdout
for frames. Nothing is written to disk. ``-I`` ignores PYTHON* variables and the user's site
folder; ``-S`` skips ``site``: the runtime sees only the standard library.

COMMAND contains no single quote, so it can sit inside ``'...'`` in any POSIX shell command.
"""

from __future__ import annotations

import functools
import shlex
import zlib
from pathlib import Path

#: The source ``python3 -c`` runs. Kept short and plain: an auditor reads it in the process list.
COMMAND = """import os,sys,types,zlib
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
runtime = types.ModuleType("orch_runtime")
runtime.__file__ = "orch/runtime/core.py"
sys.modules["orch_runtime"] = runtime
exec(compile(zlib.decompress(read(int(line))), runtime.__file__, "exec"), runtime.__dict__)
runtime.main()
"""

CORE_PATH = Path(__file__).with_name("core.py")


def command(python: str = "/usr/bin/python3") -> str:
    """The shell command that starts the first stage with the given remote interpreter."""
    return f"exec {shlex.quote(python)} -I -S -c '{COMMAND}'"


@functools.lru_cache(maxsize=1)
def payload() -> bytes:
    """What to write to the first stage's stdin: ``b"<count>\\n"`` then compressed core.py."""
    compressed = zlib.compress(CORE_PATH.read_bytes(), 9)
    return b"%d\n" % len(compressed) + compressed
