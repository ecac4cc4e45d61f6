"""haproxy: take servers out of an HAProxy backend and put them back, through the runtime API.

Pushed to load balancers and run there: standard library only, Python 3.6 compatible.

Every change talks to HAProxy's admin socket (the ``stats socket`` line of haproxy.cfg, named by
host.json's ``config.haproxy.socket``, else HAProxy's packaged ``/run/haproxy/admin.sock``) with the ``socket`` module: one command per connection,
no shell, no ``socat``. Before changing anything the module reads ``show servers state <backend>``
and checks that the backend and every named server exist, so a typo aborts with a clear message
and leaves HAProxy as it was, instead of disabling half of a list.

Server states are reported as HAProxy's own words: ``MAINT`` (any maintenance bit of
``srv_admin_state`` set), ``DRAIN``, else the operational state ``UP``, ``DOWN``, ``STARTING``
or ``STOPPING``.
"""

import os
import re
import socket

# Inputs and outputs shared by disable and enable (the declaration is read, never changed).
BACKEND_INPUT = {
    "type": "string", "required": True, "prompt": "Backend",
    "description": "HAProxy backend holding the servers",
    "validation": "^[a-zA-Z0-9_.-]+\\Z", "maxlength": 64,
}
SERVER_INPUT = {
    "type": "list", "required": True, "prompt": "Servers",
    "description": "Server names in the backend (a list, or a comma string)",
    "validation": "^[a-zA-Z0-9_.-]+\\Z", "maxlength": 1000,
}
CHANGE_OUTPUTS = {
    "backend": {"display_as": "Backend", "description": "The backend changed"},
    "state": {"display_as": "State", "description": "State the servers were put in",
              "default": None},
    "servers": {"display_as": "Servers", "description": "Server name → state after",
                "default": {}},
    "previous": {"display_as": "Previous", "description": "Server name → state before",
                 "default": {}},
}

AGENT = {
    "name": "haproxy",
    "description": "Disable, enable and inspect servers of an HAProxy backend via its runtime API",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "url": "https://www.haproxy.com/documentation/haproxy-runtime-api/",
    "timeout": 30,
    "actions": {
        "disable": {
            "description": "Put servers in maintenance (or drain) so HAProxy sends them no traffic",
            "inputs": {
                "backend": BACKEND_INPUT,
                "server": SERVER_INPUT,
                "drain": {
                    "type": "boolean", "required": False, "default": False,
                    "description": "Drain (finish open sessions, take no new ones) "
                                   "instead of maintenance",
                },
            },
            "outputs": CHANGE_OUTPUTS,
            "aggregate": [{"function": "summary", "args": ["state"]}],
        },
        "enable": {
            "description": "Take servers out of maintenance or drain so HAProxy sends them traffic",
            "inputs": {
                "backend": BACKEND_INPUT,
                "server": SERVER_INPUT,
            },
            "outputs": CHANGE_OUTPUTS,
            "aggregate": [{"function": "summary", "args": ["state"]}],
        },
        "status": {
            "description": "Each server of a backend and its state",
            "inputs": {
                "backend": {
                    "type": "string", "required": True, "prompt": "Backend",
                    "description": "HAProxy backend to show",
                    "validation": "^[a-zA-Z0-9_.-]+\\Z", "maxlength": 64,
                },
            },
            "outputs": {
                "backend": {"display_as": "Backend", "description": "The backend shown"},
                "servers": {"display_as": "Servers",
                            "description": "Server name → state, in backend order",
                            "default": {}},
                "details": {"display_as": "Details",
                            "description": "Per server: name, address, port, state, weight and "
                                           "HAProxy's srv_op_state/srv_admin_state numbers",
                            "default": []},
                "states": {"display_as": "States",
                           "description": "How many servers are in each state, e.g. 'MAINT 2, UP 3'",
                           "default": ""},
                "up": {"display_as": "Up", "description": "Servers taking traffic", "default": 0},
                "maint": {"display_as": "In maintenance", "description": "Servers in MAINT",
                          "default": 0},
                "total": {"display_as": "Servers total", "description": "Servers in the backend",
                          "default": 0},
            },
            "aggregate": [
                {"function": "summary", "args": ["states"]},
                {"function": "sum", "args": ["up"]},
                {"function": "sum", "args": ["maint"]},
            ],
        },
    },
}

