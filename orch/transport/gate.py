"""Whether each asyncssh adjustment may apply: the exact release and the code it changes.

An adjustment in ``sshlib`` replaces, wraps or relies on asyncssh internals that no release
promises to keep. Each was read and measured against one asyncssh release, so it applies only
when the installed release is exactly that one (``CHECKED_VERSION``, all of
``major.minor.patch``) and the SHA-256 of every piece of code it depends on is the one
recorded in ``CHECKED``. Anything else (another release, a patched install, missing code)
switches that adjustment off, and its report says why; asyncssh then runs as shipped.

This module never imports asyncssh: the adjustments made while asyncssh is imported are
decided before that, from its files.

To re-check after an asyncssh upgrade: read each changed piece of code, then update
``CHECKED_VERSION``, ``CHECKED`` and tests/unit/transport/test_asyncssh_checked.py, and measure
again (bench/REPORT.md, "asyncssh adjustments").
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

CHECKED_VERSION = "2.24.1"

# adjustment -> {code it changes or relies on: SHA-256 of that code's source}. A key with a
# ":" names a function ("module:qualname", its source lines as inspect.getsource gives them);
# any other key is a file of the asyncssh package ("asyncssh/..."), hashed whole (for adjustments made while
# asyncssh is being imported, before any function of it exists).
CHECKED: dict[str, dict[str, str]] = {
    "no-x509": {
        "asyncssh/crypto/__init__.py":
            "0125bc86c2aa9c637d76ebe00c0a664c67e66cac8185d85f1b4159224e026c1e",
    },
    "quick-find-library": {
        "asyncssh/crypto/pq.py":
            "6f37d68cd9f8ec92ef956d06aab8728b80b8eb1b038aa15c25a4ebdda4c21bf0",
        "asyncssh/crypto/umac.py":
            "6d5215a3b08aecd7360d47ded7d029e8305cac5870847b2cd52f71b4316df9c0",
    },
    "sign-first": {
        "asyncssh.auth:_ClientPublicKeyAuth._start":
            "f9cecd231d6426ba74b5b343038511ec4e06b88c4532131f13069547563fe70b",
        "asyncssh.auth:_ClientPublicKeyAuth._send_signed_request":
            "a07dc7796a94d2c1c86edfea03353b98c26da87e270662d4d15da7d329ce1186",
    },
    "publickey-before-none": {
        "asyncssh.connection:SSHClientConnection.__init__":
            "80ecd24f9f54653380c38e07b4162809102773104fad4c5e4da25c9ab113f645",
        "asyncssh.connection:SSHClientConnection.try_next_auth":
            "f0135956d276242eac9016d39048500c8a34d0fd2b5f0530881dd9636db1744c",
    },
    "no-ignore-with-aead": {
        "asyncssh.connection:SSHConnection.send_packet":
            "fb9da7bec6dd395a2f379f8a0f4dbfc5f194ff80e1ed8630d9a6dbf291359406",
    },
    "lazy-packet-log": {
        "asyncssh.packet:SSHPacketLogger._log_packet":
            "f3263d7da93663f1a3825d53a0ef71122da1168957e28d0b84dc20a3bba0c45c",
    },
    "quiet-log": {
        "asyncssh.logging:SSHLogger.log":
            "508a0a50623f9179a151a2c06c5ba562ae19e97d3372b1ba46e964dead193631",
    },
    "prepared-options": {
        "asyncssh.connection:connect":
            "f47d8e45adab670f741136297501cb1f46585ead4e44ce5997e14a5c1e5acc81",
        "asyncssh.connection:_connect":
            "7d35aa724ce6fb893f755422547d90238875b672953da76cea0fd7072eb76fbf",
        "asyncssh.connection:SSHConnectionOptions.prepare":
            "b6fb904a7f961dccd26690d358471664223929b628d6587a1c6719b46482a694",
        "asyncssh.connection:SSHClientConnectionOptions.prepare":
            "a69e7165d63219856af4fc01669209202af735acbba9afc83993459b12be39a1",
    },
}

ON = "on"


def package_dir() -> Path | None:
    """asyncssh's package directory, found without importing it (None: not installed)."""
    spec = importlib.util.find_spec("asyncssh")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed_version() -> str:
    """The installed asyncssh's ``__version__``, read from its version.py without importing it
    ("" when unreadable)."""
    directory = package_dir()
    try:
        text = (directory / "version.py").read_text(encoding="utf-8") if directory else ""
    except OSError:
        return ""
    found = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", text, re.M)
    return found.group(1) if found else ""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def function_source(qualified: str, files: dict[str, list[str]] | None = None) -> str | None:
    """The source of ``"module:qualname"`` (None when missing).

    The same text as ``inspect.getsource`` (a test checks it for every function in
    ``CHECKED``), taken from the code object's first and last line instead of tokenizing the
    file: 0.1 ms for all of them instead of 30 ms at every start of orch.
    """
    module_name, _, qualname = qualified.partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        return None
    while hasattr(target, "__wrapped__"):
        target = target.__wrapped__
    code = getattr(target, "__code__", None)
    if code is None:
        return None
    files = {} if files is None else files
    if code.co_filename not in files:
        try:
            files[code.co_filename] = Path(code.co_filename).read_text(
                encoding="utf-8").splitlines(keepends=True)
        except OSError:
            return None
    last = max((line for _, _, line in code.co_lines() if line), default=code.co_firstlineno)
    return "".join(files[code.co_filename][code.co_firstlineno - 1:last])


def digests(keys: Iterable[str]) -> dict[str, str | None]:
    """SHA-256 of each function or package file named (None: it does not exist)."""
    result: dict[str, str | None] = {}
    files: dict[str, list[str]] = {}
    directory = None
    for key in keys:
        if ":" in key:
            source = function_source(key, files)
        else:
            directory = directory or package_dir()
            try:
                source = ((directory.parent / key).read_text(encoding="utf-8")
                          if directory else None)
            except OSError:
                source = None
        result[key] = None if source is None else _sha256(source)
    return result


def switched_off(environ: Mapping[str, str]) -> tuple[bool, frozenset[str]]:
    """(all off, names off) from ``ORCH_SSH_TUNING=0`` and ``ORCH_SSH_TUNING_OFF=a,b``."""
    every = environ.get("ORCH_SSH_TUNING", "1") == "0"
    names = frozenset(n.strip() for n in environ.get("ORCH_SSH_TUNING_OFF", "").split(",")
                      if n.strip())
    return every, names


def decide(name: str, version: str, found: Mapping[str, str | None],
           environ: Mapping[str, str]) -> str:
    """``"on"``, or ``"off: <reason>"`` for adjustment ``name``.

    ``found`` holds the digests of the installed code (``digests``), taken before anything
    was changed.
    """
    every, names = switched_off(environ)
    if every:
        return "off: ORCH_SSH_TUNING=0"
    if name in names:
        return "off: ORCH_SSH_TUNING_OFF"
    if version != CHECKED_VERSION:
        return f"off: asyncssh {version or '(unknown version)'} is installed, not {CHECKED_VERSION}"
    for key, expected in CHECKED[name].items():
        actual = found.get(key)
        if actual is None:
            return f"off: {key} is missing"
        if actual != expected:
            return f"off: {key} is not the code checked (its sha256 is {actual[:12]}...)"
    return ON
