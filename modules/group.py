"""group: make sure a local group exists (with a gid), or does not.

Pushed to hosts and run there: standard library only, Python 3.6 compatible.

The state is read from the group database (the ``grp`` module); changes are made by the shadow
tools (``groupadd``, ``groupmod``, ``groupdel``), found with the kit's ``which`` and run without
a shell. A repeated request reports ``changed`` false; ``changes`` names what changed
(``created``, ``gid``, ``removed``); check mode predicts it without running any tool. Members
are the ``user`` module's business (``user.present groups=... append=true``). A separate module
rather than ``user`` actions: ``orch call group.present name=deploy`` reads as Ansible's
``group:`` task does, and ``orch agents group`` documents it on its own.
"""

from orch_runtime import Abort, run, which

RUN_TIMEOUT = 60
LOCK_TRIES = 5  # runs of a tool that cannot lock the databases, a second apart
NAME_PATTERN = "\\A[A-Za-z_][A-Za-z0-9._-]*\\$?\\Z"

_NAME = {"type": "string", "required": True, "prompt": "Group", "description": "Group name",
         "validation": NAME_PATTERN, "maxlength": 32}
_CHANGED = {"display_as": "Changed", "description": "Whether anything changed (or would)",
            "default": False}
_CHANGES = {"display_as": "Changes", "description": "What changed (or would): created, gid, "
            "removed", "default": []}
_STATE = {
    "exists": {"display_as": "Exists", "description": "Whether the group exists (after)",
               "default": False},
    "gid": {"display_as": "GID", "description": "Group id (None: not known before it is made)",
            "default": None},
    "members": {"display_as": "Members", "description": "Users with it as a supplementary "
                "group", "default": []},
}

AGENT = {
    "name": "group",
    "description": "Local groups through the shadow tools (groupadd, groupmod, groupdel)",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "timeout": 60,
    "actions": {
        "present": {
            "description": "Make sure the group exists (with this gid)",
            "check_mode": True,
            "needs_root": True,
            "inputs": {
                "name": dict(_NAME),
                "gid": {"type": "integer", "optional": True, "prompt": "GID",
                        "description": "Group id (an existing group's is changed)",
                        "validation": "\\A[0-9]+\\Z", "maxlength": 10},
                "system": {"type": "boolean", "optional": True, "default": False,
                           "prompt": "System",
                           "description": "A system group (gid below GID_MIN) when created"},
            },
            "outputs": dict(_STATE, changed=_CHANGED, changes=_CHANGES),
            "aggregate": [{"function": "boolean_summary", "args": ["changed"]}],
        },
        "absent": {
            "description": "Remove the group if it exists (not a user's primary group)",
            "check_mode": True,
            "needs_root": True,
            "inputs": {"name": dict(_NAME)},
            "outputs": {"changed": _CHANGED, "changes": _CHANGES,
                        "existed": {"display_as": "Existed", "description": "Whether the "
                                    "group existed before", "default": False}},
            "aggregate": [{"function": "boolean_summary", "args": ["changed"]}],
        },
        "status": {
            "description": "Whether the group exists, its gid and members",
            "check_mode": True,
            "read_only": True,
            "inputs": {"name": dict(_NAME)},
            "outputs": dict(_STATE),
            "aggregate": [{"function": "summary", "args": ["gid"]}],
        },
    },
}


def group_state(name):
    import grp

    try:
        entry = grp.getgrnam(name)
    except KeyError:
        return None
    return {"exists": True, "gid": entry.gr_gid, "members": sorted(entry.gr_mem)}


def _gid_owner(gid):
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def _primary_of(name):
    """A user whose primary group this is (groupdel refuses those), or None."""
    import grp
    import pwd

    gid = grp.getgrnam(name).gr_gid
    return next((entry.pw_name for entry in pwd.getpwall() if entry.pw_gid == gid), None)


def _tool(program):
    path = which(program)
    if path is None:
        raise Abort("%s is not installed here (Debian: package passwd; RHEL: shadow-utils)"
                    % program)
    return path


def _run_tool(argv, name):
    import time

    for _ in range(LOCK_TRIES):  # another groupadd or vigr holds /etc/group.lock: wait a bit
        result = run(argv, timeout=RUN_TIMEOUT)
        if result.rc == 0 or "cannot lock" not in result.stderr.lower():
            break
        time.sleep(1)
    if result.rc != 0:
        tail = result.stderr_tail()
        raise Abort("%s %s failed (exit %d)%s" % (argv[0].rsplit("/", 1)[-1], name, result.rc,
                                                  ": " + tail if tail else ""))


def _present(request):
    args = request.args
    name, gid = args["name"], args.get("gid")
    check = getattr(request, "check_mode", False)
    current = group_state(name)
    if gid is not None and (current is None or current["gid"] != gid):
        holder = _gid_owner(gid)
        if holder is not None and holder != name:
            raise Abort("gid %d is group %s's already (wanted for group %s)" % (gid, holder,
                                                                             name))
    if current is None:
        changes = ["created"]
        if check:
            return {"exists": True, "gid": gid, "members": [], "changed": True,
                    "changes": changes}
        words = (["-g", str(gid)] if gid is not None else []) + (
            ["-r"] if args.get("system") else [])
        _run_tool([_tool("groupadd")] + words + ["--", name], name)
    elif gid is not None and current["gid"] != gid:
        changes = ["gid"]
        if check:
            return dict(current, gid=gid, changed=True, changes=changes)
        _run_tool([_tool("groupmod"), "-g", str(gid), "--", name], name)
    else:
        return dict(current, changed=False, changes=[])
    after = group_state(name)
    if after is None or (gid is not None and after["gid"] != gid):
        raise Abort("groupadd/groupmod %s ran but the group is %r" % (name, after))
    return dict(after, changed=True, changes=changes)


def _absent(request):
    name = request.args["name"]
    if group_state(name) is None:
        return {"changed": False, "changes": [], "existed": False}
    user = _primary_of(name)
    if user is not None:
        raise Abort("group %s is the primary group of user %s; change or remove that user "
                    "first" % (name, user))
    if not getattr(request, "check_mode", False):
        _run_tool([_tool("groupdel"), "--", name], name)
        if group_state(name) is not None:
            raise Abort("groupdel %s ran but the group is still there" % name)
    return {"changed": True, "changes": ["removed"], "existed": True}


def _status(request):
    return group_state(request.args["name"]) or {"exists": False}


#: Each declared action's function (the runtime's explicit binding; see docs/modules.md).
ACTIONS = {"present": _present, "absent": _absent, "status": _status}
