"""file: put a file in place atomically, edit its lines, make directories and links, or
report, remove or fetch a file.

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

``line`` is Ansible's lineinfile: the last line ``regexp`` matches is replaced, else a line
equal to ``line`` anywhere means there is nothing to do, else the line is inserted after the
last ``insertafter`` match, before the last ``insertbefore`` match, at BOF or at EOF (the
default). ``state=absent`` removes every line ``regexp`` matches (else every line equal to
``line``). Every line keeps its own ending (a CRLF file stays CRLF; a new line takes the first
line's ending), a last line without a newline gets one only when a line goes after it, and the
edited file is written like ``write`` (atomically, mode and owner kept, ``backup``, a diff).
``directory`` makes a folder with its parents (each new one given the mode and owner asked
for, as Ansible does) or fixes an existing one's mode and owner; ``link`` makes a symbolic link
or replaces a wrong one atomically (a new link renamed over it), and replaces a regular file or
an empty directory only with ``force``.

Files are at most MAX_SIZE bytes (1 MiB) both ways: content to write, files edited, and files
fetched back. A symbolic link at ``path`` is followed by ``write`` and ``line``: the file it
points to is written; ``directory`` follows one too, ``link`` replaces it.
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
_MODE = {"type": "string", "optional": True, "prompt": "Mode",
         "description": "Octal permissions, e.g. 0644 (default: keep, or 0666 less the umask "
                        "for a new file)",
         "validation": "\\A0?[0-7]{3,4}\\Z", "maxlength": 5}
_OWNER = {"type": "string", "optional": True, "prompt": "Owner",
          "description": "User name or id (default: keep)",
          "validation": NAME_PATTERN, "maxlength": 64}
_GROUP = {"type": "string", "optional": True, "prompt": "Group",
          "description": "Group name or id (default: keep)",
          "validation": NAME_PATTERN, "maxlength": 64}
_BACKUP = {"type": "boolean", "optional": True, "default": False, "prompt": "Backup",
           "description": "Keep the old file as PATH.<timestamp>~ when changed"}
_REGEXP = {"type": "string", "optional": True, "prompt": "Regexp",
           "validation": "\\A[^\\x00]*\\Z", "maxlength": 4096}
_MODE_OUT = {"display_as": "Mode", "description": "Octal permissions", "default": None}
_OWNER_OUT = {"display_as": "Owner", "description": "Owner", "default": None}
_GROUP_OUT = {"display_as": "Group", "description": "Group", "default": None}
_DIFF = {"display_as": "Diff", "description": "Unified diff (text, not sensitive, capped)",
         "default": None}
_BACKUP_PATH = {"display_as": "Backup", "description": "Where the old file was kept",
                "default": None}

AGENT = {
    "name": "file",
    "description": "Write files atomically (idempotent by checksum), edit lines, make "
                   "directories and links, stat, remove and fetch files",
    "version": "1.1",
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
        "line": {
            "description": "Make sure a line is in a text file, or is not (Ansible's "
                           "lineinfile): replace the last line regexp matches, else insert it",
            "check_mode": True,
            "inputs": {
                "path": dict(_PATH),
                "line": {"type": "string", "optional": True, "prompt": "Line",
                         "description": "The line (without its newline); needed for "
                                        "state=present",
                         "validation": "\\A[^\\n\\x00]*\\Z", "maxlength": 64 * 1024},
                "regexp": dict(_REGEXP, description="Python regular expression: the last "
                               "line it matches is replaced (present); every line it matches "
                               "is removed (absent)"),
                "state": {"type": "string", "optional": True, "default": "present",
                          "prompt": "State", "enum": ["present", "absent"],
                          "validation": "\\A(present|absent)\\Z", "maxlength": 7,
                          "description": "present or absent"},
                "insertafter": dict(_REGEXP, description="Insert after the last line this "
                                    "regexp matches, or EOF (default) or BOF"),
                "insertbefore": dict(_REGEXP, description="Insert before the last line this "
                                     "regexp matches, or BOF"),
                "create": {"type": "boolean", "optional": True, "default": False,
                           "prompt": "Create",
                           "description": "Make the file when it is missing (else abort)"},
                "mode": dict(_MODE), "owner": dict(_OWNER), "group": dict(_GROUP),
                "backup": dict(_BACKUP),
                "sensitive": {"type": "boolean", "optional": True, "default": False,
                              "prompt": "Sensitive",
                              "description": "Never show a diff of this file"},
            },
            "outputs": {
                "changed": _CHANGED,
                "msg": {"display_as": "Result", "description": "line added, line replaced, "
                        "N lines removed, unchanged", "default": None},
                "found": {"display_as": "Found", "description": "Lines removed (absent)",
                          "default": None},
                "diff": _DIFF, "backup_path": _BACKUP_PATH,
                "mode": _MODE_OUT, "owner": _OWNER_OUT, "group": _GROUP_OUT,
            },
            "aggregate": [{"function": "summary", "args": ["msg"]}],
        },
        "directory": {
            "description": "Make a directory (and its parents), or fix its mode and owner",
            "check_mode": True,
            "inputs": {"path": dict(_PATH), "mode": dict(_MODE, description="Octal "
                                                             "permissions, e.g. 0755 (default: "
                                                             "keep, or 0777 less the umask)"),
                       "owner": dict(_OWNER), "group": dict(_GROUP)},
            "outputs": {
                "changed": _CHANGED,
                "changes": {"display_as": "Changes", "description": "What changed (or "
                            "would): created, mode, owner, group", "default": []},
                "mode": _MODE_OUT, "owner": _OWNER_OUT, "group": _GROUP_OUT,
            },
            "aggregate": [{"function": "boolean_summary", "args": ["changed"]}],
        },
        "link": {
            "description": "Make path a symbolic link to target (a wrong link is replaced; "
                           "a file or an empty directory only with force)",
            "check_mode": True,
            "inputs": {
                "path": dict(_PATH, description="Absolute path of the link"),
                "target": {"type": "string", "required": True, "prompt": "Target",
                           "description": "Where the link points (relative: to the link's "
                                          "folder); it must exist unless force",
                           "validation": "\\A[^\\x00]+\\Z", "maxlength": 4096},
                "force": {"type": "boolean", "optional": True, "default": False,
                          "prompt": "Force",
                          "description": "Replace a file or an empty directory at path; "
                                         "allow a target that does not exist"},
            },
            "outputs": {
                "changed": _CHANGED,
                "target": {"display_as": "Target", "description": "Where the link points",
                           "default": None},
                "target_before": {"display_as": "Target before", "description": "Where it "
                                  "pointed before (a link)", "default": None},
                "replaced": {"display_as": "Replaced", "description": "What it replaced: "
                             "link, file, directory", "default": None},
            },
            "aggregate": [{"function": "summary", "args": ["target"]}],
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

    mode, uid, gid = _wanted_meta(args, current)
    new_sum = _sha256()(data).hexdigest()
    old = None
    if current is not None and current.st_size <= MAX_SIZE:
        with open(path, "rb") as handle:
            old = handle.read(MAX_SIZE + 1)
    old_sum = (_sha256()(old).hexdigest() if old is not None
               else _digest_of_file(path) if current is not None else None)
    content_changed = old_sum != new_sum
    changed = content_changed or _meta_differs(current, mode, uid, gid)
    result = {"sha256": new_sum, "size": len(data), "changed": changed, "backup_path": None}
    result.update(_meta_reply(mode, uid, gid))
    if content_changed and not args.get("sensitive") and (current is None or old is not None):
        result["diff"] = _diff(path, old, data)
    if check or not changed:
        return result
    _settle(path, current, data if content_changed else None, mode, uid, gid,
            args.get("backup"), result)
    return result


def _wanted_meta(args, current):
    """``(mode, uid, gid)`` a file should have: what is asked, else what it has, else (new) the
    umask's mode and -1 ids (a new file keeps the ids it is born with: a setgid folder's
    group, say)."""
    if args.get("mode"):
        mode = int(args["mode"], 8)
    elif current is not None:
        mode = stat_module.S_IMODE(current.st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    uid = _user_id(args["owner"]) if args.get("owner") else (
        current.st_uid if current is not None else -1)
    gid = _group_id(args["group"]) if args.get("group") else (
        current.st_gid if current is not None else -1)
    return mode, uid, gid


def _meta_differs(current, mode, uid, gid):
    return current is not None and (
        stat_module.S_IMODE(current.st_mode) != mode or current.st_uid != uid
        or current.st_gid != gid)


def _meta_reply(mode, uid, gid):
    return {"mode": _octal(mode), "owner": _user_name(os.geteuid() if uid == -1 else uid),
            "group": _group_name(os.getegid() if gid == -1 else gid)}


def _settle(path, current, data, mode, uid, gid, backup, result):
    """Put ``data`` (None: the content stays) at ``path`` with mode and owner: new content
    atomically (after a backup when asked), a mode or owner alone in place."""
    if data is not None:
        if backup and current is not None:
            result["backup_path"] = _backup(path)
        atomic_write(path, data, mode, uid, gid)
        return
    if stat_module.S_IMODE(current.st_mode) != mode:
        os.chmod(path, mode)
    if current.st_uid != uid or current.st_gid != gid:
        os.chown(path, uid, gid)


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


def _text_lines(data):
    """The lines of ``data``, each with its own ending ("\n", "\r\n", or "" for a last line
    without one); bytes that are not UTF-8 survive the round trip (surrogateescape)."""
    text = data.decode("utf-8", "surrogateescape")
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _body(line):
    """A line without its ending: what ``line``, ``regexp``, ``insertafter`` are matched to."""
    if line.endswith("\n"):
        line = line[:-1]
    return line[:-1] if line.endswith("\r") else line


def _pattern(args, key):
    import re

    text = args.get(key)
    if text is None or (key != "regexp" and text in ("BOF", "EOF")):
        return None
    try:
        return re.compile(text)
    except re.error as error:
        raise Abort("%s %r is not a valid regular expression: %s" % (key, text, error)) \
            from None


def _insert_line(lines, args):
    """Ansible's lineinfile for state=present: ``(lines, message)``. The last line ``regexp``
    matches is replaced; else an equal line anywhere means nothing to do; else the line goes
    after the last ``insertafter`` match (before the last ``insertbefore`` match), at BOF, or
    at the end (EOF, the default, also when neither pattern matches)."""
    line, after, before = args["line"], args.get("insertafter"), args.get("insertbefore")
    matcher, anchor = _pattern(args, "regexp"), _pattern(args, "insertafter" if after
                                                             else "insertbefore")
    found = [number for number, text in enumerate(lines)
             if matcher is not None and matcher.search(_body(text))]
    if found:
        last = lines[found[-1]]
        if _body(last) == line:
            return lines, None
        lines[found[-1]] = line + last[len(_body(last)):]
        return lines, "line replaced"
    if any(_body(text) == line for text in lines):
        return lines, None
    ending = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    where = None
    if "BOF" in (after, before):
        where = 0
    elif anchor is not None:
        hits = [number for number, text in enumerate(lines) if anchor.search(_body(text))]
        if hits:
            where = hits[-1] + 1 if after else hits[-1]
    if where is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += ending
        where = len(lines)
    lines.insert(where, line + ending)
    return lines, "line added"


def _remove_lines(lines, args):
    """state=absent: every line ``regexp`` matches (else every line equal to ``line``) goes."""
    matcher = _pattern(args, "regexp")
    if matcher is not None:
        kept = [text for text in lines if not matcher.search(_body(text))]
    else:
        kept = [text for text in lines if _body(text) != args["line"]]
    gone = len(lines) - len(kept)
    return kept, ("%d line%s removed" % (gone, "" if gone == 1 else "s") if gone else None)


def _line(request):
    args = request.args
    check = getattr(request, "check_mode", False)
    present = args.get("state", "present") == "present"
    if present and args.get("line") is None:
        raise Abort("state=present needs line")
    if not present and args.get("line") is None and args.get("regexp") is None:
        raise Abort("state=absent needs line or regexp")
    if args.get("insertafter") is not None and args.get("insertbefore") is not None:
        raise Abort("give at most one of insertafter or insertbefore")
    path = _target(args["path"])
    try:
        current = os.stat(path)
    except FileNotFoundError:
        current = None
    if current is None and present and not args.get("create"):
        raise Abort("%s does not exist (create=true makes it)" % path)
    if current is None and not present:
        return {"changed": False, "found": 0, "msg": "%s does not exist" % path,
                "backup_path": None}
    if current is not None and not stat_module.S_ISREG(current.st_mode):
        raise Abort("%s exists and is not a regular file" % path)
    old = b""
    if current is not None:
        if current.st_size > MAX_SIZE:
            raise Abort("%s is %s" % (path, _limit_text(current.st_size)))
        with open(path, "rb") as handle:
            old = handle.read(MAX_SIZE + 1)
        if b"\x00" in old:
            raise Abort("%s is not a text file" % path)
    lines = _text_lines(old)
    before = len(lines)
    lines, message = (_insert_line if present else _remove_lines)(lines, args)
    data = "".join(lines).encode("utf-8", "surrogateescape")
    content_changed = data != old or current is None
    mode, uid, gid = _wanted_meta(args, current)
    changed = content_changed or _meta_differs(current, mode, uid, gid)
    result = {"changed": changed, "backup_path": None,
              "found": before - len(lines) if not present else None,
              "msg": message or ("attributes changed" if changed else "unchanged")}
    result.update(_meta_reply(mode, uid, gid))
    if content_changed and not args.get("sensitive"):
        result["diff"] = _diff(path, old if current is not None else None, data)
    if check or not changed:
        return result
    _settle(path, current, data if content_changed else None, mode, uid, gid,
            args.get("backup"), result)
    return result


def _owner_ids(args):
    return (_user_id(args["owner"]) if args.get("owner") else -1,
            _group_id(args["group"]) if args.get("group") else -1)


def _directory(request):
    """state=directory: make ``path`` and its missing parents (each new one with the mode
    and owner asked for, as Ansible does), or fix the mode and owner of the one there."""
    args = request.args
    check = getattr(request, "check_mode", False)
    path = os.path.normpath(args["path"])
    mode = int(args["mode"], 8) if args.get("mode") else None
    uid, gid = _owner_ids(args)
    missing = []
    probe = path
    while True:
        try:
            info = os.stat(probe)  # a link to a directory is followed, as Ansible's follow
            break
        except (FileNotFoundError, NotADirectoryError):
            if os.path.islink(probe):
                raise Abort("%s is a link to %s, which does not exist"
                            % (probe, os.readlink(probe))) from None
            missing.insert(0, probe)
            probe = os.path.dirname(probe)
    if not stat_module.S_ISDIR(info.st_mode):
        raise Abort("%s exists and is not a directory" % probe)
    changes = []
    if missing:
        changes.append("created")
    else:
        if mode is not None and stat_module.S_IMODE(info.st_mode) != mode:
            changes.append("mode")
        if uid != -1 and info.st_uid != uid:
            changes.append("owner")
        if gid != -1 and info.st_gid != gid:
            changes.append("group")
    if not check:
        for folder in missing:
            os.mkdir(folder)
            if uid != -1 or gid != -1:
                os.chown(folder, uid, gid)
            if mode is not None:
                os.chmod(folder, mode)  # after chown, which may clear setgid bits
            fsync_folder(os.path.dirname(folder))
        if not missing and ("owner" in changes or "group" in changes):
            os.chown(path, uid, gid)
        if not missing and (changes and mode is not None):
            os.chmod(path, mode)
    if check and missing:
        umask = os.umask(0)
        os.umask(umask)
        shown = {"mode": _octal(0o777 & ~umask if mode is None else mode),
                 "owner": _user_name(os.geteuid() if uid == -1 else uid),
                 "group": _group_name(os.getegid() if gid == -1 else gid)}
    else:
        now = info if check or not changes else os.stat(path)
        shown = {"mode": _octal(mode if check and "mode" in changes else now.st_mode),
                 "owner": _user_name(uid if check and "owner" in changes else now.st_uid),
                 "group": _group_name(gid if check and "group" in changes else now.st_gid)}
    result = {"changed": bool(changes), "changes": changes}
    result.update(shown)
    return result


def _link(request):
    """A symbolic link ``path`` -> ``target``: made, or a wrong link replaced atomically (a new
    link renamed over it); a file or an (empty) directory there only with ``force``."""
    import random

    args = request.args
    check = getattr(request, "check_mode", False)
    path, target, force = os.path.normpath(args["path"]), args["target"], args.get("force")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise Abort("folder %s does not exist" % folder)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    before, replaced = None, None
    if info is not None and stat_module.S_ISLNK(info.st_mode):
        before = os.readlink(path)
        if before == target:
            return {"changed": False, "target": target, "target_before": before,
                    "replaced": None}
        replaced = "link"
    elif info is not None:
        replaced = "directory" if stat_module.S_ISDIR(info.st_mode) else (
            "file" if stat_module.S_ISREG(info.st_mode) else "special file")
        if not force:
            raise Abort("%s exists and is a %s; force=true replaces it with the link"
                        % (path, replaced))
        if replaced == "directory" and os.listdir(path):
            raise Abort("%s is a directory that is not empty; file.link never replaces one"
                        % path)
    if not os.path.exists(os.path.join(folder, target)) and not force:
        raise Abort("link target %s does not exist (force=true makes a dangling link)"
                    % target)
    if not check:
        temporary = "%s.%d.%06d.orch-tmp" % (path, os.getpid(), random.randrange(10 ** 6))
        os.symlink(target, temporary)
        try:
            if replaced == "directory":
                os.rmdir(path)
            os.rename(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        fsync_folder(folder)
    return {"changed": True, "target": target, "target_before": before, "replaced": replaced}


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
    ("write", _write), ("stat", _stat), ("remove", _remove), ("fetch", _fetch),
    ("line", _line), ("directory", _directory), ("link", _link))}
