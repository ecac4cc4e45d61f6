"""orchhost: set a host up for orch: /etc/orch and /var/log/orch with the right owners and modes.

Pushed to hosts: standard library only, Python 3.6+. ``orch host init`` calls ``init`` (as root:
log in as root, or with become). What it makes, each only when missing, and fixes when its owner
or mode is wrong (an existing file's content is never replaced, except ``callers`` when the
controller sends a new map):

    /etc/orch/                root:root 0755   the state folder the runtime uses when it exists
    /etc/orch/host.json       root:root 0644   {"classes": [], "config": {}, "facts": {}}
    /etc/orch/classes         root:root 0644   one class per line
    /etc/orch/facts.d/        root:root 0755   external facts (*.json, *.txt)
    /etc/orch/policy/         root:root 0755   actionpolicy files, 0644 (DEFAULT_POLICIES)
    /etc/orch/callers         root:root 0644   "SHA256:<fingerprint> <operator>" lines
    /var/log/orch/            root:root 0750   the audit log's folder when the runtime is root
    /var/log/orch/audit.log   root:root 0640

The runtime trusts policy and callers files only when root owns them and neither group nor
others can write them (orch/runtime/core.py ``untrusted_file``), which is what this makes.
Idempotent: a second run reports ``changed`` false. In check mode nothing is written and the
reply lists what would be. ``ROOT`` is module-level so an in-process test can aim it at a
temporary folder; no input changes it.
"""

import json
import os

AGENT = {
    "name": "orchhost",
    "description": "Set a host up for orch: /etc/orch, /var/log/orch, callers, default policies",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "timeout": 30,
    "actions": {
        "init": {
            "description": "Create /etc/orch and /var/log/orch with root-only write access",
            "check_mode": True,
            "needs_root": True,
            "inputs": {
                "callers": {
                    "type": "list", "required": False, "prompt": "Callers",
                    "description": "Operator map lines 'SHA256:<key fingerprint> <name>'; "
                                   "when given, /etc/orch/callers holds exactly these",
                    "validation": "^SHA256:[A-Za-z0-9+/]{43} [A-Za-z0-9_.@-]{1,64}$",
                    "maxlength": 1000,
                },
            },
            "outputs": {
                "changed": {"display_as": "Changed", "description": "Whether anything was made or fixed",
                            "default": False},
                "created": {"display_as": "Created", "description": "Paths made", "default": []},
                "fixed": {"display_as": "Fixed", "description": "Paths whose owner, mode or "
                          "content was set right", "default": []},
                "state_dir": {"display_as": "State folder", "description": "/etc/orch",
                              "default": None},
                "audit_log": {"display_as": "Audit log", "description": "The root audit log",
                              "default": None},
            },
            "aggregate": [{"function": "boolean_summary",
                           "args": ["changed", {"true": "changed", "false": "unchanged"}]}],
        },
    },
}

#: The file system root everything is made under ("/" on a host; tests aim it elsewhere).
ROOT = "/"

POLICY_HEADER = """\
# orch actionpolicy for the %s module (written by 'orch host init'; edit freely, it is kept).
# Lines: allow|deny<TAB>callers<TAB>actions<TAB>facts<TAB>classes (TAB-separated, '*' = any);
# the first matching line wins, else the default. Callers are operator names from
# /etc/orch/callers (or login users). To let only named operators change this module:
#   allow<TAB>alice bob<TAB>*<TAB>*<TAB>*
#   policy default deny
"""

#: The policies a new host starts with: every module that changes the host gets a file that
#: allows everyone (orch's open mode) and shows how to narrow it; restricted mode (issue 17)
#: replaces them with deny-by-default.
DEFAULT_POLICIES = dict(
    (module, POLICY_HEADER % module + "policy default allow\n")
    for module in ("appmgr", "command", "file", "haproxy", "package", "service", "orchhost")
)

CALLERS_HEADER = ("# operators by SSH key (written by 'orch host init'): "
                  "SHA256:<fingerprint> <name>\n")
CLASSES_HEADER = "# classes of this host, one per line (orch -C / -S select on them)\n"


