"""nrpe: run a health check defined in this host's NRPE-style config, as NRPE would.

Pushed to hosts and run there: standard library only, Python 3.6 compatible.

The caller names a check (``check_load``); the command line comes from the host's own config
(host.json's ``config.nrpe.config``, else NRPE's own ``/etc/nagios/nrpe.cfg``), in NRPE's
syntax, following ``include=`` files and ``include_dir=`` folders (their ``*.cfg`` files, and
sub-folders, as NRPE reads them)::

    # comments and blank lines are ignored
    command[check_load]=/usr/lib/nagios/plugins/check_load -w 15,10,5 -c 30,25,20
    include=/etc/nagios/nrpe_local.cfg
    include_dir=/etc/nagios/nrpe.d

so a caller can never run a command line of their own. The line is split with ``shlex`` and run
without a shell, with a bounded timeout. The reply is OK only when the plugin exits 0; any
other exit is Aborted with the plugin's output, which lets a play's ``tries``/``try_sleep``
wait for a healthy host.
"""

import os
import re
import shlex
import subprocess

AGENT = {
    "name": "nrpe",
    "description": "Run a Nagios plugin defined in the host's NRPE-style configuration",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "url": "https://github.com/NagiosEnterprises/nrpe",
    "timeout": 60,
    "actions": {
        "runcommand": {
            "description": "Run a command defined in the NRPE config; OK only when it exits 0",
            "inputs": {
                "command": {
                    "type": "string", "required": True, "prompt": "Command",
                    "description": "Name of a command[...] defined in the NRPE config",
                    "validation": "^[a-zA-Z0-9_-]+\\Z", "maxlength": 64,
                },
            },
            "outputs": {
                "exitcode": {"display_as": "Exit Code", "description": "The plugin's exit status",
                             "default": None},
                "output": {"display_as": "Output", "description": "The plugin's text output",
                           "default": ""},
                "perfdata": {"display_as": "Performance Data",
                             "description": "Performance data (the text after '|')",
                             "default": ""},
                "metrics": {"display_as": "Metrics",
                            "description": "Performance data values by label, e.g. load1",
                            "default": {}},
            },
            "aggregate": [{"function": "summary", "args": ["exitcode"]}],
        },
    },
}

COMMAND_LINE = re.compile(r"^command\[([^\]]+)\]\s*=\s*(.*)$")
NAME = re.compile(r"[A-Za-z0-9_-]+\Z")
RUN_TIMEOUT = 50.0  # seconds; below the agent timeout so the reply says what happened
PLUGIN_STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


class CheckError(Exception):
    """The config or the command could not be used; the message says why."""


def read_commands(path, depth=0):
    """``{name: command line}`` from an NRPE config, following ``include``/``include_dir``.

    Later definitions override earlier ones, as in NRPE.
    """
    if depth > 8:
        raise CheckError(f"NRPE config includes nest too deep at {path}")
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except OSError as error:
        raise CheckError(f"cannot read NRPE config {path}: {error.strerror or error}") from None
    commands = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = COMMAND_LINE.match(line)
        if match:
            commands[match.group(1).strip()] = match.group(2).strip()
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key == "include" and value:
            commands.update(read_commands(_relative(path, value), depth + 1))
        elif key == "include_dir" and value:
            commands.update(_read_folder(_relative(path, value), depth + 1))
    return commands


def _read_folder(folder, depth):
    """Every ``*.cfg`` of an ``include_dir`` folder and of its sub-folders, in name order, as
    NRPE's read_config_dir does; a folder that does not exist gives nothing."""
    if depth > 8:
        raise CheckError(f"NRPE config includes nest too deep at {folder}")
    commands = {}
    if not os.path.isdir(folder):
        return commands
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            commands.update(_read_folder(path, depth + 1))
        elif name.endswith(".cfg") and os.path.isfile(path):
            commands.update(read_commands(path, depth + 1))
    return commands


def _relative(config_path, value):
    return value if os.path.isabs(value) else os.path.join(os.path.dirname(config_path), value)


def split_plugin_output(text):
    """Split Nagios plugin output into (text, perfdata): perfdata is what follows each '|'."""
    texts, perfs = [], []
    for number, line in enumerate(text.strip().splitlines()):
        message, bar, perf = line.partition("|")
        if message.strip() or number == 0:
            texts.append(message.rstrip())
        if bar and perf.strip():
            perfs.append(perf.strip())
    return "\n".join(texts).strip(), " ".join(perfs)


def parse_metrics(perfdata):
    """``load1=0.110;15.000;30.000;0;`` items → ``{"load1": 0.11}`` (values that are numbers)."""
    metrics = {}
    for label, value in re.findall(r"('[^']+'|[^\s=]+)=([^\s;]*)", perfdata):
        number = re.match(r"-?\d+(?:\.\d+)?", value)
        if number:
            metrics[label.strip("'")] = float(number.group(0))
    return metrics


#: NRPE's own default config (Debian's nagios-nrpe-server, EPEL's nrpe use this path; it
#: includes ``/etc/nagios/nrpe.d`` and ``nrpe_local.cfg`` through ``include_dir``/``include``).
DEFAULT_CONFIG = "/etc/nagios/nrpe.cfg"


def _config_path(request):
    """host.json's ``config.nrpe.config``, else NRPE's default when it exists."""
    path = (request.host.config("nrpe") or {}).get("config")
    if not path:
        if os.path.exists(DEFAULT_CONFIG):
            return DEFAULT_CONFIG
        host_json = os.path.join(getattr(request.host, "state_dir", None) or "/etc/orch",
                                 "host.json")
        raise CheckError(f"no NRPE config at {DEFAULT_CONFIG} (NRPE's default): "
                         f"set config.nrpe.config in {host_json}")
    return path


def _runcommand(request):
    name = str(request.args.get("command", ""))
    if not NAME.match(name):
        raise CheckError(f"invalid command name {name!r} (letters, digits, '_', '-')")
    path = _config_path(request)
    commands = read_commands(path)
    if name not in commands:
        raise CheckError(f"no command '{name}' in {path}")
    try:
        argv = shlex.split(commands[name])
    except ValueError as error:
        raise CheckError(f"cannot parse command[{name}] in {path}: {error}") from None
    if not argv:
        raise CheckError(f"command[{name}] in {path} is empty")
    try:
        completed = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT, close_fds=True)
    except subprocess.TimeoutExpired:
        raise CheckError(f"{name} did not finish within {RUN_TIMEOUT:.0f}s") from None
    except OSError as error:
        problem = error.strerror or error
        raise CheckError(f"cannot run {argv[0]} for command[{name}]: {problem}") from None
    output, perfdata = split_plugin_output((completed.stdout or b"").decode("utf-8", "replace"))
    return {
        "exitcode": completed.returncode,
        "output": output,
        "perfdata": perfdata,
        "metrics": parse_metrics(perfdata),
    }


def runcommand(request):
    """Run the named check; Aborted (with the plugin's output) unless it exits 0."""
    try:
        result = _runcommand(request)
    except CheckError as error:
        request.abort(str(error))
        return {}
    if result["exitcode"] != 0:
        state = PLUGIN_STATES.get(result["exitcode"], "exit {}".format(result["exitcode"]))
        request.abort("{} ({})".format(result["output"] or "no output", state))
        return result
    return result
