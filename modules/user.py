"""user: make sure a local user account exists with the properties asked for, or does not.

Pushed to hosts and run there: standard library only, Python 3.6 compatible.

The state is read from the password and group databases (the ``pwd`` and ``grp`` modules, and
/etc/shadow for the password hash: ``spwd`` is gone from newer Pythons); changes are made by
the shadow tools every Debian and RHEL host has (``useradd``, ``usermod``, ``userdel``, and
``chpasswd -e``), found with the kit's ``which`` and run without a shell. Only what differs is
changed, so a repeated request reports ``changed`` false, and the reply names each field that
changed (``changes``: ``created``, ``uid``, ``group``, ``groups``, ``shell``, ``home``,
``comment``, ``password``; ``removed``, ``home`` for ``absent``). Check mode reads the same
state and predicts the same ``changes`` without running any tool. A tool that "cannot lock"
the databases (another useradd, a vipw) is run again, a second apart, LOCK_TRIES times.

The password hash goes to ``chpasswd -e`` on its standard input, never in an argv (``useradd
-p`` would show it to every local user in /proc); the input is ``sensitive``, so the audit log,
the journal and the events mask it, and no reply carries it. ``groups`` are the supplementary
groups: with ``append`` the ones missing are added, without it the list is made exact (an
empty list removes every supplementary group; leaving it out leaves them alone). A new user
without ``group`` gets a group of its own name (the tools' USERGROUPS_ENAB), or the existing
group of that name as its primary group. ``home`` changes the home field only (the folder is
not moved); ``create_home`` and ``system`` apply when the user is created.
"""

import os

from orch_runtime import Abort, run, which

RUN_TIMEOUT = 60
LOCK_TRIES = 5  # runs of a tool that cannot lock the databases, a second apart
NAME_PATTERN = "\\A[A-Za-z_][A-Za-z0-9._-]*\\$?\\Z"
GROUP_PATTERN = "\\A[A-Za-z0-9_][A-Za-z0-9._-]*\\$?\\Z"
PATH_PATTERN = "\\A/[^:\\n\\x00]*\\Z"
COMMENT_PATTERN = "\\A[^:\\x00-\\x1f]*\\Z"
HASH_PATTERN = "\\A[A-Za-z0-9./$!*=+_-]*\\Z"
SHADOW = "/etc/shadow"

_NAME = {"type": "string", "required": True, "prompt": "User", "description": "User name",
         "validation": NAME_PATTERN, "maxlength": 32}
_CHANGED = {"display_as": "Changed", "description": "Whether anything changed (or would)",
            "default": False}
_CHANGES = {"display_as": "Changes", "description": "What changed (or would)", "default": []}
_STATE = {
    "exists": {"display_as": "Exists", "description": "Whether the user exists (after)",
               "default": False},
    "uid": {"display_as": "UID", "description": "User id (None: not known before it is "
            "made)", "default": None},
    "group": {"display_as": "Group", "description": "Primary group", "default": None},
    "groups": {"display_as": "Groups", "description": "Supplementary groups", "default": []},
    "shell": {"display_as": "Shell", "description": "Login shell", "default": None},
    "home": {"display_as": "Home", "description": "Home folder", "default": None},
    "comment": {"display_as": "Comment", "description": "GECOS field", "default": None},
}

