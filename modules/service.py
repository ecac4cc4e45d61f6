"""service: start, stop, restart, reload, enable and disable a system service.

Pushed to hosts and run there: standard library only, Python 3.6 compatible.

The init system is detected on the host: systemd when PID 1 is systemd (``/run/systemd/system``
exists, as sd_booted() checks, or /proc/1/comm says so), else SysV init: the script
``/etc/init.d/NAME`` and its LSB exit codes for ``status`` (0 running, 1-3 stopped), S-links in
``/etc/rc[2-5].d`` for "enabled", and ``update-rc.d`` (Debian) or ``chkconfig`` (Red Hat) to
change that. Every action reads the state first and acts only when needed, so a repeated
request reports ``changed`` false; ``restart`` and ``reload`` always act (that is what they are
asked for). In check mode nothing runs but the state queries.

Commands run without a shell, with a minimal environment, in their own session, with output to
a temporary file rather than a pipe: an init script's daemon that keeps its inherited output
open must not hold this action until its timeout.
"""

import glob
import os

from orch_runtime import Abort, RUN_PATH, RunTimeout, run, which

RUN_TIMEOUT = 90  # seconds one init script or systemctl call may take
OUTPUT_CAP = 64 * 1024  # bytes of a command's output read back
ENVIRONMENT = {"PATH": RUN_PATH, "LANG": "C", "LC_ALL": "C", "TERM": "dumb"}
NAME_PATTERN = "\\A[A-Za-z0-9@._:-]+\\Z"
INIT_D = "/etc/init.d"
RC_FOLDERS = ("/etc/rc%d.d", "/etc/rc.d/rc%d.d")
RUNLEVELS = (2, 3, 4, 5)

_NAME = {"type": "string", "required": True, "prompt": "Service",
         "description": "Service name (systemd unit or /etc/init.d script)",
         "validation": NAME_PATTERN, "maxlength": 128}

_OUTPUTS = {
    "state_before": {"display_as": "State before", "description": "running, stopped or unknown",
                     "default": None},
    "state": {"display_as": "State", "description": "running, stopped or unknown (in check "
              "mode: what it would be)", "default": None},
    "enabled_before": {"display_as": "Enabled before", "description": "Started at boot before",
                       "default": None},
    "enabled": {"display_as": "Enabled", "description": "Started at boot", "default": None},
    "changed": {"display_as": "Changed", "description": "Whether anything changed (or would)",
                "default": False},
    "init": {"display_as": "Init", "description": "systemd or sysv", "default": None},
}


def _action(description, read_only=False):
    spec = {"description": description, "check_mode": True,
            "inputs": {"name": dict(_NAME)}, "outputs": _OUTPUTS,
            "aggregate": [{"function": "summary", "args": ["state"]}]}
    if read_only:
        spec["read_only"] = True
    else:
        spec["needs_root"] = True
    return spec


AGENT = {
    "name": "service",
    "description": "Manage system services through systemd or SysV init, idempotently",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "timeout": 120,
    "actions": {
        "status": _action("Whether the service runs and starts at boot", read_only=True),
        "start": _action("Start the service unless it runs"),
        "stop": _action("Stop the service if it runs"),
        "restart": _action("Restart the service (start it when stopped)"),
        "reload": _action("Reload the service's configuration (start it when stopped)"),
        "enable": _action("Start the service at boot"),
        "disable": _action("Do not start the service at boot"),
    },
}


def _run(argv):
    """``(rc, output)`` of ``argv`` through the kit's ``run``: no shell, minimal environment,
    bounded, own session, stderr into stdout."""
    try:
        result = run(argv, timeout=RUN_TIMEOUT, env=ENVIRONMENT, cap=OUTPUT_CAP,
                     merge_output=True)
    except RunTimeout:
        raise Abort("%s did not finish within %ds" % (" ".join(argv), RUN_TIMEOUT)) from None
    return result.rc, result.stdout.strip()


def _tail(text, lines=4):
    return " | ".join(line for line in text.splitlines()[-lines:] if line.strip())


def systemd_booted():
    """Whether PID 1 is systemd (sd_booted's test, then /proc/1/comm)."""
    if os.path.isdir("/run/systemd/system"):
        return True
    try:
        with open("/proc/1/comm") as handle:
            return handle.read().strip() == "systemd"
    except OSError:
        return False


