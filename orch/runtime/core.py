"""orch's remote runtime: the one file pushed to every host.

This file is sent over SSH to each host, compressed, and run by ``python3 -I -S`` there (see
``bootstrap.py``). It must stay readable in one sitting by an auditor who wants to know what orch
does on their machines, so it keeps its comments, uses full names, and does nothing clever.

Rules for this file:
- Python 3.6 syntax and the standard library only: hosts have nothing but ``python3`` and sshd.
- No work at import time: the controller imports ``validate_args`` and ``check_value`` from
  here so that both sides validate a request the same way (``orch/schema.py`` is the
  controller's side: typing text from a command line, play inputs).
- Nothing is written to disk except the audit log line of each request (and whatever an action
  itself does). Modules arrive as source over the channel and are exec'd in memory.

The request path is straight: read frame, audit, find module, policy, find action, validate,
call, reply. ``main()`` is a checklist: resolve the state folder, read host.json, identify the
caller, open the audit log, then serve frames until ``exit`` or end of input.
"""

import json
import errno
import os
import re
import signal
import struct
import sys
import time
import types

# ipaddress, socket and traceback are imported where they are used: each host starts this file
# once per run, and importing them up front cost about a third of its start-up CPU (measured
# in bench/REPORT.md), for code that runs only on a validator, a missing name or an error.

# --------------------------------------------------------------------------------------------
# The wire.
#
# Every frame, in both directions, is a 4-byte big-endian length followed by that many bytes of
# UTF-8 JSON holding one object whose "kind" field says what it is:
#
#   controller -> host
#     {"kind": "module", "name", "hash", "source"}   a module's source; sent once per host per
#                                                     run, before the first request needing it;
#                                                     a name "helper:NAME" carries a helper
#                                                     (module_utils) registered as module NAME
#     {"kind": "request", "reqid", "caller", "module", "action", "args", "timeout",
#      "check_mode"}
#     {"kind": "exit"}                                finish and leave
#   host -> controller
#     {"kind": "hello", "host", "python", "loaded_from", "state_dir", "audit_log", "caller"}
#                                                     once, right after start
#     {"kind": "reply", "reqid", "status", "message", "data", "changed"}   one per request
# --------------------------------------------------------------------------------------------

#: struct format of the length prefix in front of every frame.
FRAME_HEADER = ">I"
#: Size in bytes of the length prefix.
FRAME_HEADER_SIZE = struct.calcsize(FRAME_HEADER)
#: Largest frame either side accepts (a module's source is the biggest thing sent).
FRAME_MAX = 64 * 1024 * 1024

KIND_MODULE = "module"
KIND_REQUEST = "request"
KIND_EXIT = "exit"
KIND_HELLO = "hello"
KIND_REPLY = "reply"

# Reply statuses: exactly MCollective's (and go-choria's) RPC status codes.
#: The action ran and returned its data.
OK = "OK"
#: The request was refused or stopped: unknown module, policy denial, no audit log,
#: ``request.abort()``.
ABORTED = "Aborted"
#: The module has no such action.
UNKNOWN_ACTION = "UnknownAction"
#: A required input is missing.
MISSING_DATA = "MissingData"
#: An input has the wrong type or fails its validation.
INVALID_DATA = "InvalidData"
#: The action raised an exception (or timed out).
UNKNOWN_ERROR = "UnknownError"

STATUSES = (OK, ABORTED, UNKNOWN_ACTION, MISSING_DATA, INVALID_DATA, UNKNOWN_ERROR)

#: What a sensitive input's value is replaced with in the audit log.
MASK = "********"


