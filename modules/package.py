"""package: report, install, remove and upgrade an operating-system package.

Pushed to hosts and run there: standard library only, Python 3.6 compatible.

The package manager is detected on the host: apt/dpkg (Debian, Ubuntu), else dnf, else yum
(both over rpm). Every action reads the installed version first and acts only when needed,
so a repeated request reports ``changed`` false; check mode asks the manager what it would do
(``apt-get -s``, the candidate version) and changes nothing.

Runs are non-interactive (DEBIAN_FRONTEND=noninteractive, keep changed configuration files:
``--force-confdef --force-confold``), without a shell, bounded in time. A lock held by another
process (an unattended upgrade, an operator's apt) is a quick, clear failure on this host rather
than a hang: apt waits ``lock_timeout`` seconds (``DPkg::Lock::Timeout``), dnf/yum are refused
when their lock file names a live process.

host.json ``config.package`` (all optional): ``lock_timeout`` (seconds, default 5),
``apt_options`` (extra ``-o Key=Value`` for apt-get and apt-cache, e.g. a private source list),
``manager`` (``apt``, ``dnf`` or ``yum``: skip detection).
"""

import os
import re

from orch_runtime import Abort, RUN_PATH, RunTimeout, run, which

RUN_TIMEOUT = 600  # seconds one package manager run may take
OUTPUT_CAP = 256 * 1024  # bytes of a run's output read back
LOCK_TIMEOUT = 5
NAME_PATTERN = "\\A[A-Za-z0-9][A-Za-z0-9+._-]*(:[A-Za-z0-9_-]+)?\\Z"
VERSION_PATTERN = "\\A[A-Za-z0-9][A-Za-z0-9.+~:_-]*\\Z"
APT_LOCK_WORDS = ("Could not get lock", "Unable to acquire the dpkg frontend lock",
                  "Unable to lock the administration directory")

_NAME = {"type": "string", "required": True, "prompt": "Package",
         "description": "Package name", "validation": NAME_PATTERN, "maxlength": 128}
_VERSION = {"type": "string", "optional": True, "prompt": "Version",
            "description": "Exact version to install (default: the candidate)",
            "validation": VERSION_PATTERN, "maxlength": 128}
_UPDATE = {"type": "boolean", "optional": True, "default": False, "prompt": "Update cache",
           "description": "Refresh the package lists first (apt-get update, dnf makecache)"}

_OUTPUTS = {
    "version_before": {"display_as": "Version before",
                       "description": "Installed version before (empty: absent)", "default": ""},
    "version": {"display_as": "Version", "description": "Installed version (empty: absent; in "
                "check mode: what it would be)", "default": ""},
    "changed": {"display_as": "Changed", "description": "Whether anything changed (or would)",
                "default": False},
    "manager": {"display_as": "Manager", "description": "apt, dnf or yum", "default": None},
}


def _action(description, inputs, read_only=False):
    spec = {"description": description, "check_mode": True, "inputs": inputs,
            "outputs": _OUTPUTS, "aggregate": [{"function": "summary", "args": ["version"]}]}
    if read_only:
        spec["read_only"] = True
    else:
        spec["needs_root"] = True
    return spec


AGENT = {
    "name": "package",
    "description": "Install, remove and upgrade packages through apt/dpkg or dnf/yum/rpm",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "timeout": 120,
    "actions": {
        "status": _action("The installed version (empty when absent)",
                          {"name": dict(_NAME)}, read_only=True),
        "install": _action("Install the package (a given version, else the candidate) "
                           "unless it is installed",
                           {"name": dict(_NAME), "version": dict(_VERSION),
                            "update_cache": dict(_UPDATE)}),
        "remove": _action("Remove the package if it is installed", {"name": dict(_NAME)}),
        "upgrade": _action("Install the candidate version (installs an absent package)",
                           {"name": dict(_NAME), "update_cache": dict(_UPDATE)}),
    },
}


def _run(argv, extra_env=None, timeout=RUN_TIMEOUT):
    """``(rc, output)`` through the kit's ``run``: no shell, minimal environment, own session,
    stderr into stdout, output to a file (a daemon a maintainer script starts must not hold a
    pipe open)."""
    environ = {"PATH": RUN_PATH, "LANG": "C", "LC_ALL": "C", "TERM": "dumb",
               "HOME": os.environ.get("HOME", "/root")}
    environ.update(extra_env or {})
    try:
        result = run(argv, timeout=timeout, env=environ, cap=OUTPUT_CAP, merge_output=True)
    except RunTimeout:
        raise Abort("%s did not finish within %ds" % (argv[0], timeout)) from None
    return result.rc, result.stdout