# A backend or server name as HAProxy accepts it; also keeps newlines and ';' (which chains
# runtime API commands) out of every line this module sends.
NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")

# srv_admin_state bits (HAProxy's SRV_ADMF_*): forced, inherited, config, resolver, hostname
# maintenance; then forced and inherited drain.
ADMIN_MAINT_BITS = 0x01 | 0x02 | 0x04 | 0x20 | 0x40
ADMIN_DRAIN_BITS = 0x08 | 0x10
OPERATIONAL_STATES = {0: "DOWN", 1: "STARTING", 2: "UP", 3: "STOPPING"}

SOCKET_TIMEOUT = 10.0


class HAProxyError(Exception):
    """HAProxy could not be reached or refused a command; the message says which."""


#: Where Debian's and Red Hat's haproxy packages put the admin socket (``stats socket`` in their
#: shipped haproxy.cfg): used when host.json does not name one.
DEFAULT_SOCKET = "/run/haproxy/admin.sock"


def _host_json(request):
    return os.path.join(getattr(request.host, "state_dir", None) or "/etc/orch", "host.json")


def _socket_path(request):
    """The admin socket named in host.json, else HAProxy's packaged default; checked to exist
    so the message can say what to set where."""
    path = (request.host.config("haproxy") or {}).get("socket")
    if not path:
        if os.path.exists(DEFAULT_SOCKET):
            return DEFAULT_SOCKET
        raise HAProxyError(f"no HAProxy admin socket at {DEFAULT_SOCKET} (HAProxy's default): "
                           f"set config.haproxy.socket in {_host_json(request)}")
    if not os.path.exists(path):
        raise HAProxyError(f"HAProxy socket {path} does not exist (is HAProxy running? "
                           f"config.haproxy.socket in {_host_json(request)})")
    return path


def runtime_command(path, command):
    """Send one runtime API command and return HAProxy's whole answer as text.

    HAProxy closes a non-interactive connection after answering, so the answer ends at EOF.
    """
    if "\n" in command or "\r" in command or ";" in command:
        raise HAProxyError("refusing to send a runtime API line with a newline or ';'")
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(SOCKET_TIMEOUT)
    try:
        try:
            connection.connect(path)
        except OSError as error:
            problem = error.strerror or error
            raise HAProxyError(f"cannot connect to HAProxy socket {path}: {problem}") from None
        connection.sendall((command + "\n").encode("ascii"))
        chunks = []
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except socket.timeout:  # noqa: UP041 (TimeoutError only from Python 3.10)
        raise HAProxyError(f"HAProxy did not answer {command!r} within {SOCKET_TIMEOUT}s") from None
    finally:
        connection.close()
    return b"".join(chunks).decode("utf-8", "replace")


def state_name(operational, admin):
    """HAProxy's word for a server from ``srv_op_state`` and ``srv_admin_state``."""
    if admin & ADMIN_MAINT_BITS:
        return "MAINT"
    if admin & ADMIN_DRAIN_BITS:
        return "DRAIN"
    return OPERATIONAL_STATES.get(operational, "UNKNOWN")


