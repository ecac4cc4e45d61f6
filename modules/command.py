"""command: run one program on the host, never through a shell.

Pushed to hosts and run there: standard library only, Python 3.6 compatible.

``command`` is split into words as a POSIX shell splits them (``shlex.split``: quotes group,
nothing expands), so ``echo $HOME; id`` prints that text literally; ``argv`` gives the words
as a list. The program gets a small, known environment (PATH, HOME, LANG, USER, LOGNAME, plus
``env``), its own process group (so a timeout kills everything it started, not just the first
process), and /dev/null or ``stdin`` as input. It runs through the kit's ``orch_runtime.run``,
which keeps OUTPUT_CAP bytes of each stream and drops the rest, so a chatty program cannot
exhaust the runtime's memory, the disk or the reply frame.

``creates``/``removes`` make a command idempotent as Ansible's command module does: skip when
``creates`` exists, or when ``removes`` does not. A skipped or dry-run (check mode) request
runs nothing and says why in ``message``.
"""

import os
import shlex
import time

from orch_runtime import RUN_PATH, RUN_TAIL, RunTimeout, run as run_program

OUTPUT_CAP = 64 * 1024  # bytes kept of stdout and of stderr each
STDERR_TAIL = RUN_TAIL  # characters of stderr quoted in an abort message
STDIN_MAX = 1024 * 1024
ENV_NAME_FIRST = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
ENV_NAME_REST = ENV_NAME_FIRST + "0123456789"

_CHANGED = {"display_as": "Changed", "description": "Whether the command ran (or would run)",
            "default": False}

AGENT = {
    "name": "command",
    "description": "Run a program on the host without a shell, with timeout and idempotence guards",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "timeout": 120,
    "actions": {
        "run": {
            "description": "Run a command (split into words, never through a shell) or an argv",
            "check_mode": True,
            "inputs": {
                "command": {"type": "string", "optional": True, "prompt": "Command",
                            "description": "Command line, split as a shell splits words; no "
                                           "expansion, pipes or redirection",
                            "validation": "\\A[^\\x00]+\\Z", "maxlength": 65536},
                "argv": {"type": "list", "optional": True, "prompt": "Argv",
                         "description": "The program and its arguments, as a list",
                         "validation": "\\A[^\\x00]*\\Z", "maxlength": 4096},
                "cwd": {"type": "string", "optional": True, "prompt": "Folder",
                        "description": "Absolute folder to run in (default: the login folder)",
                        "validation": "\\A/[^\\x00]*\\Z", "maxlength": 4096},
                "env": {"type": "hash", "optional": True, "prompt": "Environment",
                        "description": "Variables added to the minimal environment",
                        "validation": "\\A[^\\x00]*\\Z", "maxlength": 256},
                "stdin": {"type": "string", "optional": True, "sensitive": True,
                          "prompt": "Input", "description": "Text written to the command's "
                                                            "standard input (never logged)",
                          "validation": "\\A[^\\x00]*\\Z", "maxlength": STDIN_MAX},
                "timeout": {"type": "number", "optional": True, "default": 0,
                            "prompt": "Timeout", "description": "Seconds before the command's "
                            "process group is killed (0: the request's own timeout)",
                            "validation": "\\A\\d+(\\.\\d+)?\\Z", "maxlength": 10},
                "creates": {"type": "string", "optional": True, "prompt": "Creates",
                            "description": "Skip when this absolute path exists",
                            "validation": "\\A/[^\\x00]*\\Z", "maxlength": 4096},
                "removes": {"type": "string", "optional": True, "prompt": "Removes",
                            "description": "Skip when this absolute path does not exist",
                            "validation": "\\A/[^\\x00]*\\Z", "maxlength": 4096},
                "ok_codes": {"type": "list", "optional": True, "default": [0],
                             "prompt": "OK exit codes",
                             "description": "Exit codes that count as success (default 0)",
                             "validation": "\\A-?\\d{1,3}\\Z", "maxlength": 256},
            },
            "outputs": {
                "rc": {"display_as": "Exit code", "description": "Exit status", "default": None},
                "stdout": {"display_as": "Output", "description": "Standard output (capped)",
                           "default": ""},
                "stderr": {"display_as": "Errors", "description": "Standard error (capped)",
                           "default": ""},
                "stdout_truncated": {"display_as": "Output truncated",
                                     "description": "Whether stdout was cut at the cap",
                                     "default": False},
                "stderr_truncated": {"display_as": "Errors truncated",
                                     "description": "Whether stderr was cut at the cap",
                                     "default": False},
                "changed": _CHANGED,
                "skipped": {"display_as": "Skipped",
                            "description": "Whether creates/removes skipped the command",
                            "default": False},
                "message": {"display_as": "Message", "description": "Why it was skipped, or "
                            "what check mode would do", "default": ""},
                "elapsed": {"display_as": "Seconds", "description": "How long it ran",
                            "default": None},
            },
            "aggregate": [{"function": "summary", "args": ["rc"]}],
        },
    },
}