AGENT = {
    "name": "user",
    "description": "Local user accounts through the shadow tools (useradd, usermod, userdel)",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "timeout": 120,
    "actions": {
        "present": {
            "description": "Make sure the user exists with these properties; changes only "
                           "what differs and names it",
            "check_mode": True,
            "needs_root": True,
            "inputs": {
                "name": dict(_NAME),
                "uid": {"type": "integer", "optional": True, "prompt": "UID",
                        "description": "User id", "validation": "\\A[0-9]+\\Z",
                        "maxlength": 10},
                "group": {"type": "string", "optional": True, "prompt": "Primary group",
                          "description": "Primary group, name or id (default: keep; new "
                                         "users: a group of their own name)",
                          "validation": GROUP_PATTERN, "maxlength": 32},
                "groups": {"type": "list", "optional": True, "prompt": "Groups",
                           "description": "Supplementary groups (comma-separated); exact "
                                          "unless append",
                           "validation": GROUP_PATTERN, "maxlength": 64},
                "append": {"type": "boolean", "optional": True, "default": False,
                           "prompt": "Append",
                           "description": "Add the groups missing, keep the others"},
                "shell": {"type": "string", "optional": True, "prompt": "Shell",
                          "description": "Login shell", "validation": PATH_PATTERN,
                          "maxlength": 256},
                "home": {"type": "string", "optional": True, "prompt": "Home",
                         "description": "Home folder (an existing user's folder is not "
                                        "moved)", "validation": PATH_PATTERN,
                         "maxlength": 1024},
                "create_home": {"type": "boolean", "optional": True, "default": True,
                                "prompt": "Create home",
                                "description": "Make the home folder (from /etc/skel) when "
                                               "the user is created"},
                "system": {"type": "boolean", "optional": True, "default": False,
                           "prompt": "System",
                           "description": "A system account (uid below UID_MIN) when "
                                          "created"},
                "comment": {"type": "string", "optional": True, "prompt": "Comment",
                            "description": "GECOS field (full name)",
                            "validation": COMMENT_PATTERN, "maxlength": 256},
                "password_hash": {"type": "string", "optional": True, "sensitive": True,
                                  "prompt": "Password hash",
                                  "description": "crypt(3) hash for /etc/shadow (e.g. from "
                                                 "mkpasswd -m sha-512), or ! to lock",
                                  "validation": HASH_PATTERN, "maxlength": 512},
            },
            "outputs": dict(_STATE, changed=_CHANGED, changes=_CHANGES),
            "aggregate": [{"function": "boolean_summary", "args": ["changed"]}],
        },
        "absent": {
            "description": "Remove the user if it exists (userdel)",
            "check_mode": True,
            "needs_root": True,
            "inputs": {
                "name": dict(_NAME),
                "remove_home": {"type": "boolean", "optional": True, "default": False,
                                "prompt": "Remove home",
                                "description": "Remove the home folder and mail spool too "
                                               "(userdel -r)"},
            },
            "outputs": {"changed": _CHANGED, "changes": _CHANGES,
                        "existed": {"display_as": "Existed", "description": "Whether the "
                                    "user existed before", "default": False}},
            "aggregate": [{"function": "boolean_summary", "args": ["changed"]}],
        },
        "status": {
            "description": "Whether the user exists, and its uid, groups, shell, home",
            "check_mode": True,
            "read_only": True,
            "inputs": {"name": dict(_NAME)},
            "outputs": dict(_STATE),
            "aggregate": [{"function": "summary", "args": ["shell"]}],
        },
    },
}


def _group_by(key):
    """The group entry for a name or a numeric id, or None when there is none."""
    import grp

    try:
        return grp.getgrgid(int(key)) if key.isdigit() else grp.getgrnam(key)
    except KeyError:
        return None


def _group_name(gid):
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def account(name):
    """The user's state as the databases say, or None when there is no such user."""
    import grp
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    groups = sorted(group.gr_name for group in grp.getgrall()
                    if name in group.gr_mem and group.gr_gid != entry.pw_gid)
    return {"exists": True, "uid": entry.pw_uid, "gid": entry.pw_gid,
            "group": _group_name(entry.pw_gid), "groups": groups, "shell": entry.pw_shell,
            "home": entry.pw_dir, "comment": entry.pw_gecos}


def shadow_hash(name, path=SHADOW):
    """The password field of /etc/shadow for ``name`` (None: no line)."""
    try:
        with open(path) as handle:
            for line in handle:
                fields = line.rstrip("\n").split(":")
                if fields[0] == name and len(fields) > 1:
                    return fields[1]
    except PermissionError:
        raise Abort("cannot read %s to compare password_hash (needs root)" % path) from None
    except FileNotFoundError:
        return None
    return None


def _resolve_groups(name, args):
    """``(primary, supplementary)``: the group entries asked for (None: not asked)."""
    primary = None
    if args.get("group"):
        primary = _group_by(args["group"])
        if primary is None:
            raise Abort("no group %r on this host (the primary group of user %s)"
                        % (args["group"], name))
    wanted = None
    if args.get("groups") is not None:
        wanted = []
        for key in args["groups"]:
            entry = _group_by(key)
            if entry is None:
                raise Abort("no group %r on this host (in groups of user %s)" % (key, name))
            wanted.append(entry.gr_name)
    return primary, wanted


def plan_update(current, args, primary, wanted):
    """``(changes, usermod words)`` that bring an existing user to what is asked."""
    changes, words = [], []
    if args.get("uid") is not None and args["uid"] != current["uid"]:
        changes.append("uid")
        words += ["-u", str(args["uid"])]
    primary_name = current["group"]
    if primary is not None and primary.gr_gid != current["gid"]:
        changes.append("group")
        words += ["-g", str(primary.gr_gid)]
        primary_name = primary.gr_name
    if wanted is not None:
        wanted_set = set(wanted) - {primary_name}
        have = set(current["groups"]) - {primary_name}
        if args.get("append"):
            missing = sorted(wanted_set - have)
            if missing:
                changes.append("groups")
                words += ["-a", "-G", ",".join(missing)]
        elif wanted_set != have:
            changes.append("groups")
            words += ["-G", ",".join(sorted(wanted_set))]
    for key, flag in (("shell", "-s"), ("home", "-d"), ("comment", "-c")):
        if args.get(key) is not None and args[key] != current[key]:
            changes.append(key)
            words += [flag, args[key]]
    return changes, words