def backend_servers(path, backend):
    """``show servers state <backend>`` parsed into an ordered list of server dicts.

    Raises HAProxyError "no backend 'x' in HAProxy" when HAProxy does not know the backend.
    """
    answer = runtime_command(path, f"show servers state {backend}")
    lines = [line for line in answer.splitlines() if line.strip()]
    if not lines or not lines[0].strip().isdigit():
        if "can't find backend" in answer.lower() or "no such backend" in answer.lower():
            raise HAProxyError(f"no backend '{backend}' in HAProxy")
        raise HAProxyError(f"unexpected answer from HAProxy to 'show servers state {backend}': "
                           f"{answer.strip()[:200]}")
    header = None
    servers = []
    for line in lines[1:]:
        if line.startswith("#"):
            header = line.lstrip("# ").split()
            continue
        if header is None:
            continue
        record = dict(zip(header, line.split()))  # noqa: B905 (strict= is Python 3.10+)
        if record.get("be_name") != backend:
            continue
        operational = int(record.get("srv_op_state", "0"))
        admin = int(record.get("srv_admin_state", "0"))
        servers.append({
            "name": record.get("srv_name"),
            "address": record.get("srv_addr"),
            "port": int(record["srv_port"]) if record.get("srv_port", "").isdigit() else None,
            "state": state_name(operational, admin),
            "operational_state": operational,
            "admin_state": admin,
            "weight": int(record.get("srv_uweight", "0")),
        })
    return servers


def _server_names(request):
    """The ``server`` input as a list of names, from a list or a comma string, each checked."""
    value = request.args.get("server")
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise HAProxyError("server must be a list of names or a comma string")
    names = []
    for item in value:
        name = str(item).strip()
        if not name:
            continue
        if not NAME.match(name):
            raise HAProxyError(f"invalid server name {name!r} (letters, digits, '_', '.', '-')")
        if name not in names:
            names.append(name)
    if not names:
        raise HAProxyError("no server named")
    return names


def _backend_name(request):
    backend = str(request.args.get("backend", ""))
    if not NAME.match(backend):
        raise HAProxyError(f"invalid backend name {backend!r} (letters, digits, '_', '.', '-')")
    return backend


def _set_state(request, target, target_word):
    """Check every name first, then set each server's state; report before and after."""
    backend = _backend_name(request)
    names = _server_names(request)
    path = _socket_path(request)
    before = {server["name"]: server["state"] for server in backend_servers(path, backend)}
    missing = [name for name in names if name not in before]
    if missing:
        raise HAProxyError("server{} {} {} not in backend {}".format(
            "s" if len(missing) > 1 else "", ", ".join(missing),
            "are" if len(missing) > 1 else "is", backend))
    for name in names:
        answer = runtime_command(path, f"set server {backend}/{name} state {target}")
        if answer.strip():
            raise HAProxyError(f"HAProxy refused 'set server {backend}/{name} state {target}': "
                               f"{answer.strip()}")
    after = {server["name"]: server["state"] for server in backend_servers(path, backend)}
    return {
        "backend": backend,
        "state": target_word,
        "servers": {name: after.get(name) for name in names},
        "previous": {name: before[name] for name in names},
    }


def _run(request, function, *arguments):
    """Turn an HAProxyError into an Aborted reply with its message."""
    try:
        return function(request, *arguments)
    except HAProxyError as error:
        request.abort(str(error))
        return {}


def disable(request):
    """Put the named servers in maintenance, or drain them when ``drain`` is true."""
    if request.args.get("drain"):
        return _run(request, _set_state, "drain", "DRAIN")
    return _run(request, _set_state, "maint", "MAINT")


def enable(request):
    """Make the named servers ready again (clears maintenance and drain)."""
    return _run(request, _set_state, "ready", "READY")


def _status(request):
    backend = _backend_name(request)
    servers = backend_servers(_socket_path(request), backend)
    counts = {}
    for server in servers:
        counts[server["state"]] = counts.get(server["state"], 0) + 1
    return {
        "backend": backend,
        "servers": {server["name"]: server["state"] for server in servers},
        "details": servers,
        "states": ", ".join(f"{state} {counts[state]}" for state in sorted(counts)),
        "up": counts.get("UP", 0),
        "maint": counts.get("MAINT", 0),
        "total": len(servers),
    }


def status(request):
    """Every server of the backend with its state, and counts per state."""
    return _run(request, _status)