def encode_frame(message):
    """Turn one JSON-able dict into the bytes of a frame (length prefix + UTF-8 JSON)."""
    body = json.dumps(message, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return struct.pack(FRAME_HEADER, len(body)) + body


def request_frame(reqid, caller, module, action, args, timeout, check_mode=False):
    """The frame of one request, as the controller sends it and this runtime reads it."""
    return {"kind": KIND_REQUEST, "reqid": reqid, "caller": caller, "module": module,
            "action": action, "args": args, "timeout": timeout, "check_mode": bool(check_mode)}


def module_frame(name, digest, source):
    """The frame carrying one module's source (``source`` as text)."""
    return {"kind": KIND_MODULE, "name": name, "hash": digest, "source": source}


#: The frame that tells the runtime to finish.
EXIT_FRAME = {"kind": KIND_EXIT}


def decode_frame_body(body):
    """Parse the JSON body of a frame; it must be an object with a string ``kind``."""
    message = json.loads(body.decode("utf-8"))
    if not isinstance(message, dict) or not isinstance(message.get("kind"), str):
        raise ValueError("a frame must be a JSON object with a 'kind'")
    return message


def read_frame(stream):
    """Read one frame from a binary stream; None at a clean end of input.

    A stream that ends in the middle of a frame, or announces a frame bigger than FRAME_MAX,
    raises ValueError: the other side is gone or is not speaking this protocol.
    """
    header = _read_exactly(stream, FRAME_HEADER_SIZE)
    if not header:
        return None
    if len(header) < FRAME_HEADER_SIZE:
        raise ValueError("input ended inside a frame header")
    (length,) = struct.unpack(FRAME_HEADER, header)
    if length > FRAME_MAX:
        raise ValueError("frame of %d bytes is larger than the limit of %d" % (length, FRAME_MAX))
    body = _read_exactly(stream, length)
    if len(body) < length:
        raise ValueError("input ended inside a frame body")
    return decode_frame_body(body)


def write_frame(stream, message):
    """Write one frame and flush it, so the controller sees it at once."""
    stream.write(encode_frame(message))
    stream.flush()


def _read_exactly(stream, count):
    """Read ``count`` bytes, fewer only at end of input."""
    chunks = []
    remaining = count
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------------------------
# Input validation, shared with the controller.
#
# A module declares each action's inputs (see docs/INTERNALS.md "Modules"). The controller
# checks a request against that declaration before sending it; this runtime checks it again
# before running anything, with these same functions.
# --------------------------------------------------------------------------------------------

#: Input types a declaration may name. "array" is another name for "list".
INPUT_TYPES = ("string", "integer", "float", "number", "boolean", "list", "hash", "array")

#: Characters MCollective's shellsafe validator refuses, plus line breaks.
SHELL_UNSAFE = ("`", "$", ";", "|", "&", ">", "<", "\n", "\r")

#: Named validators; any other ``validation`` text is a regular expression.
VALIDATORS = ("shellsafe", "ipv4address", "ipv6address")


class ValidationError(Exception):
    """A request does not fit its declaration.

    ``status`` is the reply status it earns (MissingData, InvalidData or UnknownAction) and
    ``field`` the input it is about (None for the action itself). The message never contains
    the value of a sensitive input.
    """

    def __init__(self, status, message, field=None):
        Exception.__init__(self, message)
        self.status = status
        self.message = message
        self.field = field


def input_required(spec):
    """Whether an input must be given: ``required: true``, or ``optional: false``."""
    if "required" in spec:
        return bool(spec["required"])
    if "optional" in spec:
        return not spec["optional"]
    return False


def find_action(declaration, action):
    """The declaration of one action; UnknownAction when the module has no such action."""
    actions = declaration.get("actions") or {}
    if action not in actions:
        raise ValidationError(
            UNKNOWN_ACTION,
            "unknown action '%s' for module '%s' (known: %s)"
            % (action, declaration.get("name"), ", ".join(sorted(actions)) or "none"),
        )
    return actions[action]


def validate_args(declaration, action, args):
    """Check ``args`` against the declared inputs of ``action``; return them with defaults filled.

    Raises ValidationError: UnknownAction for an action the module lacks, MissingData for a
    missing required input, InvalidData for an undeclared input or a value of the wrong type,
    too long, or failing its regular expression or named validator. A None value counts as
    missing. Example::

        validate_args(AGENT, "upgrade", {"revision": 20})   # -> {"revision": 20}
    """
    inputs = find_action(declaration, action).get("inputs") or {}
    args = dict(args or {})
    for name in sorted(args):
        if name not in inputs:
            raise ValidationError(
                INVALID_DATA,
                "unknown input '%s' for %s#%s (known: %s)"
                % (name, declaration.get("name"), action, ", ".join(sorted(inputs)) or "none"),
                name,
            )
    result = {}
    for name in sorted(inputs):
        spec = inputs[name]
        value = args.get(name)
        if value is None:
            if input_required(spec):
                raise ValidationError(MISSING_DATA, "missing required input '%s'" % name, name)
            if spec.get("default") is not None:
                result[name] = spec["default"]
            continue
        check_value(name, spec, value)
        result[name] = value
    return result


def check_value(name, spec, value):
    """Check one value against one input declaration; raise ValidationError(InvalidData)."""
    kind = spec.get("type", "string")
    if not _has_type(kind, value):
        raise ValidationError(
            INVALID_DATA,
            "input '%s' must be of type %s, got %s" % (name, kind, _type_name(value)),
            name,
        )
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise ValidationError(INVALID_DATA, "input '%s' must be a finite number" % name, name)
    choices = spec.get("enum")
    if choices:
        items = value if isinstance(value, list) else [value]
        for item in items:
            if item not in choices:
                shown = "" if spec.get("sensitive") else " %r" % (item,)
                raise ValidationError(
                    INVALID_DATA, "input '%s'%s is not one of: %s"
                    % (name, shown, ", ".join(str(choice) for choice in choices)), name)
    # Numbers are measured and validated as the text they would be typed as ("20").
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    maxlength = spec.get("maxlength") or 0
    if maxlength and isinstance(value, (str, list, dict)) and len(value) > maxlength:
        raise ValidationError(
            INVALID_DATA,
            "input '%s' is longer than its maxlength of %d" % (name, maxlength),
            name,
        )
    validation = spec.get("validation")
    if not validation:
        return
    # Strings are validated themselves; lists are validated item by item.
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str):
            continue
        problem = validation_problem(validation, item)
        if problem:
            shown = "" if spec.get("sensitive") else " (%r)" % (item,)
            raise ValidationError(
                INVALID_DATA, "input '%s'%s %s" % (name, shown, problem), name
            )


def _has_type(kind, value):
    """Whether ``value`` (already parsed from JSON) is of declared type ``kind``."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "number"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("list", "array"):
        return isinstance(value, list)
    if kind == "hash":
        return isinstance(value, dict)
    return False


def _type_name(value):
    """A JSON-flavoured name for a value's type, for error messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "hash"
    return type(value).__name__


def validation_problem(validation, text):
    """What is wrong with ``text`` under a validator name or regex; None when it passes."""
    if validation == "shellsafe":
        for character in SHELL_UNSAFE:
            if character in text:
                return "is not shellsafe: it contains %r" % character
        return None
    if validation == "ipv4address":
        import ipaddress

        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            return "is not an IPv4 address"
        return None
    if validation == "ipv6address":
        import ipaddress

        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            return "is not an IPv6 address"
        return None
    if re.search(strict_pattern(validation), text) is None:
        return "does not match /%s/" % validation
    return None


def strict_pattern(pattern):
    """``pattern`` with every ``$`` anchor made ``\\Z``: the end of the text, nothing after.

    In Python's regular expressions ``$`` also matches before a trailing newline, so
    ``^[a-z]+$`` would let ``"alfa\\n"`` through; a validation regex means the whole value.
    A ``$`` that is escaped or inside a character class is left alone.
    """
    if "$" not in pattern:
        return pattern
    out = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            out.append(pattern[index:index + 2])
            index += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            out.append(char)
            index += 1
            # A "]" first in the class (or after "^") is a literal, not the end.
            if pattern[index:index + 1] == "^":
                out.append("^")
                index += 1
            if pattern[index:index + 1] == "]":
                out.append("]")
                index += 1
            continue
        elif char == "$":
            char = "\\Z"
        out.append(char)
        index += 1
    return "".join(out)