def _tail(text, lines=6):
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())


def _settings(request):
    settings = request.host.config("package") or {}
    options = settings.get("apt_options") or []
    if not isinstance(options, list) or not all(
            isinstance(option, str) and "=" in option and "\x00" not in option
            for option in options):
        raise Abort("config.package.apt_options must be a list of Key=Value strings")
    try:
        lock_timeout = int(settings.get("lock_timeout", LOCK_TIMEOUT))
    except (TypeError, ValueError):
        raise Abort("config.package.lock_timeout must be a whole number of seconds") \
            from None
    return {"apt_options": options, "lock_timeout": max(0, lock_timeout),
            "manager": settings.get("manager")}


class Apt(object):
    """dpkg for what is installed, apt-get to change it, apt-cache for candidates."""

    kind = "apt"

    def __init__(self, settings):
        self.options = []
        for option in settings["apt_options"]:
            self.options += ["-o", option]
        self.lock_timeout = settings["lock_timeout"]

    def installed(self, name):
        rc, text = _run(["dpkg-query", "-W", "-f", "${Status}\t${Version}\n", name])
        if rc != 0:
            return ""
        for line in text.splitlines():
            status, _, version = line.partition("\t")
            if status.split()[-1:] == ["installed"]:
                return version.strip()
        return ""

    def candidate(self, name):
        rc, text = _run(["apt-cache"] + self.options + ["policy", name])
        match = re.search(r"^\s*Candidate:\s*(\S+)", text, re.MULTILINE)
        if rc != 0 or not match or match.group(1) == "(none)":
            return ""
        return match.group(1)

    def has_version(self, name, version):
        rc, text = _run(["apt-cache"] + self.options + ["madison", name])
        return any(line.split("|")[1].strip() == version
                   for line in text.splitlines() if line.count("|") >= 2)

    def _apt_get(self, words):
        argv = (["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=%d" % self.lock_timeout,
                 "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]
                + self.options + words)
        rc, text = _run(argv, {"DEBIAN_FRONTEND": "noninteractive",
                               "APT_LISTCHANGES_FRONTEND": "none"})
        if rc != 0:
            if any(word in text for word in APT_LOCK_WORDS):
                lock = re.search(r"(Could not get lock [^\n]*)", text)
                raise Abort("package manager is locked by another process (waited %ds): %s"
                            % (self.lock_timeout, lock.group(1).strip() if lock
                               else _tail(text, 2)))
            raise Abort("apt-get %s failed (exit %d): %s" % (words[0], rc, _tail(text)))
        return text

    def update(self):
        self._apt_get(["update"])

    def install(self, name, version):
        # An exact version asked for may be older than the installed one: allow that.
        words = ["install", "--no-install-recommends"] + (["--allow-downgrades"] if version
                                                          else [])
        self._apt_get(words + [name + ("=" + version if version else "")])

    def remove(self, name):
        self._apt_get(["remove", name])

    def would_install(self, name, version):
        """The version ``apt-get -s install`` would put in place (check mode)."""
        target = name + ("=" + version if version else "")
        rc, text = _run(["apt-get", "-s", "-q", "--no-install-recommends"] + self.options
                        + ["install", target], {"DEBIAN_FRONTEND": "noninteractive"})
        if rc != 0:
            raise Abort("apt-get -s install %s failed (exit %d): %s"
                        % (target, rc, _tail(text)))
        bare = name.split(":")[0]
        match = re.search(r"^Inst %s(?::\S+)? (?:\[[^\]]*\] )?\((\S+)" % re.escape(bare), text,
                          re.MULTILINE)
        return match.group(1) if match else self.installed(name)


class Rpm(object):
    """rpm for what is installed, dnf or yum to change it."""

    LOCK_FILES = ("/var/run/yum.pid", "/var/cache/dnf/metadata_lock.pid",
                  "/var/lib/dnf/rpmdb_lock.pid", "/var/cache/dnf/download_lock.pid")

    def __init__(self, kind):
        self.kind = kind

    def installed(self, name):
        rc, text = _run(["rpm", "-q", "--qf", "%{EPOCH}:%{VERSION}-%{RELEASE}\n", name])
        if rc != 0:
            return ""
        line = text.strip().splitlines()[-1] if text.strip() else ""
        if line.startswith("(none):"):
            line = line[len("(none):"):]
        return line

    def candidate(self, name):
        rc, text = _run([self.kind, "-q", "repoquery", "--latest-limit=1", "--qf",
                         "%{epoch}:%{version}-%{release}", name]
                        if self.kind == "dnf" else
                        ["repoquery", "--qf", "%{epoch}:%{version}-%{release}", name])
        lines = [line.strip() for line in text.splitlines() if re.match(r"^\d+:", line.strip())]
        if rc != 0 or not lines:
            return ""
        version = lines[-1]
        return version[2:] if version.startswith("0:") else version

    def has_version(self, name, version):
        return True  # dnf/yum say so themselves when asked to install it

    def _locked_by(self):
        for path in self.LOCK_FILES:
            try:
                with open(path) as handle:
                    pid = int(handle.read().strip() or 0)
            except (OSError, ValueError):
                continue
            if pid > 0 and pid != os.getpid():
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    continue
                except OSError:
                    pass
                return "%s names live process %d" % (path, pid)
        return None

    def _manager(self, words):
        holder = self._locked_by()
        if holder:
            raise Abort("package manager is locked by another process: %s" % holder)
        argv = [self.kind, "-y", "-q"] + (["--setopt=exit_on_lock=True"]
                                         if self.kind == "yum" else []) + words
        rc, text = _run(argv)
        if rc != 0:
            raise Abort("%s %s failed (exit %d): %s" % (self.kind, words[0], rc,
                                                         _tail(text)))
        return text

    def update(self):
        self._manager(["makecache"])

    def install(self, name, version):
        self._manager(["install", name + ("-" + version if version else "")])

    def remove(self, name):
        self._manager(["remove", name])

    def would_install(self, name, version):
        return version or self.candidate(name)


def _manager(settings):
    forced = settings["manager"]
    if forced == "apt" or (not forced and which("dpkg-query") and which("apt-get")):
        return Apt(settings)
    if forced in ("dnf", "yum"):
        return Rpm(forced)
    if not forced and which("rpm"):
        if which("dnf"):
            return Rpm("dnf")
        if which("yum"):
            return Rpm("yum")
    raise Abort("no supported package manager here (apt/dpkg, dnf or yum)")


def _same_version(installed, wanted, kind="apt"):
    """An installed version matches a wanted one: exactly for dpkg; for rpm also without the
    epoch or the release ("1.2" matches "1:1.2-3.el9")."""
    if installed == wanted:
        return True
    if kind == "apt":
        return False
    bare = installed.split(":", 1)[-1]
    return bare == wanted or bare.rsplit("-", 1)[0] == wanted


def _apply(request, verb):
    args = request.args
    name = args["name"]
    settings = _settings(request)
    manager = _manager(settings)
    check = getattr(request, "check_mode", False)
    before = manager.installed(name)
    result = {"version_before": before, "version": before, "changed": False,
              "manager": manager.kind}
    if verb == "status":
        return result
    if verb == "remove":
        if before:
            result["changed"] = True
            result["version"] = ""
            if not check:
                manager.remove(name)
                result["version"] = manager.installed(name)
                if result["version"]:
                    raise Abort("removed %s but version %s is still installed"
                                % (name, result["version"]))
        return result
    if args.get("update_cache") and not check:
        manager.update()
    version = args.get("version") if verb == "install" else None
    if verb == "install":
        if before and (not version or _same_version(before, version, manager.kind)):
            return result
        if version and not manager.has_version(name, version):
            raise Abort("version %s of %s is not available" % (version, name))
    else:  # upgrade
        candidate = manager.candidate(name)
        if not candidate:
            raise Abort("no candidate version of %s (unknown package?)" % name)
        if before and _same_version(before, candidate, manager.kind):
            return result
    result["changed"] = True
    if check:
        result["version"] = manager.would_install(name, version)
        return result
    manager.install(name, version)
    result["version"] = manager.installed(name)
    now = result["version"]
    if not now or (version and not _same_version(now, version, manager.kind)):
        raise Abort("installed %s but the installed version is %r" % (
            name, result["version"] or "(none)"))
    result["changed"] = result["version"] != before
    return result


def _serve(verb):
    return lambda request: _apply(request, verb)


#: Each declared action's function (the runtime's explicit binding; see docs/modules.md).
ACTIONS = {verb: _serve(verb) for verb in AGENT["actions"]}