class Plan(object):
    """What init makes or fixes; applies it unless in check mode."""

    def __init__(self, check_mode):
        self.check_mode = check_mode
        self.created = []
        self.fixed = []

    def folder(self, path, mode):
        if not os.path.isdir(path):
            self.created.append(path)
            if not self.check_mode:
                os.mkdir(path, mode)
                os.chmod(path, mode)  # mkdir's mode is masked by the umask
                os.chown(path, 0, 0)
            return
        self._owner_and_mode(path, mode)

    def file(self, path, mode, content, replace=False):
        """Make ``path`` with ``content`` when missing (or differing, with ``replace``)."""
        if not os.path.exists(path):
            self.created.append(path)
            if not self.check_mode:
                self._write(path, mode, content)
            return
        if replace and _read(path) != content:
            self.fixed.append(path)
            if not self.check_mode:
                self._write(path, mode, content)
            return
        self._owner_and_mode(path, mode)

    def _owner_and_mode(self, path, mode):
        info = os.lstat(path)
        if os.path.islink(path):
            raise HostError("%s is a symbolic link: remove it, orch will not follow it" % path)
        if info.st_uid == 0 and info.st_gid == 0 and info.st_mode & 0o7777 == mode:
            return
        self.fixed.append(path)
        if not self.check_mode:
            os.chown(path, 0, 0)
            os.chmod(path, mode)

    def _write(self, path, mode, content):
        temporary = "%s.orch-%d.tmp" % (path, os.getpid())
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(content)
            os.chown(temporary, 0, 0)
            os.chmod(temporary, mode)
            os.rename(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


class HostError(Exception):
    """Something on the host stops init; the message says what to do."""


def _read(path):
    with open(path, "r") as handle:
        return handle.read()


def _under_root(path):
    return os.path.join(ROOT, path.lstrip("/"))


def _callers_text(lines):
    names = {}
    for line in lines:
        fingerprint, name = line.split(" ", 1)
        names[fingerprint] = name
    return CALLERS_HEADER + "".join("%s %s\n" % (key, names[key]) for key in sorted(names))


def init(request):
    """Make (or set right) /etc/orch and /var/log/orch; ``changed`` false when all was right."""
    if os.geteuid() != 0:
        request.abort("orchhost#init must run as root (uid %d here): log in as root, or run "
                      "'orch host init -b' with become" % os.geteuid())
        return {}
    etc = _under_root("/etc/orch")
    log = _under_root("/var/log/orch")
    for parent in (os.path.dirname(etc), os.path.dirname(log)):
        if not os.path.isdir(parent):
            request.abort("%s does not exist: is this the root of a host?" % parent)
            return {}
    plan = Plan(request.check_mode)
    callers = request.args.get("callers")
    try:
        plan.folder(etc, 0o755)
        # In check mode the folder may not exist yet: what is inside is then all "created".
        plan.file(os.path.join(etc, "host.json"), 0o644,
                  json.dumps({"classes": [], "config": {}, "facts": {}}, indent=1) + "\n")
        plan.file(os.path.join(etc, "classes"), 0o644, CLASSES_HEADER)
        plan.folder(os.path.join(etc, "facts.d"), 0o755)
        plan.folder(os.path.join(etc, "policy"), 0o755)
        for module in sorted(DEFAULT_POLICIES):
            plan.file(os.path.join(etc, "policy", module + ".policy"), 0o644,
                      DEFAULT_POLICIES[module])
        plan.file(os.path.join(etc, "callers"), 0o644, _callers_text(callers or []),
                  replace=callers is not None)
        plan.folder(log, 0o750)
        plan.file(os.path.join(log, "audit.log"), 0o640, "")
    except HostError as error:
        request.abort(str(error))
        return {}
    except OSError as error:
        request.abort("cannot set up %s: %s" % (
            getattr(error, "filename", None) or etc, error.strerror or error))
        return {}
    return {
        "changed": bool(plan.created or plan.fixed),
        "created": plan.created,
        "fixed": plan.fixed,
        "state_dir": etc,
        "audit_log": os.path.join(log, "audit.log"),
    }