def mask_args(declaration, action, args):
    """``args`` with every sensitive input's value replaced by MASK.

    When the module or action is unknown nobody can say which inputs are sensitive, so every
    value is masked, and so is any undeclared input: a typo must not leak a password into the
    audit log.
    """
    inputs = None
    if declaration is not None:
        action_spec = (declaration.get("actions") or {}).get(action)
        if action_spec is not None:
            inputs = action_spec.get("inputs") or {}
    masked = {}
    for name, value in (args or {}).items():
        if inputs is None or name not in inputs or (inputs[name] or {}).get("sensitive"):
            masked[name] = MASK
        else:
            masked[name] = value
    return masked


# --------------------------------------------------------------------------------------------
# The host: its state folder, host.json, the caller, the audit log and the policy.
# --------------------------------------------------------------------------------------------

#: The system-wide state folder of a host that ``orch host init`` set up. Module-level so an
#: in-process unit test can aim it at a temporary folder; nothing a request carries changes it.
ETC_DIR = "/etc/orch"
#: Where a runtime running as root writes its audit log (a folder only root can write).
LOG_DIR = "/var/log/orch"

#: Set by orch's gate (orch/runtime/gate.py) on this module before its code runs, in restricted
#: mode only: {"caller": operator name from the forced command, "trusted": SHA-256 hex set}.
#: Nothing the client sends can set it; None means open mode.
GATE = globals().get("__orch_gate__")


def mode():
    """``restricted`` when orch's gate started this runtime, else ``open``."""
    return "restricted" if GATE else "open"


def resolve_state_dir(environ):
    """Where this host keeps host.json, policy/, callers, classes and facts.d/.

    ``$ORCH_STATE_DIR`` if set; else, in the lab, ``$ORCH_LAB_DIR/addr/<address>`` where
    <address> is the local address the SSH connection arrived on (the third field of
    ``$SSH_CONNECTION``), so one sshd can serve many lab hosts; else ``/etc/orch`` when it
    exists (a host set up by ``orch host init``); else ``~/.orch``.
    """
    if environ.get("ORCH_STATE_DIR"):
        return environ["ORCH_STATE_DIR"]
    lab_dir = environ.get("ORCH_LAB_DIR")
    connection = (environ.get("SSH_CONNECTION") or "").split()
    if lab_dir and len(connection) >= 3:
        return os.path.join(lab_dir, "addr", connection[2])
    if os.path.isdir(ETC_DIR):
        return ETC_DIR
    return _default_state_dir(environ)


def resolve_audit_log(environ, state_dir):
    """The audit log's path: ``<state>/audit.log`` for the lab's and ``$ORCH_STATE_DIR``'s
    folders and for ``~/.orch``; for ``/etc/orch``, ``/var/log/orch/audit.log`` when this
    process runs as root, else ``~/.orch/audit.log`` (the login user cannot write /var/log).
    """
    if state_dir != ETC_DIR:
        return os.path.join(state_dir, "audit.log")
    if os.geteuid() == 0:
        return os.path.join(LOG_DIR, "audit.log")
    return os.path.join(_default_state_dir(environ), "audit.log")


def _default_state_dir(environ):
    """``~/.orch`` of the login user."""
    home = environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".orch")


def untrusted_file(path, state_dir):
    """Why ``path`` (a policy file, or its folder) must not be trusted; None when it may be.

    As sshd's StrictModes: the file, and every folder from it up to the state folder, must be
    owned by root (or, outside /etc/orch, by the user this runtime runs as) and writable by
    neither group nor others; otherwise anyone who could write it would decide what the
    policy allows.
    """
    owners = (0,) if state_dir == ETC_DIR else (0, os.geteuid())
    top = os.path.abspath(state_dir)
    current = os.path.abspath(path)
    while True:
        try:
            info = os.stat(current)
        except (IOError, OSError) as error:
            return "cannot check %s: %s" % (current, getattr(error, "strerror", None) or error)
        if info.st_uid not in owners:
            return "%s is owned by uid %d, not by %s" % (
                current, info.st_uid, " or ".join("uid %d" % uid for uid in owners))
        if info.st_mode & 0o022:
            return "%s is writable by group or others (mode %04o)" % (
                current, info.st_mode & 0o7777)
        if current == top or os.path.dirname(current) == current:
            return None
        current = os.path.dirname(current)


class Host(object):
    """What an action may know about the host it runs on (``request.host``)."""

    def __init__(self, name, state_dir, facts, classes, agents, config):
        #: The host's name in the inventory (host.json "name"), else its hostname.
        self.name = name
        #: The state folder (see resolve_state_dir); modules keep their files under it.
        self.state_dir = state_dir
        #: Facts from host.json (nested dicts allowed).
        self.facts = facts
        #: Classes from host.json.
        self.classes = classes
        #: Modules this host offers, from host.json.
        self.agents = agents
        #: The audit log the runtime writes (see resolve_audit_log); set by Runtime.
        self.audit_log = None
        self._config = config

    @property
    def host_json(self):
        """The host.json a missing module setting belongs in (for messages)."""
        return os.path.join(self.state_dir, "host.json")

    def config(self, module):
        """Per-module settings from host.json's "config" (e.g. haproxy's socket); {} if none."""
        return dict(self._config.get(module) or {})

    def fact(self, dotted_key, default=None):
        """A fact by dotted key (``os.family``); ``default`` when it is missing."""
        return lookup_dotted(self.facts, dotted_key, default)


def lookup_dotted(facts, dotted_key, default=None):
    """Walk nested dicts with a dotted key; an exact key with dots in it wins."""
    if dotted_key in facts:
        return facts[dotted_key]
    value = facts
    for part in dotted_key.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value


def read_host(state_dir):
    """Read ``<state>/host.json``; a missing file gives a host with no facts, named after the
    machine. A broken file is an error: facts and policy would silently be wrong."""
    path = os.path.join(state_dir, "host.json")
    data = {}
    if os.path.exists(path):
        with open(path, "r") as handle:
            data = json.load(handle)
        if not isinstance(data, dict):
            raise ValueError("%s must hold a JSON object" % path)
    if data.get("name"):
        name = data["name"]
    else:
        import socket

        name = socket.gethostname()
    return Host(
        name=name,
        state_dir=state_dir,
        facts=data.get("facts") or {},
        classes=list(data.get("classes") or []),
        agents=list(data.get("agents") or []),
        config=data.get("config") or {},
    )


