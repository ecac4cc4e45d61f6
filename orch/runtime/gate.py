"""orch's gate: the forced command of a restricted orch key (``orch host init --restricted``).

sshd runs ``<python> -I -S /usr/local/lib/orch/gate.py <operator>`` for the orch key whatever
the client asked (``authorized_keys``: ``restrict,command="..."``); ``$SSH_ORIGINAL_COMMAND``
never decides what runs. The gate:

1. takes the operator name from its own argument (written by ``orch host init``), never from
   the client, and becomes root with ``sudo -n`` (the policy, callers and audit log are root's;
   as with MCollective the daemon is root and the policy is the boundary);
2. reads the first stage's payload (``<n> <tag> <m>`` line, zlib core.py, bytecode), ignores the
   bytecode, and runs the runtime only when the SHA-256 of the decompressed source is a file name
   in ``/etc/orch/trusted.d/`` (root-owned, not writable by group or others);
3. otherwise writes ``result=refused`` to the audit log and exits with one line on stderr that
   names the hash it got (the controller shows it);
4. hands the runtime its caller and the trusted hashes in ``__orch_gate__``, set on the module
   before its code runs, so the runtime loads only trusted modules.

Standard library only, Python 3.6+. Nothing here reads anything the client sends except the
payload bytes, which are hashed before they are compiled.
"""

import hashlib
import json
import os
import re
import sys
import time
import types
import zlib

TRUSTED_DIR = "/etc/orch/trusted.d"
AUDIT_LOG = "/var/log/orch/audit.log"
SUDO = "/usr/bin/sudo"
READY = b"\x00orch-ready\n"
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
HASH = re.compile(r"^[0-9a-f]{64}$")
MAX_PAYLOAD = 16 * 1024 * 1024


def refuse(caller, reason):
    """Audit ``result=refused`` (best effort: a refusal stands even if the log fails), exit 1."""
    try:
        with open(AUDIT_LOG, "a") as log:
            log.write("reqid=-: reqtime=%d caller=%s agent=- action=- data={} result=refused "
                      "reason=%s\n" % (time.time(), caller, json.dumps(reason)))
    except (IOError, OSError):
        pass
    sys.exit("orch gate: %s" % reason)


def trusted_hashes():
    """The SHA-256 hex names of files in TRUSTED_DIR; nothing when root does not own it all."""
    found = set()
    if not os.path.isdir(TRUSTED_DIR) or _writable_by_others(TRUSTED_DIR):
        return found
    for name in os.listdir(TRUSTED_DIR):
        if HASH.match(name) and not _writable_by_others(os.path.join(TRUSTED_DIR, name)):
            found.add(name)
    return found


def _writable_by_others(path):
    info = os.lstat(path)
    return info.st_uid != 0 or bool(info.st_mode & 0o022) or os.path.islink(path)


def read(caller, count):
    data = b""
    while len(data) < count:
        chunk = os.read(0, count - len(data))
        if not chunk:
            refuse(caller, "input ended before an orch payload (this key runs only orch)")
        data += chunk
    return data


def read_runtime(caller):
    """The decompressed core.py the client sent (its bytecode is read and dropped)."""
    line = b""
    while not line.endswith(b"\n") and len(line) < 200:
        line += read(caller, 1)
    fields = line.split()
    if len(fields) != 3 or not fields[0].isdigit() or not fields[2].isdigit():
        refuse(caller, "not an orch payload (first line %r)" % line[:60])
    size, code_size = int(fields[0]), int(fields[2])
    if size > MAX_PAYLOAD or code_size > MAX_PAYLOAD:
        refuse(caller, "payload too large")
    compressed = read(caller, size)
    read(caller, code_size)
    try:
        return zlib.decompress(compressed)
    except zlib.error:
        refuse(caller, "runtime is not zlib data")


def main(argv):
    caller = argv[1] if len(argv) > 1 else ""
    if not NAME.match(caller):
        sys.exit("orch gate: no valid operator name in the forced command")
    ready = "--ready" in argv[2:]
    if os.geteuid() != 0:
        ready = "orch-ready" in os.environ.get("SSH_ORIGINAL_COMMAND", "")  # framing only
        command = [SUDO, "-n", "--", sys.executable, "-I", "-S", os.path.abspath(__file__),
                   caller] + (["--ready"] if ready else [])
        os.execv(SUDO, command)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
                       "LANG": "C.UTF-8", "USER": "root"})
    if ready:
        os.write(1, READY)
    source = read_runtime(caller)
    digest = hashlib.sha256(source).hexdigest()
    trusted = trusted_hashes()
    if digest not in trusted:
        refuse(caller, "runtime sha256 %s is not trusted on this host "
                       "(run 'orch host trust' with this orch version)" % digest)
    runtime = types.ModuleType("orch_runtime")
    runtime.__file__ = "orch/runtime/core.py"
    runtime.__orch_loaded_from__ = "source"
    runtime.__orch_gate__ = {"caller": caller, "trusted": frozenset(trusted), "runtime": digest}
    sys.modules["orch_runtime"] = runtime
    exec(compile(source, runtime.__file__, "exec"), runtime.__dict__)
    runtime.main()


if __name__ == "__main__":
    main(sys.argv)
