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
With ``restricted`` (``orch host init --restricted``, docs/trust.md) it also makes:

    /usr/local/lib/orch/gate.py  root:root 0644  orch's gate (orch/runtime/gate.py), replaced
    /usr/local/lib/orch/gate.pyc root:root 0644  gate.py compiled by this python (what sshd
                                                 runs: no compile per login; same code)
    /etc/orch/trusted.d/<sha256> root:root 0644  one file per trusted runtime / module hash
    policy/{command,file,package,orchhost}.policy  deny but for the named operators (an
                                                   untouched open default is replaced)
    /etc/sudoers.d/orch-gate     root:root 0440  lets the login user run only the gate as root,
                                                 keeping SSH_ORIGINAL_COMMAND (framing only;
                                                 checked with visudo -c before it is written)
    ~<login user>/.ssh/authorized_keys  each operator's key line becomes
        restrict,command="/usr/bin/sudo -n -- <this python> -I -S /usr/local/lib/orch/gate.pyc
        <operator>" <key>    (sudo at once: the gate's interpreter starts only once per login)

With ``root_login`` too (``--restricted --root-login``) the orch key logs in as root, so no sudo
runs per login and the forced command sits in root's own file: first ``sshd -T -C user=root,...``
(the running sshd's own config) must let root log in with a key, else nothing is changed; then

    root's authorized_keys (sshd's first AuthorizedKeysFile; /root/.ssh/authorized_keys)
                                 root:root 0600 (folder 0700)  each operator's key as
        restrict,command="<this python> -I -S /usr/local/lib/orch/gate.pyc <operator>" <key>
    ~<login user>/.ssh/authorized_keys  those keys' lines removed (the key no longer logs in
                                        as the login user)
    /etc/sudoers.d/orch-gate     removed when an earlier sudo-variant init left it

``trust`` adds hashes to /etc/orch/trusted.d/ (``orch host trust``).