def identify_caller(environ, state_dir):
    """Who is calling, as far as this host can verify it.

    sshd's ExposeAuthInfo writes the key that logged in to the file ``$SSH_USER_AUTH``
    (``publickey ssh-ed25519 AAAA...``). If ``<state>/callers`` maps that key to an operator
    name, that name is the caller; otherwise it is the login user's name. Lines of callers are
    ``<key-type> <base64-key> <name>`` or ``SHA256:<fingerprint> <name>`` (the fingerprint
    ``ssh-keygen -l`` prints). A callers file others could write is ignored (untrusted_file).
    """
    keys = _logged_in_keys(environ.get("SSH_USER_AUTH"))
    if keys:
        path = os.path.join(state_dir, "callers")
        names = _read_callers(path) if os.path.exists(path) else {}
        if names and untrusted_file(path, state_dir):
            names = {}
        for key in keys:
            if key in names:
                return names[key]
            fingerprint = key_fingerprint(key[1])
            if fingerprint and fingerprint in names:
                return names[fingerprint]
    return _login_user(environ)


def key_fingerprint(base64_key):
    """``SHA256:...`` of a public key's base64 blob, as ``ssh-keygen -l`` prints it."""
    import binascii

    try:
        blob = binascii.a2b_base64(base64_key)
    except (binascii.Error, ValueError):
        return None
    digest = binascii.b2a_base64(_sha256()(blob).digest()).decode("ascii").strip()
    return "SHA256:" + digest.rstrip("=")


def _logged_in_keys(auth_info_path):
    """(type, base64) of each public key named in the ExposeAuthInfo file."""
    keys = []
    if not auth_info_path:
        return keys
    try:
        with open(auth_info_path, "r") as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return keys
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and fields[0] == "publickey":
            keys.append((fields[1], fields[2]))
    return keys


def _read_callers(path):
    """{(type, base64): operator name} from the callers file; {} when there is none."""
    names = {}
    try:
        with open(path, "r") as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return names
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("SHA256:"):
            fields = line.split(None, 1)
            if len(fields) == 2:
                names[fields[0]] = fields[1].strip()
            continue
        fields = line.split(None, 2)
        if len(fields) == 3:
            names[(fields[0], fields[1])] = fields[2].strip()
    return names


def _login_user(environ):
    """The name of the user this process runs as."""
    try:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return environ.get("USER") or environ.get("LOGNAME") or str(os.getuid())


class AuditLog(object):
    """The audit log (resolve_audit_log): one line per request, written before anything else.

    The file is opened at start and reopened on the next request if that failed, so a fixed
    permission problem heals without restarting. ``write`` raises OSError/IOError when the line
    cannot be written; the caller then refuses the request.
    """

    def __init__(self, path):
        self.path = path
        self.handle = None
        self.error = None

    def open(self):
        """Open for appending; remember the error instead of raising it."""
        try:
            self.handle = open(self.path, "a")
            self.error = None
        except (IOError, OSError) as error:
            self.handle = None
            self.error = error

    def write(self, line):
        """Append one line and flush it to the operating system."""
        if self.handle is None:
            self.open()
        if self.handle is None:
            raise self.error
        self.handle.write(line + "\n")
        self.handle.flush()


_SAFE_FIELD = re.compile(r"^[A-Za-z0-9_.@=:+/-]+$")


def _audit_field(value):
    """A value for the audit line that cannot break it: plain words as-is, anything else as
    a JSON string (so a newline in a module name cannot forge a second line)."""
    text = value if isinstance(value, str) else json.dumps(value)
    if _SAFE_FIELD.match(text):
        return text
    return json.dumps(text)


def audit_line(reqid, reqtime, caller, module, action, masked_args, result="allowed",
               reason="", status=None):
    """The DESIGN §6 line with the decision, e.g. ``reqid=0f..: reqtime=1700000000 caller=rip
    agent=appmgr action=upgrade data={"revision":20} result=allowed reason=policy`` (written
    before acting) and, for allowed requests, the same with ``status=OK`` once done.
    ``result``: allowed, denied (the policy said no) or refused (anything else stopped it).
    """
    line = "reqid=%s: reqtime=%d caller=%s agent=%s action=%s data=%s result=%s reason=%s" % (
        _audit_field(reqid), reqtime, _audit_field(caller), _audit_field(module),
        _audit_field(action), json.dumps(masked_args, sort_keys=True, separators=(",", ":")),
        result, _audit_field(reason or "-"),
    )
    if status is not None:
        line += " status=%s" % _audit_field(status)
    return line


def check_policy(state_dir, module, action, caller, host):
    """Apply ``<state>/policy/<module>.policy`` (MCollective actionpolicy); None if allowed,
    else the reason for refusing.

    Format: ``policy default allow|deny``, then lines of TAB-separated fields
    ``allow|deny <callers> <actions> <facts> <classes>`` where each field is ``*`` or a
    space-separated list (callers and actions: any may match; facts ``key=value``, value may be
    /regex/, and classes: all must match). The first matching line wins, else the default
    (deny when the file says none). No file: everything is allowed. A line that cannot be read
    denies the request, naming the line, rather than guessing; so does a file that others
    could have written (see untrusted_file).
    """
    path = os.path.join(state_dir, "policy", module + ".policy")
    try:
        with open(path, "r") as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError) as error:
        # Only a policy that is surely absent allows: a folder (or file) that cannot be
        # read (EACCES, ENOTDIR, EISDIR, ...) may hold a deny, so it denies (fails closed).
        if getattr(error, "errno", None) == errno.ENOENT:
            return None
        return "cannot read policy %s: %s" % (path, error)
    distrust = untrusted_file(path, state_dir)
    if distrust:
        return "policy %s is not trusted: %s" % (path, distrust)
    default = "deny"
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        words = stripped.split()
        if words[0] == "policy":
            if len(words) == 3 and words[1] == "default" and words[2] in ("allow", "deny"):
                default = words[2]
                continue
            return "policy %s line %d: expected 'policy default allow|deny'" % (path, number)
        fields = [field.strip() for field in re.split(r"\t+", stripped)]
        if fields[0] not in ("allow", "deny") or len(fields) not in (4, 5):
            return ("policy %s line %d: expected TAB-separated "
                    "'allow|deny callers actions facts classes'" % (path, number))
        if len(fields) == 4:
            fields.append("*")
        verdict, callers, actions, facts, classes = fields
        if (_any_word(callers, caller) and _any_word(actions, action)
                and _facts_match(facts, host) and _classes_match(classes, host)):
            if verdict == "allow":
                return None
            return "denied by policy %s line %d" % (path, number)
    if default == "allow":
        return None
    return "denied by policy %s (default deny)" % path


