"""file: put a file in place atomically, or report, remove or fetch one.

Pushed to hosts and run there: standard library only, Python 3.6 compatible.

``write`` never leaves a half-written file where a reader could see it: the kit's
``atomic_write`` writes a temporary file in the same folder, fsyncs it, sets its mode and owner,
renames it over the path (atomic on POSIX) and fsyncs the folder, as Mitogen does. It compares sha256 sums first, so writing the
same content again changes nothing and reports ``changed`` false; a different mode or owner
alone is fixed in place. ``backup`` keeps the old file as ``PATH.<timestamp>~`` (a hard link to
the old inode, so it costs no copy). Check mode reports what would change and, for text that is
not marked ``sensitive``, a unified diff; a real run that changes the content replies the same
diff (``orch call --diff`` shows it). ``src`` and ``template`` are resolved by the controller
(orch/agents/controller_inputs.py): the host only ever receives the bytes.

Files are at most MAX_SIZE bytes (1 MiB) both ways: content to write, and files fetched back.
A symbolic link at ``path`` is followed: the file it points to is written.
"""

import base64
import binascii
import os
import stat as stat_module
import time

from orch_runtime import Abort, atomic_write, fsync_folder

MAX_SIZE = 1024 * 1024
DIFF_CAP = 64 * 1024  # characters of diff in a reply
PATH_PATTERN = "\\A/[^\\x00]*\\Z"
NAME_PATTERN = "\\A[A-Za-z0-9_][A-Za-z0-9._-]*\\$?\\Z"

_PATH = {"type": "string", "required": True, "prompt": "Path", "description": "Absolute path",
         "validation": PATH_PATTERN, "maxlength": 4096}
_CHANGED = {"display_as": "Changed", "description": "Whether anything changed (or would)",
            "default": False}
_SHA = {"display_as": "SHA256", "description": "sha256 of the content", "default": None}
_SIZE = {"display_as": "Size", "description": "Size in bytes", "default": None}

