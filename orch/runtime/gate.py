"""orch's gate: the forced command of a restricted orch key (``orch host init --restricted``).

sshd runs the gate for the orch key whatever the client asked (``authorized_keys``:
``restrict,command="..."``); ``$SSH_ORIGINAL_COMMAND`` never decides what runs. Two forced
commands, by how the key logs in:

- as root (``orch host init --restricted --root-login``: root's ``authorized_keys``):
  ``<python> -I -S /usr/local/lib/orch/gate.pyc <operator>``, no sudo per login;
- as the login user (``--restricted``): ``/usr/bin/sudo -n -- <python> -I -S
  /usr/local/lib/orch/gate.pyc <operator>``, the sudo rule ``/etc/sudoers.d/orch-gate``
  allowing that command only.

The gate:

1. takes the operator name from its own argument (written by ``orch host init``), never from
   the client, and runs as root (the policy, callers and audit log are root's; as with
   MCollective the daemon is root and the policy is the boundary). Started as another user
   (an older forced command without sudo), it first becomes root with ``sudo -n``;
2. reads the first stage's payload (``<n> <tag> <m>`` line, zlib core.py, bytecode), ignores the
   bytecode, and runs the runtime only when the SHA-256 of the decompressed source is a file name
   in ``/etc/orch/trusted.d/`` (root-owned, not writable by group or others);
3. otherwise writes ``result=refused`` to the audit log and exits with one line on stderr that
   names the hash it got (the controller shows it);
4. compiles the trusted source itself, once per runtime version: the code object is kept in
   ``/usr/local/lib/orch/cache/<sha256>-<python>.code`` (root's, read only when root owns it and
   its folder and nobody else can write them), because compiling core.py on every login cost
   more host CPU than the rest of the gate together (bench/REPORT.md, restricted);
5. hands the runtime its caller and the trusted hashes in ``__orch_gate__``, set on the module
   before its code runs, so the runtime loads only trusted modules.

Standard library only, Python 3.6+. Nothing here reads anything the client sends except the
payload bytes, which are hashed before they are compiled, and (kept by the sudo rule) two
variables sshd sets: ``SSH_ORIGINAL_COMMAND``, only to know whether the controller waits for
the ready marker, and, in a lab copy only, ``SSH_CONNECTION``'s local address (which lab host).
"""

import os
import re
import sys

# The only lines an install may change (``configured``): where the gate finds what it trusts,
# where it audits, and where the runtime's state is. On a host they are these, always; a lab
# (``orch lab up --restricted``) installs a copy aimed at its own root-owned folders.
TRUSTED_DIR = "/etc/orch/trusted.d"
AUDIT_LOG = "/var/log/orch/audit.log"
STATE_DIR = "/etc/orch"
CACHE_DIR = "/usr/local/lib/orch/cache"  # next to the gate: one root folder holds it all
LAB_DIR = None  # lab only: state, trusted.d and audit log in LAB_DIR/addr/<local address>

SUDO = "/usr/bin/sudo"
READY = b"\x00orch-ready\n"
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
HASH = re.compile(r"^[0-9a-f]{64}$")
ADDRESS = re.compile(r"^127(\.[0-9]{1,3}){3}$")
MAX_PAYLOAD = 16 * 1024 * 1024


def refuse(caller, reason, audit_log=None):
    """Audit ``result=refused`` (best effort: a refusal stands even if the log fails), exit 1."""
    import json
    import time

    try:
        with open(audit_log or AUDIT_LOG, "a") as log:
            log.write("reqid=-: reqtime=%d caller=%s agent=- action=- data={} result=refused "
                      "reason=%s\n" % (time.time(), caller, json.dumps(reason)))
    except (IOError, OSError):
        pass
    sys.exit("orch gate: %s" % reason)


def trusted_hashes(folder=None):
    """The SHA-256 hex names of files in ``folder`` (TRUSTED_DIR); nothing when root does not
    own it all."""
    folder = folder or TRUSTED_DIR
    found = set()
    if not os.path.isdir(folder) or _writable_by_others(folder):
        return found
    for name in os.listdir(folder):
        if HASH.match(name) and not _writable_by_others(os.path.join(folder, name)):
            found.add(name)
    return found


def _writable_by_others(path):
    info = os.lstat(path)
    return info.st_uid != 0 or bool(info.st_mode & 0o022) or os.path.islink(path)


def read(caller, count, audit_log=None):
    data = b""
    while len(data) < count:
        chunk = os.read(0, count - len(data))
        if not chunk:
            refuse(caller, "input ended before an orch payload (this key runs only orch)",
                   audit_log)
        data += chunk
    return data