def _any_word(field, value):
    return field == "*" or value in field.split()


def _facts_match(field, host):
    if field == "*":
        return True
    for word in field.split():
        key, separator, expected = word.partition("=")
        if not separator:
            return False
        actual = host.fact(key)
        if actual is None:
            return False
        if not _value_matches(expected, actual):
            return False
    return True


def _classes_match(field, host):
    if field == "*":
        return True
    for word in field.split():
        if not any(_value_matches(word, name) for name in host.classes):
            return False
    return True


def _value_matches(expected, actual):
    """``/regex/`` searches, anything else compares as text."""
    text = actual if isinstance(actual, str) else json.dumps(actual)
    if len(expected) >= 2 and expected.startswith("/") and expected.endswith("/"):
        return re.search(expected[1:-1], text) is not None
    return expected == text


# --------------------------------------------------------------------------------------------
# Modules and requests.
# --------------------------------------------------------------------------------------------

class Abort(Exception):
    """Raised by ``request.abort(message)``: the reply is Aborted with that message."""


class ActionTimeout(BaseException):
    """Raised inside an action that ran past its timeout.

    A BaseException, like KeyboardInterrupt: a module's ``except Exception:`` must not swallow
    the host's own deadline and carry on past it.
    """


class Request(object):
    """What an action receives: the validated arguments and the host it runs on."""

    def __init__(self, reqid, caller, module, action, args, host, check_mode=False):
        #: The request id (32 hex), also in the audit line.
        self.reqid = reqid
        #: A dry run: report what would change, change nothing (only actions that declare
        #: ``check_mode`` are ever called with it).
        self.check_mode = bool(check_mode)
        #: The verified caller identity (see identify_caller).
        self.caller = caller
        #: Module and action names.
        self.module = module
        self.action = action
        #: Validated arguments, defaults filled.
        self.args = args
        #: The Host this runs on.
        self.host = host

    @property
    def config(self):
        """This module's settings from host.json (same as ``request.host.config(module)``)."""
        return self.host.config(self.module)

    def abort(self, message):
        """Stop the action now; the reply's status is Aborted with ``message``."""
        raise Abort(message)


# --------------------------------------------------------------------------------------------
# The module author's kit. A module imports it as ``orch_runtime`` (the name this file runs
# under on a host; the controller and ``orch.testing`` give it the same name), e.g.::
#
#     from orch_runtime import Abort, action, run, atomic_write
#
#     @action("install")
#     def install_package(request):
#         if request.check_mode: ...
#         result = run(["apt-get", "install", "-y", request.args["name"]])
#         if result.rc != 0:
#             raise Abort("apt-get failed: " + result.stderr_tail())
#
# ``request.abort(message)`` still works and raises the same Abort.
# --------------------------------------------------------------------------------------------

#: Wire names of helper sources (Ansible's module_utils) start with this: a module name never
#: contains ":", so a helper cannot be mistaken for a module.
HELPER_PREFIX = "helper:"

#: Largest output ``run`` keeps of each stream, in bytes, unless the caller asks for less.
RUN_OUTPUT_CAP = 1024 * 1024

#: Bytes of the end of stderr ``run`` keeps even past the cap (``RunResult.stderr_end``).
RUN_TAIL = 2000

#: Output past the cap is cut from its temporary file once it grows this much further, so a
#: command that floods its output cannot fill the disk (its last bytes are still kept).
RUN_SPILL = 8 * 1024 * 1024

#: PATH that ``run`` gives commands unless the caller passes ``env`` with its own.
RUN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def action(name=None):
    """Bind a function to an action of the module's declaration, by name::

        @action("restart")
        def restart_service(request): ...

    Without a name the function's own name is the action's. A module may instead define
    ``ACTIONS = {"restart": restart_service}``; a function named like the action is the
    fallback when neither binds it.
    """
    def bind(function):
        function.orch_action = name or function.__name__
        return function

    if callable(name):  # @action without parentheses
        function, name = name, None
        return bind(function)
    return bind


def action_function(namespace, action_name):
    """The function serving ``action_name`` in a module (its dict or the module object):
    ``ACTIONS[name]``, else a function marked ``@action(name)``, else the function called
    ``name``; None when there is none."""
    names = namespace if isinstance(namespace, dict) else vars(namespace)
    table = names.get("ACTIONS")
    if isinstance(table, dict) and action_name in table:
        function = table[action_name]
        return function if callable(function) else None
    for value in list(names.values()):
        if callable(value) and getattr(value, "orch_action", None) == action_name:
            return value
    function = names.get(action_name)
    return function if callable(function) else None