AGENT = {
    "name": "file",
    "description": "Write files atomically (idempotent by checksum), stat, remove and fetch them",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "timeout": 60,
    "actions": {
        "write": {
            "description": "Put content at path atomically, with mode and owner; "
                           "changed only when something differs",
            "check_mode": True,
            "inputs": {
                "path": dict(_PATH),
                "content": {"type": "string", "optional": True, "sensitive": True,
                            "prompt": "Content", "description": "Text to write (UTF-8)",
                            "validation": "\\A[\\s\\S]*\\Z", "maxlength": 4 * MAX_SIZE},
                "content_b64": {"type": "string", "optional": True, "sensitive": True,
                                "prompt": "Content (base64)",
                                "description": "Bytes to write, base64-encoded",
                                "validation": "\\A[A-Za-z0-9+/=\\s]*\\Z",
                                "maxlength": (MAX_SIZE * 4) // 3 + 1024},
                "src": {"type": "string", "optional": True, "prompt": "Local file",
                        "description": "A file on the controller, read there and sent as "
                                       "content_b64 (at most 1 MiB)",
                        "controller": "local_file", "into": "content_b64",
                        "maxsize": MAX_SIZE, "validation": "\\A[^\\x00]+\\Z",
                        "maxlength": 4096},
                "template": {"type": "boolean", "optional": True, "default": False,
                             "prompt": "Template", "controller": "template",
                             "description": "Render src as a Jinja2 template on the controller "
                                            "with each host's facts and vars (also for *.j2)"},
                "mode": {"type": "string", "optional": True, "prompt": "Mode",
                         "description": "Octal permissions, e.g. 0644 (default: keep, or "
                                        "0666 less the umask for a new file)",
                         "validation": "\\A0?[0-7]{3,4}\\Z", "maxlength": 5},
                "owner": {"type": "string", "optional": True, "prompt": "Owner",
                          "description": "User name or id (default: keep)",
                          "validation": NAME_PATTERN, "maxlength": 64},
                "group": {"type": "string", "optional": True, "prompt": "Group",
                          "description": "Group name or id (default: keep)",
                          "validation": NAME_PATTERN, "maxlength": 64},
                "backup": {"type": "boolean", "optional": True, "default": False,
                           "prompt": "Backup",
                           "description": "Keep the old file as PATH.<timestamp>~ when changed"},
                "sensitive": {"type": "boolean", "optional": True, "default": False,
                              "prompt": "Sensitive",
                              "description": "Never show a diff of this content"},
            },
            "outputs": {
                "sha256": _SHA, "size": _SIZE, "changed": _CHANGED,
                "backup_path": {"display_as": "Backup", "description": "Where the old file was "
                                "kept", "default": None},
                "diff": {"display_as": "Diff", "description": "Unified diff (text, not "
                         "sensitive, capped)", "default": None},
                "mode": {"display_as": "Mode", "description": "Octal permissions",
                         "default": None},
                "owner": {"display_as": "Owner", "description": "Owner", "default": None},
                "group": {"display_as": "Group", "description": "Group", "default": None},
            },
            "aggregate": [{"function": "summary", "args": ["sha256"]}],
        },
        "stat": {
            "description": "Whether path exists, and its type, size, mode, owner and sha256",
            "check_mode": True,
            "read_only": True,
            "inputs": {"path": dict(_PATH)},
            "outputs": {
                "exists": {"display_as": "Exists", "description": "Whether path exists",
                           "default": False},
                "type": {"display_as": "Type", "description": "file, directory, link, other",
                         "default": None},
                "size": _SIZE, "sha256": _SHA,
                "mode": {"display_as": "Mode", "description": "Octal permissions",
                         "default": None},
                "owner": {"display_as": "Owner", "description": "Owner", "default": None},
                "group": {"display_as": "Group", "description": "Group", "default": None},
                "mtime": {"display_as": "Modified", "description": "Modification time (epoch)",
                          "default": None},
                "link_target": {"display_as": "Link to", "description": "Where a link points",
                                "default": None},
            },
            "aggregate": [{"function": "summary", "args": ["sha256"]}],
        },
        "remove": {
            "description": "Remove the file (or link) at path if it exists",
            "check_mode": True,
            "inputs": {"path": dict(_PATH)},
            "outputs": {"changed": _CHANGED,
                        "existed": {"display_as": "Existed", "description": "Whether it "
                                    "existed before", "default": False}},
            "aggregate": [{"function": "boolean_summary", "args": ["changed"]}],
        },
        "fetch": {
            "description": "Return a small file's content (base64), at most 1 MiB",
            "check_mode": True,
            "read_only": True,
            "inputs": {"path": dict(_PATH)},
            "outputs": {"content_b64": {"display_as": "Content", "description": "base64 of the "
                                        "file's bytes", "default": None},
                        "size": _SIZE, "sha256": _SHA},
            "aggregate": [{"function": "summary", "args": ["sha256"]}],
        },
    },
}


def _sha256():
    from hashlib import sha256

    return sha256


def _digest_of_file(path):
    digest = _sha256()()
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(1024 * 1024)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


def _limit_text(size):
    return "%d bytes, over the file module's limit of %d bytes (1 MiB)" % (size, MAX_SIZE)


def _user_id(owner):
    import pwd

    if owner.isdigit():
        return int(owner)
    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise Abort("no user %r on this host" % owner) from None


def _group_id(group):
    import grp

    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise Abort("no group %r on this host" % group) from None


def _user_name(uid):
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _octal(mode):
    return "%04o" % stat_module.S_IMODE(mode)


def _content(args):
    text, encoded = args.get("content"), args.get("content_b64")
    if (text is None) == (encoded is None):
        raise Abort("give exactly one of content or content_b64")
    if text is not None:
        data = text.encode("utf-8")
    else:
        try:
            data = base64.b64decode("".join(encoded.split()), validate=True)
        except (binascii.Error, ValueError):
            raise Abort("content_b64 is not valid base64") from None
    if len(data) > MAX_SIZE:
        raise Abort("content is " + _limit_text(len(data)))
    return data


def _as_text(data):
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _diff(path, old, new):
    """A unified diff of two texts, or None when either is binary; capped at DIFF_CAP."""
    import difflib

    old_text = "" if old is None else _as_text(old)
    new_text = _as_text(new)
    if old_text is None or new_text is None:
        return None
    lines = difflib.unified_diff(old_text.splitlines(True), new_text.splitlines(True),
                                 "a" + path if old is not None else "/dev/null", "b" + path)
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)
    if len(text) > DIFF_CAP:
        text = text[:DIFF_CAP] + "\n[diff truncated at %d characters]\n" % DIFF_CAP
    return text


def _target(path):
    """The path to write: ``path`` itself, or the file a symbolic link there points to."""
    path = os.path.normpath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)
    if os.path.isdir(path):
        raise Abort("%s is a directory" % path)
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise Abort("folder %s does not exist" % folder)
    return path


def _backup_name(path):
    stamp = time.strftime("%Y%m%d%H%M%S", time.localtime())
    candidate = "%s.%s~" % (path, stamp)
    number = 1
    while os.path.lexists(candidate):
        candidate = "%s.%s.%d~" % (path, stamp, number)
        number += 1
    return candidate


def _backup(path):
    name = _backup_name(path)
    try:
        os.link(path, name)
    except OSError:
        import shutil

        shutil.copy2(path, name)
    return name


