"""appmgr: deploy a revision of the application on this host and restart it, or report it.

Pushed to app servers and run there: standard library only, Python 3.6 compatible.

host.json's ``config.appmgr`` says how the app runs here: ``command`` (the argv that starts the
app server; it writes its own ``pidfile`` and serves the revision found in ``revision_file``),
``address`` and ``port`` it listens on, and ``log``. ``address``, ``pidfile``,
``revision_file`` and ``log`` default to DEFAULTS; ``port`` and ``command`` must be set. The truth about what runs is what the app
answers over HTTP, not what a file says: ``status`` asks the app, and ``upgrade`` only reports
success once the restarted app answers with the new revision.

``upgrade`` is idempotent: when the app already answers the requested revision it changes
nothing. Otherwise it writes the revision file, stops the process in the pidfile (SIGTERM, a
bounded wait, then SIGKILL), starts ``command`` detached in its own session with no shell, and
waits (bounded) until the app answers with the revision.
"""

import errno
import json
import os
import re
import signal
import socket
import subprocess
import time

AGENT = {
    "name": "appmgr",
    "description": "Deploy a revision of the application and restart it; report what runs",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "timeout": 60,
    "actions": {
        "upgrade": {
            "description": "Deploy a revision, restart the app, wait until it serves the revision",
            "inputs": {
                "revision": {
                    "type": "integer", "required": True, "prompt": "Revision",
                    "description": "Revision to deploy",
                    "validation": "^\\d+\\Z", "maxlength": 10,
                },
            },
            "outputs": {
                "revision": {"display_as": "Revision", "description": "Revision the app serves now",
                             "default": None},
                "previous": {"display_as": "Previous", "description": "Revision it served before",
                             "default": None},
                "changed": {"display_as": "Restarted",
                            "description": "Whether the app was restarted (false: it already "
                                           "served the revision)", "default": False},
                "pid": {"display_as": "PID", "description": "Process id of the app",
                        "default": None},
            },
            "aggregate": [
                {"function": "summary", "args": ["revision"]},
                {"function": "boolean_summary", "args": ["changed", {"true": "yes", "false": "no"}]},
            ],
        },
        "status": {
            "description": "The revision the running app answers with",
            "inputs": {},
            "outputs": {
                "revision": {"display_as": "Revision", "description": "Revision the app serves",
                             "default": None},
                "pid": {"display_as": "PID", "description": "Process id of the app",
                        "default": None},
            },
            "aggregate": [{"function": "summary", "args": ["revision"]}],
        },
    },
}

STOP_WAIT = 10.0  # seconds between SIGTERM and SIGKILL
START_WAIT = 20.0  # seconds the restarted app has to answer with the new revision
HTTP_TIMEOUT = 2.0
MAX_ANSWER = 65536 + 8192  # bytes read from the app: headers and a short body
POLL_INTERVAL = 0.1


REVISION_IN_TEXT = re.compile(r"revision\W{0,3}(\d+)", re.IGNORECASE)


class AppError(Exception):
    """The app could not be reached, stopped or started; the message says why."""


#: Settings with a sensible default on any host (FHS places); ``port`` and ``command`` have
#: none: only the operator knows how their app starts and where it listens.
DEFAULTS = {
    "address": "127.0.0.1",
    "pidfile": "/run/appmgr/app.pid",
    "revision_file": "/var/lib/appmgr/revision",
    "log": "/var/log/appmgr/app.log",
}
REQUIRED = ("address", "port", "command", "pidfile", "revision_file")


def _settings(request):
    """host.json's ``config.appmgr`` over DEFAULTS, checked for the keys this module needs;
    a missing one is named with the file to set it in."""
    given = request.host.config("appmgr") or {}
    settings = dict(DEFAULTS)
    settings.update(dict((key, value) for key, value in given.items() if value is not None))
    missing = [key for key in REQUIRED if not settings.get(key)]
    if missing:
        host_json = os.path.join(getattr(request.host, "state_dir", None) or "/etc/orch",
                                 "host.json")
        raise AppError("appmgr is not set up on this host: set "
                       + ", ".join("config.appmgr." + key for key in missing)
                       + " in " + host_json)
    command = settings["command"]
    if not isinstance(command, list) or not all(isinstance(part, str) for part in command):
        raise AppError("config.appmgr.command must be a list of strings (an argv)")
    return settings


def parse_revision(body):
    """The revision in the app's answer: JSON ``{"revision": 19}``, ``revision 19`` or ``19``."""
    text = body.strip()
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict) and "revision" in document:
        try:
            return int(document["revision"])
        except (TypeError, ValueError):
            return None
    if isinstance(document, int) and not isinstance(document, bool):
        return document
    match = REVISION_IN_TEXT.search(text)
    if match:
        return int(match.group(1))
    return None


def _url(settings):
    address = settings["address"]
    if ":" in address:  # IPv6
        address = f"[{address}]"
    return "http://{}:{}/".format(address, settings["port"])