def read_runtime(caller, audit_log=None):
    """The decompressed core.py the client sent (its bytecode is read and dropped)."""
    line = b""
    while not line.endswith(b"\n") and len(line) < 200:
        line += read(caller, 1, audit_log)
    fields = line.split()
    if len(fields) != 3 or not fields[0].isdigit() or not fields[2].isdigit():
        refuse(caller, "not an orch payload (first line %r)" % line[:60], audit_log)
    size, code_size = int(fields[0]), int(fields[2])
    if size > MAX_PAYLOAD or code_size > MAX_PAYLOAD:
        refuse(caller, "payload too large", audit_log)
    compressed = read(caller, size, audit_log)
    read(caller, code_size, audit_log)
    import zlib

    try:
        return zlib.decompress(compressed)
    except zlib.error:
        refuse(caller, "runtime is not zlib data", audit_log)


def configured(**values):
    """This file's source with the install-time constants set (``TRUSTED_DIR="..."``, ...):
    how a lab installs its own copy. Only those lines differ from the shipped gate."""
    with open(os.path.abspath(__file__.replace(".pyc", ".py"))) as handle:
        lines = handle.read().splitlines(True)
    for index, line in enumerate(lines):
        name = line.split(" = ", 1)[0]
        if name in values and name in ("TRUSTED_DIR", "AUDIT_LOG", "STATE_DIR", "CACHE_DIR",
                                       "LAB_DIR"):
            lines[index] = "%s = %r\n" % (name, values.pop(name))
    if values:
        raise ValueError("not a gate setting: %s" % ", ".join(sorted(values)))
    return "".join(lines)


def lab_state(caller, address):
    """Lab copies only: the lab host's own folder, by the address sshd said it arrived on."""
    if not ADDRESS.match(address or ""):
        refuse(caller, "no lab address for this connection")
    state = os.path.realpath(os.path.join(LAB_DIR, "addr", address))
    if not state.startswith(os.path.join(LAB_DIR, "hosts") + os.sep):
        refuse(caller, "address %s is not a lab host" % address)
    return state, os.path.join(state, "audit.log")


def sha256_hex(data):
    """The interpreter's built-in sha256 (hashlib would load OpenSSL first: ~3 ms a login)."""
    try:
        from _sha256 import sha256  # Python 3.6-3.11
    except ImportError:
        try:
            from _sha2 import sha256  # 3.12+
        except ImportError:
            from hashlib import sha256
    return sha256(data).hexdigest()


def runtime_code(source, digest):
    """The code object of the trusted ``source``: from root's cache, else compiled (and kept)."""
    import marshal

    name = "%s-%x.code" % (digest, sys.hexversion)
    path = os.path.join(CACHE_DIR, name)
    try:
        if not _writable_by_others(CACHE_DIR) and not _writable_by_others(path):
            with open(path, "rb") as handle:
                return marshal.loads(handle.read())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    code = compile(source, "orch/runtime/core.py", "exec")
    try:
        if not os.path.isdir(CACHE_DIR):
            os.makedirs(CACHE_DIR, 0o755)
        if not _writable_by_others(CACHE_DIR):
            draft = "%s.%d.tmp" % (path, os.getpid())
            with open(draft, "wb") as handle:
                handle.write(marshal.dumps(code))
            os.chmod(draft, 0o644)
            os.rename(draft, path)
    except OSError:
        pass  # no cache: compiled every time, still correct
    return code


def main(argv):
    caller = argv[1] if len(argv) > 1 else ""
    if not NAME.match(caller):
        sys.exit("orch gate: no valid operator name in the forced command")
    # Framing only (and, in a lab copy, which lab host): never what runs.
    ready = "--ready" in argv[2:] or "orch-ready" in os.environ.get("SSH_ORIGINAL_COMMAND", "")
    address = argv[argv.index("--address") + 1] if "--address" in argv[2:-1] else (
        (os.environ.get("SSH_CONNECTION") or "- - -").split() + ["-"] * 3)[2]
    if os.geteuid() != 0:  # an older forced command without sudo: become root first
        command = [SUDO, "-n", "--", sys.executable, "-I", "-S", os.path.abspath(__file__),
                   caller] + (["--ready"] if ready else []) + (
                       ["--address", address] if LAB_DIR else [])
        os.execv(SUDO, command)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
                       "LANG": "C.UTF-8", "USER": "root"})
    state_dir, audit_log = lab_state(caller, address) if LAB_DIR else (STATE_DIR, AUDIT_LOG)
    if ready:
        os.write(1, READY)
    source = read_runtime(caller, audit_log)
    digest = sha256_hex(source)
    trusted = trusted_hashes(os.path.join(state_dir, "trusted.d") if LAB_DIR else TRUSTED_DIR)
    if digest not in trusted:
        refuse(caller, "runtime sha256 %s is not trusted on this host "
                       "(run 'orch host trust' with this orch version)" % digest, audit_log)
    import types

    runtime = types.ModuleType("orch_runtime")
    runtime.__file__ = "orch/runtime/core.py"
    runtime.__orch_loaded_from__ = "source"
    runtime.__orch_gate__ = {"caller": caller, "trusted": frozenset(trusted), "runtime": digest,
                             "state_dir": state_dir, "audit_log": audit_log}
    sys.modules["orch_runtime"] = runtime
    exec(runtime_code(source, digest), runtime.__dict__)
    runtime.main()


if __name__ == "__main__":
    main(sys.argv)