class RunResult(object):
    """What ``run`` returns: ``rc``; ``stdout`` and ``stderr`` (text, each cut at the cap) with
    ``stdout_truncated`` and ``stderr_truncated`` (``truncated``: either); ``stderr_end``, the
    last RUN_TAIL bytes stderr ended with, even past the cap."""

    def __init__(self, argv, rc, stdout, stderr, stdout_truncated=False,
                 stderr_truncated=False, stderr_end=""):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.stdout_truncated = stdout_truncated
        self.stderr_truncated = stderr_truncated
        self.truncated = stdout_truncated or stderr_truncated
        self.stderr_end = stderr_end

    @property
    def ok(self):
        return self.rc == 0

    def stderr_tail(self, lines=4):
        """The last lines of stderr (else stdout) joined by " | ", for an abort message."""
        text = self.stderr.strip() or self.stdout.strip()
        return " | ".join(line for line in text.splitlines()[-lines:] if line.strip())


class RunTimeout(Abort):
    """``run``'s command outlived its ``timeout`` and its process group was killed. An Abort:
    uncaught, the reply is Aborted with this message; ``argv`` and ``timeout`` are kept for a
    module that words its own."""

    def __init__(self, argv, timeout):
        Abort.__init__(self, "%s did not finish within %gs" % (argv[0], timeout))
        self.argv = argv
        self.timeout = timeout


def which(program):
    """The path of ``program`` in a RUN_PATH folder (executable), else None: how a module tells
    which tools a host has (systemctl or service, apt-get or dnf) before it runs one."""
    for folder in RUN_PATH.split(":"):
        path = os.path.join(folder, program)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def run(argv, stdin=None, timeout=None, cwd="/", env=None, cap=RUN_OUTPUT_CAP,
        merge_output=False):
    """Run ``argv`` (a list: never through a shell) and wait for it; a RunResult.

    The command runs in its own session (process group). ``stdin`` is text or bytes written to
    it through a pipe (else it reads /dev/null); ``timeout`` seconds, or any exception while it
    runs (the request's own timeout), kill its whole process group (a timeout raises
    RunTimeout). ``env`` replaces the minimal environment (PATH=RUN_PATH, LANG=C).
    Output goes to temporary files, not pipes, so a daemon the command leaves behind cannot
    hold this action open; each stream keeps at most ``cap`` bytes (``merge_output``: stderr
    goes into stdout, interleaved as written). A command that cannot be started is an Abort.
    """
    import subprocess
    import tempfile
    import threading

    if isinstance(argv, str) or not argv or not all(isinstance(word, str) for word in argv):
        raise TypeError("run() takes a non-empty list of strings, not %r" % (argv,))
    argv = list(argv)
    environ = env if env is not None else {"PATH": RUN_PATH, "LANG": "C", "LC_ALL": "C"}
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=out, stderr=subprocess.STDOUT if merge_output else err,
                close_fds=True, start_new_session=True, cwd=cwd, env=environ)
        except OSError as error:
            raise Abort("cannot run %s: %s" % (argv[0], error.strerror or error))
        if stdin is not None:  # from a thread: a command that writes before it reads
            threading.Thread(target=_feed, args=(process.stdin, stdin), daemon=True).start()
        done, spilled = threading.Event(), set()
        watch = threading.Thread(target=_cut_floods, args=(done, (out, err), cap, spilled))
        watch.start()
        try:
            process.wait(timeout=timeout)
        except BaseException as error:  # its timeout, or the request's: leave nothing behind
            _kill_group(process)
            if isinstance(error, subprocess.TimeoutExpired):
                raise RunTimeout(argv, timeout)
            raise
        finally:
            done.set()
            watch.join()  # before the files close: it must never touch a reused descriptor
        texts, cut = [], []
        for stream in (out, err):
            size = os.fstat(stream.fileno()).st_size
            stream.seek(0)
            texts.append(stream.read(cap).decode("utf-8", "replace"))
            cut.append(size > cap or stream in spilled)
        err.seek(max(0, os.fstat(err.fileno()).st_size - RUN_TAIL))
        end = err.read(RUN_TAIL)
        if err in spilled:
            end = end.replace(b"\x00", b"")  # a cut left a hole there
    return RunResult(argv, process.returncode, texts[0], texts[1], cut[0], cut[1],
                     end.decode("utf-8", "replace"))


def _cut_floods(done, streams, cap, spilled):
    """While the command runs, cut each output file back to ``cap`` bytes once it grows
    RUN_SPILL past it: later writes land after a hole, which takes no disk."""
    while not done.wait(0.25):
        for stream in streams:
            if os.fstat(stream.fileno()).st_size > cap + RUN_SPILL:
                os.ftruncate(stream.fileno(), cap)
                spilled.add(stream)