def _write(request):
    args = request.args
    path = _target(args["path"])
    data = _content(args)
    check = getattr(request, "check_mode", False)
    try:
        current = os.stat(path)
    except FileNotFoundError:
        current = None
    if current is not None and not stat_module.S_ISREG(current.st_mode):
        raise Abort("%s exists and is not a regular file" % path)

    if args.get("mode"):
        mode = int(args["mode"], 8)
    elif current is not None:
        mode = stat_module.S_IMODE(current.st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    # -1: a new file keeps the ids it is born with (a setgid folder's group, say).
    uid = _user_id(args["owner"]) if args.get("owner") else (
        current.st_uid if current is not None else -1)
    gid = _group_id(args["group"]) if args.get("group") else (
        current.st_gid if current is not None else -1)

    new_sum = _sha256()(data).hexdigest()
    old = None
    if current is not None and current.st_size <= MAX_SIZE:
        with open(path, "rb") as handle:
            old = handle.read(MAX_SIZE + 1)
    old_sum = (_sha256()(old).hexdigest() if old is not None
               else _digest_of_file(path) if current is not None else None)
    content_changed = old_sum != new_sum
    meta_changed = current is not None and (
        stat_module.S_IMODE(current.st_mode) != mode or current.st_uid != uid
        or current.st_gid != gid)
    changed = content_changed or meta_changed
    result = {"sha256": new_sum, "size": len(data), "changed": changed, "backup_path": None,
              "mode": _octal(mode),
              "owner": _user_name(os.geteuid() if uid == -1 else uid),
              "group": _group_name(os.getegid() if gid == -1 else gid)}
    if content_changed and not args.get("sensitive") and (current is None or old is not None):
        result["diff"] = _diff(path, old, data)
    if check or not changed:
        return result

    same_owner = current is not None and current.st_uid == uid and current.st_gid == gid
    if content_changed:
        if args.get("backup") and current is not None:
            result["backup_path"] = _backup(path)
        atomic_write(path, data, mode, uid, gid)
    else:
        if stat_module.S_IMODE(current.st_mode) != mode:
            os.chmod(path, mode)
        if not same_owner:
            os.chown(path, uid, gid)
    return result


def _stat(request):
    path = os.path.normpath(request.args["path"])
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        return {"exists": False}
    result = {"exists": True, "link_target": None}
    info = link
    if stat_module.S_ISLNK(link.st_mode):
        result["link_target"] = os.readlink(path)
        try:
            info = os.stat(path)
        except OSError:
            info = link
    kind = ("link" if stat_module.S_ISLNK(link.st_mode) else "file"
            if stat_module.S_ISREG(info.st_mode) else "directory"
            if stat_module.S_ISDIR(info.st_mode) else "other")
    result.update({"type": kind, "size": info.st_size, "mode": _octal(info.st_mode),
                   "owner": _user_name(info.st_uid), "group": _group_name(info.st_gid),
                   "mtime": info.st_mtime})
    if stat_module.S_ISREG(info.st_mode):
        try:
            result["sha256"] = _digest_of_file(path)
        except OSError as error:
            raise Abort("cannot read %s: %s" % (path, error.strerror)) from None
    return result


def _remove(request):
    path = os.path.normpath(request.args["path"])
    if not os.path.lexists(path):
        return {"changed": False, "existed": False}
    if os.path.isdir(path) and not os.path.islink(path):
        raise Abort("%s is a directory; file.remove removes files and links only" % path)
    if not getattr(request, "check_mode", False):
        os.unlink(path)
        fsync_folder(os.path.dirname(path))
    return {"changed": True, "existed": True}


def _fetch(request):
    path = os.path.normpath(request.args["path"])
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise Abort("%s does not exist" % path) from None
    if not stat_module.S_ISREG(info.st_mode):
        raise Abort("%s is not a regular file" % path)
    if info.st_size > MAX_SIZE:
        raise Abort("%s is %s" % (path, _limit_text(info.st_size)))
    with open(path, "rb") as handle:
        data = handle.read(MAX_SIZE + 1)
    if len(data) > MAX_SIZE:
        raise Abort("%s is %s" % (path, _limit_text(len(data))))
    return {"content_b64": base64.b64encode(data).decode("ascii"), "size": len(data),
            "sha256": _sha256()(data).hexdigest()}


def _handler(function, verb):
    def serve(request):
        try:
            return function(request)
        except OSError as error:
            raise Abort("%s %s: %s" % (verb, request.args.get("path"), error.strerror or error))

    serve.__name__ = verb
    serve.__doc__ = AGENT["actions"][verb]["description"]
    return serve


#: Each declared action's function (the runtime's explicit binding; see docs/modules.md).
ACTIONS = {verb: _handler(function, verb) for verb, function in (
    ("write", _write), ("stat", _stat), ("remove", _remove), ("fetch", _fetch))}