class Systemd(object):
    """A systemd unit through systemctl."""

    kind = "systemd"

    def __init__(self, name):
        self.name = name
        # "LoadState=..." (no --value: systemd before 230, e.g. CentOS 7, lacks it)
        rc, text = _run(["systemctl", "show", "-p", "LoadState", name])
        if text.strip().rpartition("=")[2] == "not-found":
            raise Abort("no service %s (systemd has no such unit)" % name)

    def state(self):
        rc, text = _run(["systemctl", "is-active", self.name])
        word = text.splitlines()[-1].strip() if text else ""
        if word in ("active", "reloading", "activating", "deactivating"):
            return "running"
        if word in ("inactive", "failed"):
            return "stopped"
        return "unknown"

    def enabled(self):
        rc, text = _run(["systemctl", "is-enabled", self.name])
        word = text.splitlines()[-1].strip() if text else ""
        return word in ("enabled", "enabled-runtime", "alias", "indirect", "generated")

    def act(self, verb):
        _checked(["systemctl", verb, self.name])


class SysV(object):
    """A SysV init script and its rc links."""

    kind = "sysv"

    def __init__(self, name):
        self.name = name
        self.script = os.path.join(INIT_D, name)
        if not (os.path.isfile(self.script) and os.access(self.script, os.X_OK)):
            raise Abort("no service %s (no executable %s)" % (name, self.script))

    def state(self):
        rc, _ = _run([self.script, "status"])
        if rc == 0:
            return "running"
        if rc in (1, 2, 3):
            return "stopped"
        return "unknown"

    def links(self, prefix):
        found = []
        for pattern in RC_FOLDERS:
            for level in RUNLEVELS:
                found.extend(glob.glob(os.path.join(pattern % level, prefix + "[0-9][0-9]"
                                                    + glob.escape(self.name))))
        return found

    def enabled(self):
        return bool(self.links("S"))

    def act(self, verb):
        if verb in ("start", "stop", "restart", "reload"):
            _checked([self.script, verb])
        elif which("update-rc.d"):
            if verb == "enable" and not self.links("S") and not self.links("K"):
                _checked(["update-rc.d", self.name, "defaults"])
            if verb == "disable" or not self.enabled():
                _checked(["update-rc.d", self.name, verb])
        elif which("chkconfig"):
            if verb == "enable":
                _checked(["chkconfig", "--add", self.name])
            _checked(["chkconfig", self.name, "on" if verb == "enable" else "off"])
        else:
            raise Abort("cannot %s %s: neither update-rc.d nor chkconfig is installed"
                        % (verb, self.name))


def _checked(argv):
    rc, text = _run(argv)
    if rc != 0:
        raise Abort("%s exited with %d%s" % (" ".join(argv), rc,
                                             ": " + _tail(text) if text else ""))


def _service(name):
    return Systemd(name) if systemd_booted() else SysV(name)


# What each action wants: (state wanted or None, enabled wanted or None, always acts).
PLANS = {
    "status": (None, None, False),
    "start": ("running", None, False),
    "stop": ("stopped", None, False),
    "restart": ("running", None, True),
    "reload": ("running", None, True),
    "enable": (None, True, False),
    "disable": (None, False, False),
}


def _apply(request, verb):
    name = request.args["name"]
    service = _service(name)
    state_before, enabled_before = service.state(), service.enabled()
    want_state, want_enabled, always = PLANS[verb]
    check = getattr(request, "check_mode", False)
    changed = False
    state, enabled = state_before, enabled_before
    if want_state is not None and (always or state_before != want_state):
        changed, state = True, want_state
        if not check:
            if verb in ("restart", "reload") and state_before != "running":
                service.act("start")
            else:
                service.act(verb)
            state = service.state()
            if state != want_state:
                raise Abort("%s %s ran but the service is %s" % (verb, name, state))
    if want_enabled is not None and enabled_before != want_enabled:
        changed, enabled = True, want_enabled
        if not check:
            service.act(verb)
            enabled = service.enabled()
            if enabled != want_enabled:
                raise Abort("%s %s ran but the service is still %s" % (
                    verb, name, "enabled" if enabled else "disabled"))
    return {"state_before": state_before, "state": state, "enabled_before": enabled_before,
            "enabled": enabled, "changed": changed, "init": service.kind}


def _serve(verb):
    return lambda request: _apply(request, verb)


#: Each declared action's function (the runtime's explicit binding; see docs/modules.md).
ACTIONS = {verb: _serve(verb) for verb in AGENT["actions"]}