def _feed(pipe, data):
    try:
        pipe.write(data)
    except OSError:  # it exited, or closed its input, before reading all of it
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def _kill_group(process):
    """SIGKILL the command's whole process group, then reap the command itself."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        process.wait(timeout=5)
    except Exception:
        pass


def atomic_write(path, data, mode=None, uid=-1, gid=-1):
    """Replace ``path`` with ``data`` (bytes or text) so no reader sees a half-written file.

    A temporary file in the same folder is written, fsynced, given ``mode`` (else the old
    file's, else 0666 less the umask) and owner, renamed over ``path`` (atomic on POSIX) and
    the folder fsynced, as Mitogen does. On any failure the temporary file is removed.
    """
    import tempfile

    if isinstance(data, str):
        data = data.encode("utf-8")
    folder, base = os.path.split(os.path.abspath(path))
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    descriptor, temporary = tempfile.mkstemp(prefix="." + base + ".", suffix=".orch-tmp",
                                             dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            made = os.fstat(handle.fileno())  # born with this process's ids: chown if others
            if (uid != -1 and made.st_uid != uid) or (gid != -1 and made.st_gid != gid):
                os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)  # after chown, which may clear setuid bits
        os.rename(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    fsync_folder(folder)


def fsync_folder(folder):
    """Make a rename or unlink in ``folder`` durable (best effort: not every file system can)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def load_helper(name, source):
    """Exec a helper's source (module_utils) and register it as importable module ``name``,
    so modules loaded after it can ``import name``; in memory, like modules."""
    helper = types.ModuleType(name)
    helper.__file__ = "module_utils/%s.py" % name
    exec(compile(source, helper.__file__, "exec"), helper.__dict__)
    sys.modules[name] = helper
    return helper


def load_module(name, source):
    """Exec a module's source into a fresh module object, in memory (no file is written)."""
    module = types.ModuleType("orch_module_" + name)
    module.__file__ = "modules/%s.py" % name
    code = compile(source, module.__file__, "exec")
    exec(code, module.__dict__)
    declaration = getattr(module, "AGENT", None)
    if not isinstance(declaration, dict):
        raise ValueError("module %s declares no AGENT dict" % name)
    return module


def source_hash(source):
    """sha256 hex of a module's source, the key modules are cached by on both sides."""
    if not isinstance(source, bytes):
        source = source.encode("utf-8")
    return _sha256()(source).hexdigest()


def _sha256():
    # The interpreter's built-in sha256: hashlib would load OpenSSL first (~3 ms per host).
    try:
        from _sha256 import sha256  # Python 3.6-3.11
    except ImportError:
        try:
            from _sha2 import sha256  # 3.12+
        except ImportError:
            from hashlib import sha256
    return sha256


def _reply(reqid, status, message, data=None):
    return {"kind": KIND_REPLY, "reqid": reqid, "status": status, "message": message,
            "data": data if data is not None else {}}


class Runtime(object):
    """The serving loop's state: the host, caller, audit log and the modules received."""

    def __init__(self, state_dir, host, caller, audit):
        self.state_dir = state_dir
        host.audit_log = audit.path
        self.host = host
        self.caller = caller
        self.audit = audit
        #: hash -> module object, for the life of the process.
        self.modules_by_hash = {}
        #: name -> hash of the module most recently sent under that name.
        self.module_hashes = {}
        #: name -> why the module sent under that name could not be loaded.
        self.module_errors = {}
        #: helper name -> hash of the helper source registered under it.
        self.helper_hashes = {}

    def receive_module(self, message):
        """Load a module frame, unless a module with that hash is already loaded."""
        name = str(message.get("name"))
        source = message.get("source") or ""
        digest = source_hash(source)
        if message.get("hash") and message["hash"] != digest:
            self.module_errors[name] = "source of module %s does not match its hash" % name
            self.module_hashes.pop(name, None)
            return
        if GATE and digest not in GATE["trusted"]:
            # Restricted mode: never load (never even compile) code the host did not pin.
            self.module_errors[name] = ("module %s sha256 %s is not trusted on this host "
                                        "(run 'orch host trust %s')" % (name, digest, name))
            self.module_hashes.pop(name, None)
            return
        if name.startswith(HELPER_PREFIX):
            self.receive_helper(name[len(HELPER_PREFIX):], digest, source)
            return
        if digest not in self.modules_by_hash:
            try:
                self.modules_by_hash[digest] = load_module(name, source)
            except Exception as error:  # a broken module must not stop the runtime
                self.module_errors[name] = "module %s failed to load: %s: %s" % (
                    name, type(error).__name__, error)
                self.module_hashes.pop(name, None)
                return
        self.module_hashes[name] = digest
        self.module_errors.pop(name, None)

    def receive_helper(self, name, digest, source):
        """Register a helper (sent before the modules that import it); a broken one is
        remembered and named when a module that needs it fails to load."""
        if self.helper_hashes.get(name) == digest:
            return
        try:
            load_helper(name, source)
        except Exception as error:
            sys.modules.pop(name, None)
            self.module_errors[HELPER_PREFIX + name] = "helper %s failed to load: %s: %s" % (
                name, type(error).__name__, error)
            return
        self.helper_hashes[name] = digest

    def handle_request(self, message):
        """The request path: audit, find module, policy, find action, validate, call, reply."""
        reqid = str(message.get("reqid") or "")
        module_name = str(message.get("module") or "")
        action_name = str(message.get("action") or "")
        args = message.get("args") or {}
        module = self.modules_by_hash.get(self.module_hashes.get(module_name, ""))
        declaration = getattr(module, "AGENT", None)

        # 1. Decide (nothing runs yet), then audit the decision: no audit line, no action.
        masked = mask_args(declaration, action_name, args if isinstance(args, dict) else {})
        refused = None
        if not re.match(r"^[0-9a-f]{32}$", reqid):
            refused = (INVALID_DATA, "reqid must be 32 lowercase hex digits")
        elif not isinstance(args, dict):
            refused = (INVALID_DATA, "args must be a JSON object")
        elif module is None:  # 2. the module must have been sent (and loaded) before
            refused = (ABORTED, self.module_errors.get(module_name)
                       or "unknown module '%s'" % module_name)
        # 3. Authorization: the host's actionpolicy for this module.
        denied = None if refused else check_policy(
            self.state_dir, module_name, action_name, self.caller, self.host)
        result = "refused" if refused else "denied" if denied else "allowed"
        reason = (refused[1] if refused else denied) or "policy"
        line = audit_line(reqid, int(time.time()), self.caller, module_name, action_name, masked,
                          result, reason)
        try:
            self.audit.write(line)
        except (IOError, OSError) as error:
            return _reply(reqid, ABORTED, "cannot write audit log %s: %s" % (
                self.audit.path, getattr(error, "strerror", None) or error))
        if refused:
            return _reply(reqid, refused[0], refused[1])
        if denied:
            return _reply(reqid, ABORTED, denied)
        reply = self._act(reqid, module, module_name, action_name, declaration, args, message)
        try:
            self.audit.write(audit_line(reqid, int(time.time()), self.caller, module_name,
                                        action_name, masked, "allowed", "policy",
                                        reply["status"]))
        except (IOError, OSError):
            pass  # acted already; the first line stands
        return reply

    def _act(self, reqid, module, module_name, action_name, declaration, args, message):
        """Validate, run and shape the reply of an allowed request."""
        # 4. The action exists and the arguments fit its declaration.
        try:
            valid_args = validate_args(declaration, action_name, args)
        except ValidationError as error:
            return _reply(reqid, error.status, error.message)
        function = action_function(module, action_name)
        if function is None:
            return _reply(reqid, UNKNOWN_ACTION, "module '%s' has no function for action '%s'"
                          % (module_name, action_name))
        check_mode = bool(message.get("check_mode"))
        if check_mode and not find_action(declaration, action_name).get("check_mode"):
            return _reply(reqid, ABORTED, "%s#%s has no check mode: not run"
                          % (module_name, action_name))

        # 5. Run it, bounded by the request's timeout (else the module's).
        request = Request(reqid, self.caller, module_name, action_name, valid_args, self.host,
                          check_mode)
        timeout = message.get("timeout") or declaration.get("timeout") or 0
        try:
            data = _call_with_timeout(function, request, timeout)
        except Abort as error:
            return _reply(reqid, ABORTED, str(error) or "aborted")
        except ActionTimeout:
            return _reply(reqid, UNKNOWN_ERROR, "action timed out after %gs" % timeout)
        except Exception as error:
            return _reply(reqid, UNKNOWN_ERROR, describe_error(error, module))

        # 6. Reply: the action's data over the declared outputs' defaults.
        if data is None:
            data = {}
        if not isinstance(data, dict):
            return _reply(reqid, UNKNOWN_ERROR, "action %s#%s returned %s, not a dict"
                          % (module_name, action_name, type(data).__name__))
        outputs = find_action(declaration, action_name).get("outputs") or {}
        full = dict((name, (spec or {}).get("default")) for name, spec in outputs.items())
        full.update(data)
        reply = _reply(reqid, OK, "OK", full)
        if isinstance(data.get("changed"), bool):
            reply["changed"] = data["changed"]
        return reply


def describe_error(error, module):
    """``appmgr.py:212: ZeroDivisionError: division by zero``: where in the module it failed.

    The line is that of the deepest frame inside the module's own file, so the runtime's own
    frames never show; an error raised elsewhere (a library the module called) still names the
    module line that called it.
    """
    import traceback

    text = "%s: %s" % (type(error).__name__, error) if str(error) else type(error).__name__
    filename = getattr(module, "__file__", None)
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    if line is None:
        return text
    return "%s:%d: %s" % (os.path.basename(filename), line, text)


def _call_with_timeout(function, request, timeout):
    """Call ``function(request)``; raise ActionTimeout inside it after ``timeout`` seconds."""
    if not timeout or timeout <= 0:
        return function(request)

    def on_alarm(signum, frame):
        raise ActionTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(timeout))
    try:
        return function(request)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def serve(runtime, input_stream, output_stream):
    """Answer frames one at a time until an ``exit`` frame or the end of input."""
    while True:
        message = read_frame(input_stream)
        if message is None or message["kind"] == KIND_EXIT:
            return
        if message["kind"] == KIND_MODULE:
            runtime.receive_module(message)
        elif message["kind"] == KIND_REQUEST:
            reply = runtime.handle_request(message)
            try:
                write_frame(output_stream, reply)
            except (TypeError, ValueError) as error:  # data the action returned is not JSON
                write_frame(output_stream, _reply(
                    reply["reqid"], UNKNOWN_ERROR, "reply data is not JSON: %s" % error))
        else:
            sys.stderr.write("orch runtime: ignoring a frame of kind %r\n" % message["kind"])