Idempotent: a second run reports ``changed`` false. In check mode nothing is written and the
reply lists what would be. ``ROOT`` is module-level so an in-process test can aim it at a
temporary folder; no input changes it.
"""

import json
import os
import pwd
import re
import sys

TRUSTED_INPUT = {
    "type": "list", "required": False, "prompt": "Trusted hashes",
    "description": "'<sha256 hex> <what>' lines: runtime and module sources the gate accepts",
    "validation": "^[0-9a-f]{64} [A-Za-z0-9_.:@-]{1,100}$",
    "maxlength": 1000,
}

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
                "restricted": {
                    "type": "boolean", "required": False, "prompt": "Restricted",
                    "description": "Also install the gate, trusted.d and the forced command",
                },
                "root_login": {
                    "type": "boolean", "required": False, "prompt": "Root login",
                    "description": "restricted: the orch key logs in as root (root's own "
                                   "authorized_keys, no sudo rule); sshd must allow it",
                },
                "gate": {
                    "type": "string", "required": False, "prompt": "Gate source",
                    "description": "orch/runtime/gate.py (masked in the audit line for its "
                                   "size; its hash is gate_sha256)",
                    "sensitive": True, "maxlength": 64 * 1024,
                },
                "gate_sha256": {
                    "type": "string", "required": False, "prompt": "Gate SHA-256",
                    "description": "sha256 hex of gate", "validation": "^[0-9a-f]{64}$",
                },
                "trusted": TRUSTED_INPUT,
                "allow": {
                    "type": "list", "required": False, "prompt": "Allowed operators",
                    "description": "Who may use command, file, group, package, orchhost and "
                                   "user in restricted mode (default: every operator in keys)",
                    "validation": "^[A-Za-z0-9_.@-]{1,64}$", "maxlength": 100,
                },
                "keys": {
                    "type": "list", "required": False, "prompt": "Operator keys",
                    "description": "'<operator> <key-type> <base64>': the authorized_keys line "
                                   "of that key gets the gate as its forced command",
                    "validation": "^[A-Za-z0-9_.@-]{1,64} [a-z0-9@.-]{3,64} [A-Za-z0-9+/=]{16,}$",
                    "maxlength": 100,
                },
            },
            "outputs": {
                "changed": {"display_as": "Changed", "description": "Whether anything was made or fixed",
                            "default": False},
                "created": {"display_as": "Created", "description": "Paths made", "default": []},
                "fixed": {"display_as": "Fixed", "description": "Paths whose owner, mode or "
                          "content was set right", "default": []},
                "removed": {"display_as": "Removed", "description": "Paths removed (an older "
                            "variant's sudo rule)", "default": []},
                "login_user": {"display_as": "Log in as", "description": "The user orch logs "
                               "in as on this host from now on (ansible_user / ssh User)",
                               "default": None},
                "state_dir": {"display_as": "State folder", "description": "/etc/orch",
                              "default": None},
                "audit_log": {"display_as": "Audit log", "description": "The root audit log",
                              "default": None},
            },
            "aggregate": [{"function": "boolean_summary",
                           "args": ["changed", {"true": "changed", "false": "unchanged"}]},
                          {"function": "summary", "args": ["login_user"]}],
        },
        "trust": {
            "description": "Trust runtime and module hashes (/etc/orch/trusted.d/)",
            "check_mode": True,
            "needs_root": True,
            "inputs": {"trusted": dict(TRUSTED_INPUT, required=True)},
            "outputs": {
                "changed": {"display_as": "Changed", "description": "Whether a hash was added",
                            "default": False},
                "created": {"display_as": "Added", "description": "Files made", "default": []},
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
    for module in ("appmgr", "command", "file", "group", "haproxy", "package", "service",
                   "orchhost", "user")
)

GATE_DIR = "/usr/local/lib/orch"
GATE_PATH = GATE_DIR + "/gate.py"
GATE_CODE = GATE_DIR + "/gate.pyc"  # what the forced command runs (compiled from GATE_PATH)
SUDO = "/usr/bin/sudo"
SSHD = "/usr/sbin/sshd"
#: What restricted mode denies to everyone but the operators named in the policy.
#: Each of these can make its caller root (a command, a sudoers file, a package's scripts, a
#: uid-0 user or membership of group sudo, a policy of its own).
RESTRICTED_MODULES = ("command", "file", "group", "package", "orchhost", "user")
RESTRICTED_POLICY = (POLICY_HEADER.replace("edit freely", "restricted mode; edit freely")
                     + "allow\t%s\t*\t*\t*\npolicy default deny\n")

CALLERS_HEADER = ("# operators by SSH key (written by 'orch host init'): "
                  "SHA256:<fingerprint> <name>\n")
CLASSES_HEADER = "# classes of this host, one per line (orch -C / -S select on them)\n"


class Plan(object):
    """What init makes or fixes; applies it unless in check mode."""

    def __init__(self, check_mode):
        self.check_mode = check_mode
        self.created = []
        self.fixed = []
        self.removed = []

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
    root_keys = None
    if request.args.get("restricted") and request.args.get("root_login"):
        try:  # before anything is made: a host whose sshd refuses root keeps its login user
            root_keys = _under_root(rootlogin_keys_file())
        except HostError as error:
            request.abort("%s; nothing was changed" % error)
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
        if request.args.get("restricted"):
            _restrict(plan, request.args, etc, root_keys)
    except HostError as error:
        request.abort(str(error))
        return {}
    except OSError as error:
        request.abort("cannot set up %s: %s" % (
            getattr(error, "filename", None) or etc, error.strerror or error))
        return {}
    sudo_user = os.environ.get("SUDO_USER")
    return {
        "changed": bool(plan.created or plan.fixed or plan.removed),
        "created": plan.created,
        "fixed": plan.fixed,
        "removed": plan.removed,
        "login_user": "root" if root_keys or not sudo_user else sudo_user,
        "state_dir": etc,
        "audit_log": os.path.join(log, "audit.log"),
    }


def _restrict(plan, args, etc, root_keys=None):
    """The restricted parts of init: the gate, trusted.d, deny policies, forced commands (in
    the login user's authorized_keys with a sudo rule, or in ``root_keys`` for a root login)."""
    import hashlib

    gate, keys = args.get("gate") or "", args.get("keys") or []
    if hashlib.sha256(gate.encode("utf-8")).hexdigest() != args.get("gate_sha256"):
        raise HostError("restricted: gate source missing or not matching gate_sha256")
    if not keys:
        raise HostError("restricted: no operator keys (--caller NAME=PUBLIC-KEY)")
    if not args.get("trusted"):
        raise HostError("restricted: no trusted hashes for the runtime and modules")
    for folder in ("/usr/local", "/usr/local/lib"):
        if not os.path.isdir(_under_root(folder)):  # made when missing, never changed
            plan.folder(_under_root(folder), 0o755)
    plan.folder(_under_root(GATE_DIR), 0o755)
    plan.file(_under_root(GATE_PATH), 0o644, gate, replace=True)
    _compile_gate(plan, gate)
    _trust(plan, args["trusted"], etc)
    operators = " ".join(sorted(set(args.get("allow") or
                                    [line.split(" ", 1)[0] for line in keys])))
    for module in RESTRICTED_MODULES:
        path = os.path.join(etc, "policy", module + ".policy")
        untouched = not os.path.exists(path) or _read(path) == DEFAULT_POLICIES.get(module)
        if untouched:  # an operator's own edits are kept
            plan.file(path, 0o644, RESTRICTED_POLICY % (module, operators), replace=True)
    if root_keys:
        _root_keys(plan, keys, root_keys)  # first: the key keeps a way in should a step fail
        _unforce_login_user(plan, keys)
        _remove_sudo_rule(plan)
        return
    user = _force_gate(plan, keys)
    _sudo_rule(plan, user)


def _compile_gate(plan, gate):
    """gate.pyc from gate.py, by the interpreter the forced command names. sshd then runs
    bytecode: ~3 ms less CPU per login. Written as Python's own .pyc (magic number, then on
    3.7+ an unchecked-hash header, PEP 552), deterministic, so a second init finds it
    unchanged; a .pyc given as the script is run as it is, never checked against gate.py."""
    import marshal

    # importlib's own magic number, from the module every interpreter has loaded at start-up
    magic = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER
    target = _under_root(GATE_CODE)
    text = gate.encode("utf-8")
    code = compile(text, GATE_PATH, "exec", dont_inherit=True)
    if sys.version_info >= (3, 7):
        header = magic + b"\x01\x00\x00\x00" + _sha256_of(text)[:8]
    else:
        header = magic + b"\x00" * 4 + (len(text) & 0xFFFFFFFF).to_bytes(4, "little")
    fresh = header + marshal.dumps(code)
    old = None
    if os.path.exists(target):
        with open(target, "rb") as handle:
            old = handle.read()
    if old == fresh:
        plan._owner_and_mode(target, 0o644)
        return
    (plan.fixed if old is not None else plan.created).append(target)
    if plan.check_mode:
        return
    draft = "%s.orch-%d.tmp" % (target, os.getpid())
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(fresh)
    os.chown(draft, 0, 0)
    os.chmod(draft, 0o644)
    os.rename(draft, target)


def _sha256_of(data):
    import hashlib

    return hashlib.sha256(data).digest()


def _sudo_rule(plan, user):
    """``/etc/sudoers.d/orch-gate``: the gate (and only it) may become root without a password."""
    import subprocess
    import tempfile

    rule = ("# written by 'orch host init --restricted': orch's gate runs as root\n"
            "Cmnd_Alias ORCH_GATE = %s -I -S %s *\n"
            'Defaults!ORCH_GATE env_keep += "SSH_ORIGINAL_COMMAND"\n'
            "%s ALL=(root) NOPASSWD: ORCH_GATE\n" % (sys.executable, GATE_CODE, user))
    path = _under_root("/etc/sudoers.d/orch-gate")
    if not os.path.isdir(os.path.dirname(path)):
        raise HostError("%s does not exist: restricted mode needs sudo" % os.path.dirname(path))
    if os.path.exists(path) and _read(path) == rule:
        plan._owner_and_mode(path, 0o440)
        return
    visudo = next((name for name in ("/usr/sbin/visudo", "/usr/bin/visudo", "/sbin/visudo")
                   if os.path.exists(name)), None)
    if visudo is None:
        raise HostError("visudo not found: cannot check the sudo rule for the gate")
    with tempfile.NamedTemporaryFile("w", suffix=".sudoers") as draft:
        draft.write(rule)
        draft.flush()
        checked = subprocess.run([visudo, "-c", "-q", "-f", draft.name],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if checked.returncode != 0:
        raise HostError("visudo rejects the gate's sudo rule: %s" % checked.stdout.decode(
            "utf-8", "replace").strip())
    plan.file(path, 0o440, rule, replace=True)


def _trust(plan, lines, etc):
    plan.folder(os.path.join(etc, "trusted.d"), 0o755)
    for line in lines:
        digest, what = line.split(" ", 1)
        plan.file(os.path.join(etc, "trusted.d", digest), 0o644, what + "\n")


def _force_gate(plan, keys):
    """Give each operator key's authorized_keys line the gate as its forced command."""
    user = os.environ.get("SUDO_USER")
    if not user or user == "root":
        raise HostError("restricted: run with become (sudo) as the orch login user, so init "
                        "knows whose authorized_keys to restrict")
    entry = pwd.getpwnam(user)
    path = _under_root(os.path.join(entry.pw_dir, ".ssh", "authorized_keys"))
    if os.path.islink(path) or not os.path.isfile(path):
        raise HostError("%s is not a regular file" % path)
    lines = _read(path).splitlines()
    wanted = list(lines)
    for key in keys:
        operator, kind, blob = key.split(" ")
        needle = _key_needle(kind, blob)
        forced = 'restrict,command="%s -n -- %s -I -S %s %s" ' % (
            SUDO, sys.executable, GATE_CODE, operator)
        hits = [index for index, line in enumerate(wanted) if needle.search(line)]
        if not hits:
            raise HostError("%s has no line for %s's key %s" % (path, operator, blob[-12:]))
        for index in hits:
            match = needle.search(wanted[index])
            wanted[index] = forced + wanted[index][match.start() + len(match.group(1)):]
    if wanted != lines:
        plan.fixed.append(path)
        if not plan.check_mode:
            atomic_keys(path, "\n".join(wanted) + "\n", entry.pw_uid, entry.pw_gid)
    return user


def _key_needle(kind, blob):
    """Finds the key ``<kind> <blob>`` in an authorized_keys line, whatever its options."""
    return re.compile(r"(^|\s)%s %s(\s|$)" % (re.escape(kind), re.escape(blob)))


def rootlogin_keys_file():
    """root's authorized_keys as this host's sshd sees a root login (``sshd -T -C``), or a
    HostError naming the setting that refuses it. Reads only; runs sshd, never a shell."""
    import subprocess

    from_ssh = _ssh_connection()
    client, server, port = from_ssh if from_ssh else ("127.0.0.1", "127.0.0.1", "22")
    argv = [SSHD, "-T", "-C", "user=root,host=%s,addr=%s,laddr=%s,lport=%s" % (
        client, client, server, port)]
    config = _running_sshd_config()
    if config:
        argv[1:1] = ["-f", config]
    if not os.path.exists(SSHD):
        raise HostError("root login: %s not found (cannot ask sshd whether root may log in)"
                        % SSHD)
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        raise HostError("root login: cannot run %s: %s" % (SSHD, error))
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise HostError("root login: %s failed: %s" % (" ".join(argv[:-2]), reason[-1]
                                                          if reason else "no output"))
    import grp

    entry = pwd.getpwnam("root")
    groups = set(group.gr_name for group in grp.getgrall() if "root" in group.gr_mem)
    try:
        groups.add(grp.getgrgid(entry.pw_gid).gr_name)
    except KeyError:
        pass
    return root_keys_path(sshd_settings(done.stdout.decode("utf-8", "replace")), client,
                          entry, groups)


#: sshd's PermitRootLogin values that let root log in with a key that has a forced command.
ROOT_KEY_LOGINS = ("yes", "prohibit-password", "without-password", "forced-commands-only")


def sshd_settings(text):
    """``sshd -T`` output as {keyword: [value, ...]} (a keyword given on several lines, such
    as allowusers, gets one value per line)."""
    settings = {}
    for line in text.splitlines():
        keyword, _, value = line.strip().partition(" ")
        if keyword:
            settings.setdefault(keyword.lower(), []).append(value.strip())
    return settings


def root_keys_path(settings, client, entry, groups):
    """The file sshd reads root's keys from, by ``settings`` (``sshd_settings``) for a login
    from ``client``; HostError naming the sshd setting when root may not log in with a key."""
    permit = (settings.get("permitrootlogin") or ["no"])[0]
    if permit not in ROOT_KEY_LOGINS:
        raise HostError("root login: sshd has PermitRootLogin %s (needs prohibit-password, "
                        "forced-commands-only or yes)" % permit)
    if any(_user_match(pattern, client) for pattern in _words(settings, "denyusers")):
        raise HostError("root login: sshd's DenyUsers matches root from %s" % client)
    allowed = _words(settings, "allowusers")
    if allowed and not any(_user_match(pattern, client) for pattern in allowed):
        raise HostError("root login: sshd's AllowUsers does not name root (from %s)" % client)
    if any(_glob(pattern, name) for pattern in _words(settings, "denygroups")
           for name in groups):
        raise HostError("root login: sshd's DenyGroups matches a group of root")
    allowed = _words(settings, "allowgroups")
    if allowed and not any(_glob(pattern, name) for pattern in allowed for name in groups):
        raise HostError("root login: sshd's AllowGroups names no group of root")
    if (settings.get("pubkeyauthentication") or ["yes"])[0] != "yes":
        raise HostError("root login: sshd has PubkeyAuthentication no")
    files = _words(settings, "authorizedkeysfile")
    if not files or files[0] == "none":
        raise HostError("root login: sshd has no AuthorizedKeysFile")
    path = files[0]
    if re.search(r"%[^%huU]", path.replace("%%", "")):
        raise HostError("root login: AuthorizedKeysFile %s has a %%-token orch does not "
                        "expand" % path)
    path = re.sub(r"%[%hUu]", lambda token: {"%%": "%", "%h": entry.pw_dir, "%u": "root",
                                             "%U": str(entry.pw_uid)}[token.group(0)], path)
    return os.path.normpath(path if path.startswith("/") else os.path.join(entry.pw_dir, path))


def _words(settings, keyword):
    return [word for value in settings.get(keyword) or [] for word in value.split()]


def _glob(pattern, text):
    import fnmatch

    return fnmatch.fnmatchcase(text, pattern)


def _user_match(pattern, client):
    """sshd's ``USER[@HOST]`` pattern against root from ``client`` (HOST: names or address
    patterns, comma lists, ``!`` negation, CIDR)."""
    user, _, hosts = pattern.partition("@")
    if not _glob(user, "root"):
        return False
    if not hosts:
        return True
    import ipaddress

    matched = False
    for item in hosts.split(","):
        negated, item = item.startswith("!"), item.lstrip("!")
        try:
            hit = ipaddress.ip_address(client) in ipaddress.ip_network(item, strict=False) \
                if "/" in item else _glob(item, client)
        except ValueError:
            hit = False
        if hit and negated:
            return False
        matched = matched or hit
    return matched


def _ancestors():
    """This process and its parents, up to (not including) pid 1."""
    pid, seen = os.getpid(), 0
    while pid > 1 and seen < 64:
        yield pid
        try:
            status = _read("/proc/%d/status" % pid)
        except (IOError, OSError):
            return
        found = re.search(r"^PPid:\s*(\d+)", status, re.M)
        pid, seen = (int(found.group(1)) if found else 0), seen + 1


def _ssh_connection():
    """(client address, server address, server port) of the ssh login this runs under: from
    the first process up the tree that has SSH_CONNECTION (sudo clears it from ours)."""
    for pid in _ancestors():
        try:
            with open("/proc/%d/environ" % pid, "rb") as handle:
                environ = handle.read().split(b"\0")
        except (IOError, OSError):
            continue
        for item in environ:
            if item.startswith(b"SSH_CONNECTION="):
                fields = item[len(b"SSH_CONNECTION="):].decode("ascii", "replace").split()
                if len(fields) == 4:
                    return fields[0], fields[2], fields[3]
    return None


def _sshd_session_user():
    """The user of the sshd session this runs under (its ``sshd: user@notty`` process runs as
    that user), for a runtime whose environment lost SUDO_USER (started by a sudo gate)."""
    for pid in _ancestors():
        try:
            if os.path.realpath("/proc/%d/exe" % pid) != os.path.realpath(SSHD):
                continue
            found = re.search(r"^Uid:\s*(\d+)", _read("/proc/%d/status" % pid), re.M)
            if found and int(found.group(1)) != 0:
                return pwd.getpwuid(int(found.group(1))).pw_name
        except (IOError, OSError, KeyError):
            continue
    return None


def _running_sshd_config():
    """The ``-f`` config of the sshd this login came through (its listener's command line
    keeps it), or None for sshd's default."""
    for pid in _ancestors():
        try:
            if os.path.realpath("/proc/%d/exe" % pid) != os.path.realpath(SSHD):
                continue
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                words = handle.read().replace(b"\0", b" ").decode("utf-8", "replace").split()
        except (IOError, OSError):
            continue
        for index, word in enumerate(words):
            if word == "-f" and index + 1 < len(words):
                return words[index + 1]
            if word.startswith("-f") and len(word) > 2 and word[2] == "/":
                return word[2:]
    return None


def _root_keys(plan, keys, path):
    """Each operator's key in root's authorized_keys with the gate as its forced command
    (replacing a line with the same key, keeping every other line); root 0600, folder 0700."""
    if os.path.islink(path) or (os.path.exists(path) and not os.path.isfile(path)):
        raise HostError("%s is not a regular file" % path)
    folder = os.path.dirname(path)
    home = _under_root(pwd.getpwnam("root").pw_dir)
    if not os.path.isdir(folder) or folder.startswith(home.rstrip("/") + "/"):
        plan.folder(folder, 0o700)  # root's own (~/.ssh): made or set right
    elif _writable_by_others(folder):
        raise HostError("%s is writable by others than root: sshd would not trust it" % folder)
    lines = _read(path).splitlines() if os.path.exists(path) else []
    wanted = list(lines)
    for key in keys:
        operator, kind, blob = key.split(" ")
        line = 'restrict,command="%s -I -S %s %s" %s %s' % (
            sys.executable, GATE_CODE, operator, kind, blob)
        needle = _key_needle(kind, blob)
        hits = [index for index, old in enumerate(wanted) if needle.search(old)]
        if not hits:
            wanted.append(line)
            continue
        wanted[hits[0]] = line
        wanted = [old for index, old in enumerate(wanted) if index not in hits[1:]]
    text = "\n".join(wanted) + "\n"
    if not os.path.exists(path):
        plan.created.append(path)
    elif wanted != lines:
        plan.fixed.append(path)
    else:
        plan._owner_and_mode(path, 0o600)
        return
    if not plan.check_mode:
        plan._write(path, 0o600, text)


def _writable_by_others(path):
    info = os.lstat(path)
    return info.st_uid != 0 or bool(info.st_mode & 0o022)


def _unforce_login_user(plan, keys):
    """Remove the operator keys' lines from the login user's authorized_keys (the user sudo
    came from, as ``_force_gate`` finds it): the orch key then logs in as root only. Nothing
    to do when init itself runs over a root login."""
    user = os.environ.get("SUDO_USER") or _sshd_session_user()
    if not user or user == "root":
        return
    entry = pwd.getpwnam(user)
    path = _under_root(os.path.join(entry.pw_dir, ".ssh", "authorized_keys"))
    if os.path.islink(path) or not os.path.isfile(path):
        return
    needles = [_key_needle(*key.split(" ")[1:]) for key in keys]
    lines = _read(path).splitlines()
    wanted = [line for line in lines if not any(needle.search(line) for needle in needles)]
    if wanted != lines:
        plan.fixed.append(path)
        if not plan.check_mode:
            atomic_keys(path, "".join(line + "\n" for line in wanted), entry.pw_uid,
                        entry.pw_gid)


def _remove_sudo_rule(plan):
    """A root login needs no sudo rule: remove the one a sudo-variant init wrote."""
    path = _under_root("/etc/sudoers.d/orch-gate")
    if os.path.lexists(path):
        plan.removed.append(path)
        if not plan.check_mode:
            os.unlink(path)


def atomic_keys(path, text, uid, gid):
    """Replace authorized_keys, keeping it the login user's, 0600."""
    temporary = "%s.orch-%d.tmp" % (path, os.getpid())
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chown(temporary, uid, gid)
    os.rename(temporary, path)


def trust(request):
    """Add ``trusted`` hashes to /etc/orch/trusted.d/ (made by ``orch host init``)."""
    if os.geteuid() != 0:
        request.abort("orchhost#trust must run as root: use 'orch host trust -b'")
        return {}
    # The gate's state folder when it started this runtime (/etc/orch on a host, the host's own
    # folder in a restricted lab): that is where it reads trusted.d from.
    gated = getattr(sys.modules.get("orch_runtime"), "GATE", None)
    etc = request.host.state_dir if gated and ROOT == "/" else _under_root("/etc/orch")
    if not os.path.isdir(etc):
        request.abort("%s does not exist: run 'orch host init --restricted' first" % etc)
        return {}
    plan = Plan(request.check_mode)
    try:
        _trust(plan, request.args["trusted"], etc)
    except (HostError, OSError) as error:
        request.abort("cannot trust: %s" % error)
        return {}
    return {"changed": bool(plan.created or plan.fixed), "created": plan.created}