def _http_get(address, port):
    """``GET /`` over a plain socket (HTTP/1.0): ``(status, body)``.

    The app is local, so no proxy and no redirects apply; urllib would cost about 25 ms of
    import on every host of every run, more than the request itself.
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    host = "[%s]" % address if ":" in address else address
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(HTTP_TIMEOUT)
        sock.connect((address, int(port)))
        sock.sendall(("GET / HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n"
                      % (host, port)).encode("ascii"))
        chunks, size = [], 0
        while size < MAX_ANSWER:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    words = head.split(b"\r\n", 1)[0].decode("latin-1").split()
    if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
        raise OSError("not an HTTP answer: %r" % head[:80])
    return int(words[1]), body[:65536].decode("utf-8", "replace")


def served_revision(settings):
    """Ask the app which revision it serves. Raises AppError when it does not answer."""
    url = _url(settings)
    try:
        status, body = _http_get(settings["address"], settings["port"])
    except (OSError, ValueError) as error:
        raise AppError(f"app at {url} does not answer: {error}") from None
    if status != 200:
        raise AppError(f"app at {url} answered HTTP {status}")
    revision = parse_revision(body)
    if revision is None:
        raise AppError(f"app at {url} answered without a revision: {body[:200]!r}")
    return revision


def _pid_from_file(path):
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _alive(pid):
    """True while ``pid`` is a live process (a zombie counts as gone and is reaped if ours)."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[-1].split()
        if fields and fields[0] in ("Z", "X"):
            return False
    except OSError:
        pass
    return True


def _is_app(pid, command):
    """Whether ``pid`` runs the configured command, so a stale pidfile never kills a stranger.

    Without /proc there is no way to tell, and the pidfile is trusted.
    """
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = [part.decode("utf-8", "replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return os.path.isdir("/proc") is False
    if argv == command:
        return True
    markers = [part for part in command[1:] if not part.startswith("-")] or command[:1]
    return any(marker in argv for marker in markers)


def running_pid(settings):
    """The app's pid from its pidfile when that process is alive and is the app, else None."""
    pid = _pid_from_file(settings["pidfile"])
    if pid is None or pid <= 1 or not _alive(pid) or not _is_app(pid, settings["command"]):
        return None
    return pid


def stop(settings):
    """SIGTERM the app, wait up to STOP_WAIT, then SIGKILL. Returns the pid stopped or None."""
    pid = running_pid(settings)
    if pid is None:
        return None
    for sent, wait in ((signal.SIGTERM, STOP_WAIT), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sent)
        except OSError as error:
            if error.errno == errno.ESRCH:
                return pid
            raise AppError(f"cannot stop app pid {pid}: {error.strerror}") from None
        deadline = time.time() + wait
        while time.time() < deadline:
            if not _alive(pid):
                return pid
            time.sleep(POLL_INTERVAL)
    raise AppError(f"app pid {pid} did not stop after SIGTERM and SIGKILL")


def _log_tail(path, lines=5):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4096))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return " | ".join(line for line in text.splitlines()[-lines:] if line.strip())


def start(settings, revision):
    """Start ``command`` detached (own session, no shell, output to the log), then wait until
    the app answers ``revision``. Raises AppError with the log's last lines when it does not.
    """
    log_path = settings.get("log") or os.devnull
    log_folder = os.path.dirname(log_path)
    if log_folder and not os.path.isdir(log_folder):
        os.makedirs(log_folder)
    with open(log_path, "ab") as log:
        try:
            process = subprocess.Popen(
                settings["command"], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, close_fds=True, start_new_session=True,
                cwd=os.path.dirname(settings["revision_file"]) or None)
        except OSError as error:
            problem = error.strerror or error
            raise AppError(f"cannot start {settings['command'][0]}: {problem}") from None
    deadline = time.time() + START_WAIT
    last_problem = "no answer yet"
    while time.time() < deadline:
        if process.poll() is not None:
            raise AppError(f"app exited with status {process.returncode} right after starting; "
                           f"log: {_log_tail(log_path)}")
        try:
            answered = served_revision(settings)
        except AppError as error:
            last_problem = str(error)
        else:
            if answered == revision:
                return process.pid
            last_problem = f"app answers revision {answered}, not {revision}"
        time.sleep(POLL_INTERVAL)
    raise AppError(f"app did not answer revision {revision} within {START_WAIT:.0f}s "
                   f"({last_problem}); log: {_log_tail(log_path)}")


def _write_revision(path, revision):
    """Write the revision file atomically, so the app never reads half a number."""
    folder = os.path.dirname(path)
    if folder and not os.path.isdir(folder):
        os.makedirs(folder)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as handle:
        handle.write(f"{revision}\n")
    os.rename(temporary, path)


def _revision_input(request):
    value = request.args.get("revision")
    if isinstance(value, bool):
        raise AppError(f"revision must be a whole number, got {value!r}")
    if isinstance(value, int):
        revision = value
    elif isinstance(value, str) and re.match(r"\d+\Z", value.strip()):
        revision = int(value.strip())
    else:
        raise AppError(f"revision must be a whole number, got {value!r}")
    if revision < 0:
        raise AppError(f"revision must not be negative, got {revision}")
    return revision


def _upgrade(request):
    revision = _revision_input(request)
    settings = _settings(request)
    pid = running_pid(settings)
    try:
        previous = served_revision(settings)
    except AppError:
        previous = None
    if previous == revision:
        return {"revision": revision, "previous": previous, "changed": False, "pid": pid}
    _write_revision(settings["revision_file"], revision)
    stop(settings)
    new_pid = start(settings, revision)
    return {"revision": revision, "previous": previous, "changed": True,
            "pid": running_pid(settings) or new_pid}


def upgrade(request):
    """Deploy ``revision`` and restart the app unless it already serves that revision."""
    try:
        return _upgrade(request)
    except AppError as error:
        request.abort(str(error))
        return {}


def status(request):
    """The revision the running app answers with (Aborted when it does not answer)."""
    try:
        settings = _settings(request)
        return {"revision": served_revision(settings), "pid": running_pid(settings)}
    except AppError as error:
        request.abort(str(error))
        return {}