def _take_protocol_streams():
    """Keep stdin and stdout for frames, and give actions /dev/null for both instead.

    A module that prints, or a command it runs that reads its input, would otherwise corrupt
    the frame stream; stdout goes to /dev/null rather than stderr so that chatter cannot fill
    the SSH channel's window while nobody reads stderr. The kept descriptors are not inherited
    by commands an action starts. The bootstrap reads with os.read, so no byte of the first
    frames is left behind in a buffer.
    """
    input_fd = os.dup(0)
    output_fd = os.dup(1)
    null_fd = os.open(os.devnull, os.O_RDWR)
    os.dup2(null_fd, 0)
    os.dup2(null_fd, 1)
    os.close(null_fd)
    return os.fdopen(input_fd, "rb"), os.fdopen(output_fd, "wb")


def main(environ=None):
    """Run the runtime: the checklist, then serve until the controller says exit."""
    environ = os.environ if environ is None else environ
    input_stream, output_stream = _take_protocol_streams()

    # 1. Where this host keeps its state (a real host's default folder is made on first use).
    #    In restricted mode the gate (root's code) says where: /etc/orch on a host.
    state_dir = GATE.get("state_dir", ETC_DIR) if GATE else resolve_state_dir(environ)
    audit_path = GATE.get("audit_log", os.path.join(LOG_DIR, "audit.log")) if GATE else (
        resolve_audit_log(environ, state_dir))
    for folder in (state_dir, os.path.dirname(audit_path)):
        if folder == _default_state_dir(environ) and not os.path.exists(folder):
            os.makedirs(folder, 0o700)
        elif folder == LOG_DIR and not os.path.exists(folder):
            os.makedirs(folder, 0o750)  # readable by root (and its group) only
    # 2. Who this host is: host.json. A broken file stops the runtime with one clear line
    #    (the controller reports the last line of stderr), rather than guessing facts.
    try:
        host = read_host(state_dir)
    except (IOError, OSError, ValueError) as error:
        sys.exit("orch runtime: cannot read %s: %s" % (os.path.join(state_dir, "host.json"), error))
    # 3. Who is calling: the SSH key that logged in, mapped to an operator name; in
    #    restricted mode the operator the gate's forced command names, nothing else.
    caller = GATE["caller"] if GATE else identify_caller(environ, state_dir)
    # 4. The audit log (requests are refused while it cannot be written).
    audit = AuditLog(audit_path)
    audit.open()
    # 5. Say hello, then serve.
    write_frame(output_stream, {
        "kind": KIND_HELLO, "host": host.name, "state_dir": state_dir, "caller": caller,
        "audit_log": audit_path, "mode": mode(),
        "python": "%d.%d.%d" % tuple(sys.version_info[:3]),
        "loaded_from": globals().get("__orch_loaded_from__", "source"),
    })
    serve(Runtime(state_dir, host, caller, audit), input_stream, output_stream)