def plan_create(name, args, primary, wanted):
    """The useradd words (before the name) for a new user."""
    words = []
    if args.get("uid") is not None:
        words += ["-u", str(args["uid"])]
    if primary is not None:
        words += ["-g", str(primary.gr_gid)]
    elif _group_by(name) is not None:  # USERGROUPS_ENAB would fail on it: use it instead
        words += ["-g", name]
    if wanted:
        words += ["-G", ",".join(sorted(set(wanted)))]
    for key, flag in (("shell", "-s"), ("home", "-d"), ("comment", "-c")):
        if args.get(key) is not None:
            words += [flag, args[key]]
    words.append("-m" if args.get("create_home", True) else "-M")
    if args.get("system"):
        words.append("-r")
    return words


def tool(program):
    path = which(program)
    if path is None:
        raise Abort("%s is not installed here (Debian: package passwd; RHEL: shadow-utils)"
                    % program)
    return path


def run_tool(argv, what, stdin=None):
    """Run a shadow tool (no shell); an Abort naming ``what`` and the tool's words on failure."""
    import time

    for _ in range(LOCK_TRIES):  # another useradd or vipw holds /etc/passwd.lock: wait a bit
        result = run(argv, stdin=stdin, timeout=RUN_TIMEOUT)
        if result.rc == 0 or "cannot lock" not in result.stderr.lower():
            break
        time.sleep(1)
    if result.rc != 0:
        tail = result.stderr_tail()
        raise Abort("%s %s failed (exit %d)%s" % (os.path.basename(argv[0]), what, result.rc,
                                                  ": " + tail if tail else ""))


def _reply(state, changes):
    data = dict(state)
    data.pop("gid", None)
    data.update({"changed": bool(changes), "changes": changes})
    return data


def _present(request):
    args = request.args
    name = args["name"]
    check = getattr(request, "check_mode", False)
    primary, wanted = _resolve_groups(name, args)
    current = account(name)
    password = args.get("password_hash")
    if current is None:
        changes = ["created"] + (["password"] if password is not None else [])
        if check:
            return _reply({"exists": True, "uid": args.get("uid"),
                           "group": primary.gr_name if primary is not None else name,
                           "groups": sorted(set(wanted or [])), "shell": args.get("shell"),
                           "home": args.get("home"), "comment": args.get("comment")},
                          changes)
        run_tool([tool("useradd")] + plan_create(name, args, primary, wanted) + ["--", name],
                 name)
    else:
        changes, words = plan_update(current, args, primary, wanted)
        if password is not None and shadow_hash(name) != password:
            changes.append("password")
        if check:
            predicted = dict(current)
            for key in ("uid", "shell", "home", "comment"):
                if key in changes:
                    predicted[key] = args[key]
            if "group" in changes:
                predicted["group"] = primary.gr_name
            if "groups" in changes:
                wanted_set = set(wanted) - {predicted["group"]}
                predicted["groups"] = sorted(wanted_set | set(current["groups"])
                                             if args.get("append") else wanted_set)
            return _reply(predicted, changes)
        if words:
            run_tool([tool("usermod")] + words + ["--", name], name)
    if "password" in changes:
        run_tool([tool("chpasswd"), "-e"], "(password of %s)" % name,
                 stdin="%s:%s\n" % (name, password))
    after = account(name)
    if after is None:
        raise Abort("useradd %s ran but there is no such user" % name)
    return _reply(after, changes)


def _absent(request):
    args = request.args
    name = args["name"]
    if account(name) is None:
        return {"changed": False, "changes": [], "existed": False}
    changes = ["removed"] + (["home"] if args.get("remove_home") else [])
    if not getattr(request, "check_mode", False):
        run_tool([tool("userdel")] + (["-r"] if args.get("remove_home") else []) + ["--", name],
                 name)
        if account(name) is not None:
            raise Abort("userdel %s ran but the user is still there" % name)
    return {"changed": True, "changes": changes, "existed": True}


def _status(request):
    state = account(request.args["name"])
    if state is None:
        return {"exists": False}
    state.pop("gid")
    return state


#: Each declared action's function (the runtime's explicit binding; see docs/modules.md).
ACTIONS = {"present": _present, "absent": _absent, "status": _status}