class CommandError(Exception):
    """The request cannot be run as given; the message says why."""


def _argv(args):
    """The argv from ``command`` (split as a shell splits words) or ``argv``; exactly one."""
    command, argv = args.get("command"), args.get("argv")
    if (command is None) == (argv is None):
        raise CommandError("give exactly one of command (a string) or argv (a list)")
    if argv is not None:
        if not argv or not all(isinstance(word, str) for word in argv):
            raise CommandError("argv must be a non-empty list of strings")
        return list(argv)
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise CommandError("cannot split command into words: %s" % error) from None
    if not words:
        raise CommandError("command is empty")
    return words


def _ok_codes(args):
    codes = []
    for code in args.get("ok_codes") or [0]:
        try:
            codes.append(int(code))
        except (TypeError, ValueError):
            raise CommandError("ok_codes must be whole numbers, got %r" % (code,)) from None
    return codes


def _environment(extra):
    """PATH, HOME, LANG, USER and LOGNAME of the login, then ``env`` on top."""
    import pwd

    try:
        entry = pwd.getpwuid(os.getuid())
        user, home = entry.pw_name, entry.pw_dir
    except KeyError:
        user, home = str(os.getuid()), "/"
    environ = {"PATH": RUN_PATH, "HOME": home, "USER": user, "LOGNAME": user,
               "LANG": "C.UTF-8"}
    for name, value in sorted((extra or {}).items()):
        if (not isinstance(name, str) or not name or name[0] not in ENV_NAME_FIRST
                or any(character not in ENV_NAME_REST for character in name)):
            raise CommandError("env: %r is not a variable name" % (name,))
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise CommandError("env: %s must be a string" % name)
        text = str(value)
        if "\x00" in text:
            raise CommandError("env: %s contains a NUL byte" % name)
        environ[name] = text
    return environ


def _skip_reason(args):
    creates, removes = args.get("creates"), args.get("removes")
    if creates and os.path.exists(creates):
        return "skipped: %s exists" % creates
    if removes and not os.path.exists(removes):
        return "skipped: %s does not exist" % removes
    return None


def run(request):
    """Run the command unless creates/removes say it is done; abort on an exit code not in
    ok_codes, with the code and the end of stderr."""
    args = request.args
    try:
        argv = _argv(args)
        codes = _ok_codes(args)
        environ = _environment(args.get("env"))
    except CommandError as error:
        request.abort(str(error))
        return {}
    cwd = args.get("cwd") or environ["HOME"]
    if not os.path.isdir(cwd):
        request.abort("cwd %s is not a folder" % cwd)
    skipped = _skip_reason(args)
    if skipped:
        return {"changed": False, "skipped": True, "message": skipped}
    if getattr(request, "check_mode", False):
        return {"changed": True, "message": "would run: %s" % " ".join(
            shlex.quote(word) for word in argv)}
    timeout = float(args.get("timeout") or 0)
    started = time.time()
    try:
        result = run_program(argv, args.get("stdin"), timeout or None, cwd, environ, OUTPUT_CAP)
    except RunTimeout:
        request.abort("%s timed out after %gs; its process group was killed" % (argv[0], timeout))
        return {}
    elapsed = round(time.time() - started, 3)
    rc = result.rc
    data = {"rc": rc, "stdout": result.stdout, "stderr": result.stderr,
            "stdout_truncated": result.stdout_truncated,
            "stderr_truncated": result.stderr_truncated, "changed": True, "elapsed": elapsed}
    if rc not in codes:
        tail = result.stderr_end.strip()
        if rc < 0:
            problem = "%s was killed by signal %d" % (argv[0], -rc)
        else:
            problem = "%s exited with %d" % (argv[0], rc)
        request.abort(problem + (": " + tail[-STDERR_TAIL:] if tail else ""))
    return data
