"""rpcutil: ask a host whether it is alive and what it knows about itself.

MCollective's rpcutil agent, for orch. Pushed to hosts: standard library only, Python 3.6+.

``inventory`` describes the host the way Facter 4 does (``os.family``, ``os.release.major``,
``networking.hostname``, ``processors.count``, ...), read from /proc, /sys, /etc/os-release,
``os.uname``, ``socket`` and ``os.statvfs``, never through a shell or a subprocess, so a host
that orch never set up still answers ``-F os.family=Debian``. Layers, lowest precedence first:

1. system facts (``SYSTEM_SOURCES``: each source is a function that fails alone; its facts are
   dropped and the reason goes to ``notes``, the request never fails);
2. ``facter --json``, only when the request asks (``facter=true``) and Facter is on the PATH;
3. external facts as Facter reads them: ``*.json`` (an object) and ``*.txt`` (``key=value``
   lines) in ``/etc/orch/facts.d`` (system-wide), then in ``<state folder>/facts.d`` (the host's
   own folder: the lab's per-host folder or ``~/.orch``, so it wins like its host.json does);
   other files there, executables included, are never run, only named in ``notes``;
4. the ``facts`` of the state folder's host.json.

The fact code is the string FACTS_SOURCE, compiled on the first ``inventory``/``get_fact`` of
a process: the runtime compiles every module it is sent, and compiling ~800 lines costs a host
~6 ms of CPU, which ``ping`` (the most frequent request) should not pay for facts it never reads.
tests/unit/modules/test_module_rpcutil_facts.py checks that source for Python 3.6's grammar and
the standard library like the rest of the pushed code.

Classes: host.json's, ``/etc/orch/classes`` (one per line, ``#`` comments; and ``classes`` in
the state folder when that is not /etc/orch, e.g. a lab host's) and Puppet's
``classes.txt`` (Puppet 4+ and the 3.x path MCollective read), merged and sorted.
"""

import os
import sys
import time

AGENT = {
    "name": "rpcutil",
    "description": "General helpful actions: liveness, the host's facts, classes and modules",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "timeout": 10,
    "actions": {
        "ping": {
            "description": "Answer with the host's clock: proves the host runs requests",
            "inputs": {},
            "outputs": {
                "pong": {"display_as": "Timestamp", "description": "The host's time (epoch seconds)"},
            },
            "aggregate": [],
        },
        "inventory": {
            "description": "The host's facts, classes and modules, and the runtime's Python",
            "inputs": {
                "facter": {
                    "type": "boolean", "required": False, "default": False, "prompt": "Facter",
                    "description": "Also run 'facter --json' when the host has Facter",
                },
            },
            "outputs": {
                "facts": {"display_as": "Facts", "description":
                          "System facts < Facter < facts.d < host.json facts, merged"},
                "fact_sources": {"display_as": "Fact sources", "description":
                                 "The sources that gave facts, lowest precedence first"},
                "notes": {"display_as": "Notes", "description":
                          "Facts that could not be read, and why; files not used"},
                "classes": {"display_as": "Classes", "description":
                            "host.json, /etc/orch/classes and Puppet's classes.txt"},
                "agents": {"display_as": "Agents", "description": "Modules the host offers"},
                "python": {"display_as": "Python", "description": "Version of the host's python3"},
                "platform": {"display_as": "Platform", "description": "Operating system and machine"},
                "host": {"display_as": "Host", "description": "The host's name"},
                "state_dir": {"display_as": "State folder", "description":
                              "The folder the runtime read host.json, policy and callers from"},
                "audit_log": {"display_as": "Audit log",
                              "description": "The audit log the runtime writes"},
                "mode": {"display_as": "Mode", "description": "open, or restricted (orch's "
                         "gate: pinned code, root-owned policy and audit log; docs/trust.md)"},
            },
            "aggregate": [{"function": "summary", "args": ["python"]}],
        },
        "get_fact": {
            "description": "One fact's value (dotted keys reach nested facts)",
            "inputs": {
                "fact": {
                    "type": "string", "required": True, "prompt": "Fact",
                    "description": "The fact to get, e.g. cluster or os.family",
                    "validation": "^[\\w.-]+$", "maxlength": 200,
                },
            },
            "outputs": {
                "fact": {"display_as": "Fact", "description": "The fact asked for"},
                "value": {"display_as": "Value", "description": "Its value (null when missing)"},
            },
            "aggregate": [{"function": "summary", "args": ["value"]}],
        },
    },
}


def ping(request):
    return {"pong": int(time.time())}


def inventory(request):
    host = request.host
    gathered = facts_code()["collect"](host, bool(request.args.get("facter")))
    return {
        "facts": gathered["facts"],
        "fact_sources": gathered["fact_sources"],
        "notes": gathered["notes"],
        "classes": gathered["classes"],
        "agents": sorted(host.agents),
        "python": "%d.%d.%d" % tuple(sys.version_info[:3]),
        "platform": _platform(),
        "host": host.name,
        "state_dir": host.state_dir,
        "audit_log": getattr(host, "audit_log", None),
        "mode": _mode(),
    }


def _mode():
    """``open`` or ``restricted`` (orch's gate started this runtime: pinned code, root policy)."""
    runtime = sys.modules.get("orch_runtime")
    mode = getattr(runtime, "mode", None)
    return mode() if callable(mode) else "open"


def get_fact(request):
    """One fact, with the same precedence as ``inventory`` (host.json first: no gather then)."""
    name = request.args["fact"]
    value = request.host.fact(name)
    if value is None:
        code = facts_code()
        value = code["lookup"](code["collect"](request.host, False)["facts"], name)
    return {"fact": name, "value": value}


def _platform():
    """``Linux 6.1.0 x86_64``, from ``os.uname`` (``platform`` would cost an import)."""
    uname = os.uname()
    return "%s %s %s" % (uname.sysname, uname.release, uname.machine)


_FACTS = []  # the compiled namespace, once


def facts_code():
    """The namespace of FACTS_SOURCE (``collect``, ``system_facts``, ...), compiled once."""
    if not _FACTS:
        namespace = {"__name__": __name__ + "_facts", "__file__": globals().get("__file__")}
        exec(compile(FACTS_SOURCE, "%s:FACTS_SOURCE" % __name__, "exec"), namespace)
        _FACTS.append(namespace)
    return _FACTS[0]


FACTS_SOURCE = r'''
import json
import os
import socket
import sys
import time

# Where a host keeps what it says about itself (module-level so the tests can aim them at a
# temporary folder; a request cannot change them).
ETC_DIR = "/etc/orch"
PUPPET_CLASSES = (
    "/opt/puppetlabs/puppet/cache/state/classes.txt",  # Puppet 4+ (AIO packages)
    "/var/lib/puppet/state/classes.txt",                # Puppet 3 / Debian's puppet; MCollective
)
OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
DEBIAN_VERSION = "/etc/debian_version"
CPUINFO = "/proc/cpuinfo"
MEMINFO = "/proc/meminfo"
MOUNTS = "/proc/self/mounts"
UPTIME = "/proc/uptime"
NET_ROUTE = "/proc/net/route"
NET_INET6 = "/proc/net/if_inet6"
SYS_NET = "/sys/class/net"
SYS_CPU = "/sys/devices/system/cpu"
DMI = "/sys/class/dmi/id"
RESOLV_CONF = "/etc/resolv.conf"
FACTER_TIMEOUT = 7  # seconds; the action's own timeout is 10


# -- the layers and their merge ---------------------------------------------------------------

def collect(host, use_facter, etc_dir=None):
    """``{"facts", "fact_sources", "notes", "classes"}`` for ``host`` (the runtime's Host).

    ``etc_dir`` replaces /etc/orch (tests only: the action never passes it).
    """
    etc_dir = ETC_DIR if etc_dir is None else etc_dir
    notes = []
    sources = []
    facts = system_facts(notes)
    if facts:
        sources.append("system")
    if use_facter:
        found = facter_facts(notes)
        if found:
            facts = deep_merge(facts, found)
            sources.append("facter")
    state_dir = getattr(host, "state_dir", None)
    folders = [os.path.join(etc_dir, "facts.d")]
    if state_dir:
        folders.append(os.path.join(state_dir, "facts.d"))
    for path, found in external_facts(folders, notes):
        facts = deep_merge(facts, found)
        sources.append(path)
    if host.facts:
        facts = deep_merge(facts, host.facts)
        sources.append("host.json")
    class_files = [os.path.join(etc_dir, "classes")]
    if state_dir and os.path.abspath(state_dir) != os.path.abspath(etc_dir):
        class_files.append(os.path.join(state_dir, "classes"))  # the lab's per-host folder
    class_files += list(PUPPET_CLASSES)
    classes = set(host.classes or ())
    classes.update(read_classes(class_files, notes))
    return {"facts": facts, "fact_sources": sources, "notes": notes,
            "classes": sorted(classes)}


def deep_merge(under, over):
    """``over`` laid onto ``under``: nested dicts merge, any other value of ``over`` wins."""
    merged = dict(under)
    for key, value in over.items():
        old = merged.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = value
    return merged


def lookup(facts, key):
    """A dotted key in nested facts (a literal ``a.b`` key first), None when missing."""
    if key in facts:
        return facts[key]
    parts = key.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        inner = facts.get(".".join(parts[:cut]))
        if isinstance(inner, dict):
            found = lookup(inner, ".".join(parts[cut:]))
            if found is not None:
                return found
    return None


def system_facts(notes):
    """Every system source's facts; a source that raises adds a note and nothing else."""
    facts = {}
    for name, source in SYSTEM_SOURCES:
        try:
            found = source(notes)
        except Exception as error:  # one broken source must not cost the others
            notes.append("system facts: %s: %s" % (name, _reason(error)))
            continue
        facts = deep_merge(facts, found)
    return facts


def _reason(error):
    if isinstance(error, OSError) and error.filename:
        return "%s: %s" % (error.filename, error.strerror or error)
    return "%s: %s" % (type(error).__name__, error)


def external_facts(folders, notes):
    """``[(path, facts)]`` from Facter-style external fact files, folder by folder, by name.

    ``*.json``: one JSON object; ``*.txt``: ``key=value`` lines (Facter's ``^(.+?)=(.+)$``;
    ``#`` lines are comments). Anything else (scripts, YAML) is named in a note, never run.
    The same folder reached twice (a state folder that is /etc/orch) is read once.
    """
    found = []
    seen = set()
    for folder in folders:
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError:
            continue
        except OSError as error:
            notes.append("external facts: %s" % _reason(error))
            continue
        for name in names:
            path = os.path.join(folder, name)
            if name.startswith(".") or not os.path.isfile(path):
                continue
            try:
                if name.endswith(".json"):
                    facts = _read_json_facts(path)
                elif name.endswith(".txt"):
                    facts = _read_txt_facts(path)
                else:
                    kind = "executable" if os.access(path, os.X_OK) else "file"
                    notes.append("external facts: %s: %s not run (orch reads only .json and "
                                 ".txt)" % (path, kind))
                    continue
            except (OSError, ValueError) as error:
                notes.append("external facts: %s: %s" % (path, _reason(error)))
                continue
            if facts:
                found.append((path, facts))
    return found


def _read_json_facts(path):
    with open(path, "rb") as stream:
        data = json.loads(stream.read().decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object, got %s" % type(data).__name__)
    return data


def _read_txt_facts(path):
    facts = {}
    with open(path, "rb") as stream:
        text = stream.read().decode("utf-8")
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep and key and value:
            facts[key] = value
    return facts


def read_classes(paths, notes):
    """Class names from each file that exists: one per line, ``#`` starts a comment."""
    classes = set()
    for path in paths:
        try:
            with open(path, "rb") as stream:
                text = stream.read().decode("utf-8", "replace")
        except FileNotFoundError:
            continue
        except OSError as error:
            notes.append("classes: %s" % _reason(error))
            continue
        for line in text.splitlines():
            name = line.split("#", 1)[0].strip()
            if name:
                classes.add(name)
    return classes


def facter_facts(notes):
    """``facter --json`` (argv, no shell, bounded time) when Facter is on the PATH, else {}."""
    import subprocess

    program = _which("facter")
    if program is None:
        notes.append("facter: not found on PATH")
        return {}
    try:
        done = subprocess.run([program, "--json"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=FACTER_TIMEOUT)
    except subprocess.TimeoutExpired:
        notes.append("facter: no answer within %d seconds" % FACTER_TIMEOUT)
        return {}
    except OSError as error:
        notes.append("facter: %s" % _reason(error))
        return {}
    try:
        data = json.loads(done.stdout.decode("utf-8"))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        notes.append("facter: exit %d, no JSON object%s" % (
            done.returncode, (": " + tail[0][:200]) if tail else ""))
        return {}
    return data


def _which(program):
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(folder or ".", program)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


# -- system facts: one function per source ----------------------------------------------------

def _read(path):
    with open(path, "rb") as stream:
        return stream.read().decode("utf-8", "replace")


def _read_os_release():
    for path in OS_RELEASE:
        try:
            text = _read(path)
        except FileNotFoundError:
            continue
        values = {}
        for line in text.splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                values[key] = value.strip().strip("\"'")
        return values
    raise FileNotFoundError(2, "No such file or directory", OS_RELEASE[0])


# Facter's Facter::Util::Facts::FAMILY_HASH, tried in this order against ID_LIKE, else ID.
FAMILIES = (
    ("RedHat", ("redhat", "rhel", "fedora", "centos", "scientific", "ascendos", "cloudlinux",
                "psbm", "oraclelinux", "ovs", "oel", "amazon", "xenserver", "xcp-ng",
                "virtuozzo", "photon", "mariner")),
    ("Debian", ("debian", "ubuntu", "huaweios", "linuxmint", "devuan", "kde")),
    ("Suse", ("sles", "sled", "suse")),
    ("Gentoo", ("gentoo",)),
    ("Archlinux", ("arch", "manjaro")),
    ("Mandrake", ("mandrake", "mandriva", "mageia")),
)


def os_family(os_id, id_like):
    """Facter's ``os.family``: the family whose flavour appears in ID_LIKE (else ID)."""
    text = (id_like or os_id or "").lower()
    for family, flavours in FAMILIES:
        if any(flavour in text for flavour in flavours):
            return family
    return text.capitalize() if text else None


def os_name(name):
    """Facter's ``os.name`` from os-release NAME ("Debian GNU/Linux" → "Debian")."""
    lowered = name.lower()
    if lowered.startswith(("red", "oracle", "arch", "manjaro")):
        name = "".join(name.split(" ")[0:2])
    elif lowered.endswith("mariner"):
        name = name.split(" ")[-1].strip()
    else:
        name = name.split(" ")[0].strip()
    if name.lower().startswith(("arch", "manjaro")):
        name = name.capitalize()
    if name.lower().startswith("virtuozzo"):
        name += "Linux"
    return name


def _release(full):
    parts = full.split(".")
    release = {"full": full, "major": parts[0]}
    if len(parts) > 1:
        release["minor"] = parts[1]
    return release


def _os_facts(notes):
    values = _read_os_release()
    os_id = values.get("ID", "").lower()
    family = os_family(os_id, values.get("ID_LIKE"))
    facts = {"family": family} if family else {}
    if values.get("NAME"):
        facts["name"] = os_name(values["NAME"])
    full = None
    if os_id == "debian":  # Facter reads the point release there: 12.11, not VERSION_ID's 12
        try:
            full = _read(DEBIAN_VERSION).strip() or None
        except OSError:
            full = None
        if full:
            parts = full.split(".")
            if len(parts) > 1:
                parts[1] = parts[1][1:] if len(parts[1]) == 2 and parts[1][0] == "0" else parts[1]
            release = {"full": full, "major": parts[0]}
            if len(parts) > 1:
                release["minor"] = parts[1]
            facts["release"] = release
    if full is None and values.get("VERSION_ID"):
        facts["release"] = _release(values["VERSION_ID"])
    machine = os.uname().machine
    architecture = machine
    if family == "Debian" and machine == "x86_64":
        architecture = "amd64"
    elif machine in ("i386", "i486", "i586", "i686") or "pentium" in machine:
        architecture = "i386"
    facts["architecture"] = architecture
    facts["hardware"] = machine
    distro = {}
    codename = values.get("VERSION_CODENAME")
    if not codename and "(" in values.get("VERSION", ""):
        codename = values["VERSION"].rsplit("(", 1)[1].rstrip(")").strip() or None
    if codename:
        distro["codename"] = codename
    if os_id:
        distro["id"] = os_id.capitalize()
    if values.get("PRETTY_NAME"):
        distro["description"] = values["PRETTY_NAME"]
    if "release" in facts:
        distro["release"] = dict(facts["release"])
    if distro:
        facts["distro"] = distro
    return {"os": facts}


def _kernel_facts(notes):
    uname = os.uname()
    version = uname.release.split("-", 1)[0]
    return {
        "kernel": uname.sysname,
        "kernelrelease": uname.release,
        "kernelversion": version,
        "kernelmajversion": ".".join(version.split(".")[:2]),
    }


def _processor_facts(notes):
    count = 0
    models = []
    physical = set()
    for line in _read(CPUINFO).splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        if key == "processor":
            count += 1
        elif key in ("model name", "cpu"):
            models.append(value.strip())
        elif key == "physical id":
            physical.add(value.strip())
    facts = {"count": count, "models": models}
    physicalcount = len(physical)
    if not physicalcount:
        packages = set()
        try:
            for name in os.listdir(SYS_CPU):
                if name.startswith("cpu") and name[3:].isdigit():
                    try:
                        packages.add(_read(os.path.join(
                            SYS_CPU, name, "topology", "physical_package_id")).strip())
                    except OSError:
                        pass
        except OSError:
            pass
        physicalcount = len(packages)
    facts["physicalcount"] = physicalcount
    facts["isa"] = _uname_processor()
    return {"processors": facts}


def _uname_processor():
    """What ``uname -p`` prints, which is Facter's ``processors.isa``.

    Upstream coreutils (Debian, Arch) and busybox (Alpine) print "unknown" on Linux; Red Hat's
    and SUSE's patched coreutils print the machine.
    """
    try:
        values = _read_os_release()
    except OSError:
        values = {}
    family = os_family(values.get("ID", "").lower(), values.get("ID_LIKE"))
    return os.uname().machine if family in ("RedHat", "Suse") else "unknown"


def human_bytes(count):
    """Facter's UnitConverter.bytes_to_human_readable: ``23.54 GiB``, ``512 bytes``."""
    if count < 1024:
        return "%d bytes" % count
    units = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    exponent = 0
    value = float(count)
    while value >= 1024 and exponent < len(units):
        value /= 1024.0
        exponent += 1
    value = round(value * 100) / 100.0
    if abs(value - 1024.0) < 1e-9 and exponent < len(units):
        value = 1.0
        exponent += 1
    return "%.2f %s" % (value, units[exponent - 1])


def capacity(used, total):
    """Facter's capacity text: ``"12.34%"`` (``"100%"`` when full, ``"0%"`` when unused)."""
    if used == total:
        return "100%"
    if used > 0 and total:
        return "%.2f%%" % (used * 100.0 / total)
    return "0%"


def _memory_block(total, available):
    used = total - available
    return {"total_bytes": total, "available_bytes": available, "used_bytes": used,
            "capacity": "%.2f%%" % (used * 100.0 / total) if total else "0.00%",
            "total": human_bytes(total), "available": human_bytes(available),
            "used": human_bytes(used)}


def _memory_facts(notes):
    values = {}
    for line in _read(MEMINFO).splitlines():
        key, sep, rest = line.partition(":")
        if sep:
            fields = rest.split()
            if fields and fields[0].isdigit():
                values[key] = int(fields[0]) * 1024
    total = values["MemTotal"]
    available = values.get("MemAvailable")
    if available is None:
        available = values["MemFree"] + values.get("Buffers", 0) + values.get("Cached", 0)
    memory = {"system": _memory_block(total, available)}
    if values.get("SwapTotal"):  # as Facter: no swap block on a host without swap
        memory["swap"] = _memory_block(values["SwapTotal"], values.get("SwapFree", 0))
    return {"memory": memory}


# Network file systems: statvfs on a dead server blocks, so they get no sizes.
NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs",
                       "fuse.sshfs", "fuse.glusterfs", "9p", "afs", "lustre")


def _unescape_mount(text):
    """/proc/mounts writes space, tab, newline and backslash as octal escapes (``\\040``)."""
    if "\\" not in text:
        return text
    return (text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
            .replace("\\134", "\\"))


def _mountpoint_facts(notes):
    mounts = {}
    for line in _read(MOUNTS).splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        device, path, filesystem, options = (_unescape_mount(field) for field in fields[:4])
        # Facter 4 (Resolvers::Mountpoints): drop /proc* and /sys* unless tmpfs, and autofs.
        if (path.startswith(("/proc", "/sys")) and filesystem != "tmpfs") or filesystem == "autofs":
            continue
        mount = {"device": device, "filesystem": filesystem, "options": options.split(",")}
        if filesystem not in NETWORK_FILESYSTEMS:
            try:
                stat = os.statvfs(path)
            except OSError:
                size = available = used = 0
            else:
                size = stat.f_blocks * stat.f_frsize
                available = stat.f_bavail * stat.f_frsize
                used = size - stat.f_bfree * stat.f_frsize
            mount.update({
                "size_bytes": size, "available_bytes": available, "used_bytes": used,
                "capacity": capacity(used, used + available), "size": human_bytes(size),
                "available": human_bytes(available), "used": human_bytes(used)})
        mounts[path] = mount
    return {"mountpoints": mounts}


def _uptime_facts(notes):
    seconds = int(float(_read(UPTIME).split()[0]))
    hours = seconds // 3600
    days = seconds // 86400
    if days >= 2:
        text = "%d days" % days
    elif days == 1:
        text = "1 day"
    elif hours:
        text = "%d:%02d hours" % (hours, seconds % 3600 // 60)
    else:
        text = "%d:%02d minutes" % (seconds // 60, seconds % 60)
    return {"system_uptime": {"seconds": seconds, "hours": hours, "days": days, "uptime": text}}


def _timezone_facts(notes):
    return {"timezone": time.strftime("%Z", time.localtime())}


def _identity_facts(notes):
    import grp
    import pwd

    uid = os.geteuid()
    gid = os.getegid()
    identity = {"uid": uid, "gid": gid, "privileged": uid == 0}
    try:
        identity["user"] = pwd.getpwuid(uid).pw_name
    except KeyError:
        notes.append("system facts: identity: uid %d has no passwd entry" % uid)
    try:
        identity["group"] = grp.getgrgid(gid).gr_name
    except KeyError:
        notes.append("system facts: identity: gid %d has no group entry" % gid)
    return {"identity": identity}


def _python_facts(notes):
    return {"python": {"version": "%d.%d.%d" % tuple(sys.version_info[:3])}}


def _path_facts(notes):
    path = os.environ.get("PATH")
    return {"path": path} if path is not None else {}


# -- networking -------------------------------------------------------------------------------

SIOCGIFADDR = 0x8915
SIOCGIFNETMASK = 0x891B


def _ipv4_of(probe, name):
    """The interface's (primary) IPv4 address and netmask with ioctl, or (None, None)."""
    import fcntl
    import struct

    request = struct.pack("256s", name.encode("utf-8")[:15])
    try:
        address = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)[20:24]
    except OSError:  # EADDRNOTAVAIL: no IPv4 address
        return None, None
    try:
        netmask = fcntl.ioctl(probe.fileno(), SIOCGIFNETMASK, request)[20:24]
    except OSError:
        netmask = None
    network = None
    if netmask is not None:
        network = bytes(a & b for a, b in zip(bytearray(address), bytearray(netmask)))
    return (socket.inet_ntoa(address),
            (socket.inet_ntoa(netmask), socket.inet_ntoa(network)) if netmask else None)


def _ipv6_by_interface():
    """``{name: [(address, prefix, scope)]}`` from /proc/net/if_inet6 (missing: no IPv6)."""
    found = {}
    try:
        text = _read(NET_INET6)
    except FileNotFoundError:
        return found
    scopes = {0x00: "global", 0x05: "site", 0x10: "host", 0x20: "link"}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6:
            continue
        address = socket.inet_ntop(socket.AF_INET6, bytes(bytearray.fromhex(fields[0])))
        found.setdefault(fields[5], []).append(
            (address, int(fields[2], 16), scopes.get(int(fields[3], 16), "global")))
    return found


def _ignored_ip(address):
    """Facter's Networking.ignored_ip_address: loopback, link-local, IPv6 unique-local."""
    if ":" in address:
        first = int(address.split(":", 1)[0] or "0", 16)
        return address == "::1" or (first & 0xFFC0) == 0xFE80 or (first & 0xFE00) == 0xFC00
    return address.startswith("127.") or address.startswith("169.254.")


def _netmask6(prefix):
    bits = (1 << 128) - (1 << (128 - prefix)) if prefix else 0
    return socket.inet_ntop(socket.AF_INET6, bits.to_bytes(16, "big"))


def _network6(address, prefix):
    value = int.from_bytes(socket.inet_pton(socket.AF_INET6, address), "big")
    bits = (1 << 128) - (1 << (128 - prefix)) if prefix else 0
    return socket.inet_ntop(socket.AF_INET6, (value & bits).to_bytes(16, "big"))


def _primary_interface():
    """The interface of the IPv4 default route (/proc/net/route), as Facter finds it first."""
    try:
        text = _read(NET_ROUTE)
    except OSError:
        return None
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000" \
                and fields[0] != "*":
            return fields[0]
    return None


def _interface_facts(names, notes):
    interfaces = {}
    inet6 = _ipv6_by_interface()
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for name in names:
            entry = {}
            folder = os.path.join(SYS_NET, name)
            try:
                mac = _read(os.path.join(folder, "address")).strip()
                if mac and mac.strip("0:"):
                    entry["mac"] = mac
            except OSError:
                pass
            try:
                entry["mtu"] = int(_read(os.path.join(folder, "mtu")).strip())
            except (OSError, ValueError):
                pass
            address, mask = _ipv4_of(probe, name)
            if address:
                entry["ip"] = address
                entry["bindings"] = [{"address": address}]
                if mask:
                    entry["netmask"], entry["network"] = mask
                    entry["bindings"][0].update({"netmask": mask[0], "network": mask[1]})
            addresses = inet6.get(name, [])
            if addresses:
                order = {"global": 0, "site": 1, "link": 2, "host": 3}
                ranked = sorted(addresses, key=lambda item: (_ignored_ip(item[0]), order[item[2]]))
                entry["bindings6"] = [
                    {"address": item[0], "netmask": _netmask6(item[1]),
                     "network": _network6(item[0], item[1]), "scope6": item[2]}
                    for item in ranked]
                best = entry["bindings6"][0]
                entry["ip6"] = best["address"]
                entry["netmask6"] = best["netmask"]
                entry["network6"] = best["network"]
                entry["scope6"] = best["scope6"]
            interfaces[name] = entry
    finally:
        probe.close()
    return interfaces


def _hostname_facts():
    """Facter's Resolvers::Linux::Hostname: gethostname, else getaddrinfo's canonical name."""
    full = socket.gethostname()
    hostname, _, domain = full.partition(".")
    fqdn = full if domain else None
    if not domain and hostname:
        try:
            canonical = socket.getaddrinfo(hostname, 0, socket.AF_UNSPEC, socket.SOCK_STREAM,
                                           0, socket.AI_CANONNAME)[0][3]
        except (OSError, IndexError, UnicodeError):
            canonical = ""
        if canonical.startswith(hostname + ".") and len(canonical) > len(hostname) + 1:
            fqdn = canonical
            domain = canonical[len(hostname) + 1:]
    if not domain:
        try:
            text = _read(RESOLV_CONF)
        except OSError:
            text = ""
        for keyword in ("domain", "search"):
            for line in text.splitlines():
                fields = line.split()
                if len(fields) >= 2 and fields[0] == keyword:
                    domain = fields[1]
                    break
            if domain:
                break
    facts = {"hostname": hostname}
    if domain:
        facts["domain"] = domain
    facts["fqdn"] = fqdn or ("%s.%s" % (hostname, domain) if domain else hostname)
    return facts


def _networking_facts(notes):
    networking = _hostname_facts()
    try:
        names = sorted(os.listdir(SYS_NET))
    except OSError as error:
        notes.append("system facts: networking.interfaces: %s" % _reason(error))
        return {"networking": networking}
    interfaces = _interface_facts(names, notes)
    networking["interfaces"] = interfaces
    primary = _primary_interface()
    if primary not in interfaces:
        primary = None
        for name, entry in interfaces.items():
            if any(not _ignored_ip(item["address"])
                   for item in entry.get("bindings", []) + entry.get("bindings6", [])):
                primary = name
                break
    if primary:
        networking["primary"] = primary
        for key in ("ip", "ip6", "mac", "mtu", "netmask", "netmask6", "network", "network6",
                    "scope6"):
            if key in interfaces[primary]:
                networking[key] = interfaces[primary][key]
    return {"networking": networking}


# -- virtual: what Facter's VirtualDetector finds, from files only ----------------------------

# Facter's HYPERVISORS_HASH (DMI product name → virtual), then sys_vendor words.
DMI_PRODUCTS = (("VMware", "vmware"), ("VirtualBox", "virtualbox"), ("Parallels", "parallels"),
                ("KVM", "kvm"), ("Virtual Machine", "hyperv"), ("RHEV Hypervisor", "rhev"),
                ("oVirt Node", "ovirt"), ("HVM domU", "xenhvm"), ("Bochs", "bochs"),
                ("OpenBSD", "vmm"), ("BHYVE", "bhyve"), ("Standard PC", "kvm"),
                ("OpenStack", "kvm"))
DMI_VENDORS = (("QEMU", "kvm"), ("Amazon EC2", "kvm"), ("Google", "gce"),
               ("Microsoft Corporation", "hyperv"), ("innotek", "virtualbox"),
               ("VMware", "vmware"), ("Xen", "xenhvm"), ("Parallels", "parallels"))
# What Facter's lspci fallback matches, by PCI vendor id.
PCI_VENDORS = {"0x1af4": "kvm", "0x15ad": "vmware", "0x80ee": "virtualbox",
               "0x5853": "xenhvm", "0x1414": "hyperv", "0x1ab8": "parallels"}
PHYSICAL = ("physical", "xen0", "vmware_server", "vmware_workstation", "openvzhn",
            "vserver_host")


def _read_quiet(path):
    try:
        return _read(path)
    except OSError:
        return ""


def _container():
    """docker / lxc / podman / systemd_nspawn, as Facter's Containers resolver and virt-what."""
    cgroup = _read_quiet("/proc/1/cgroup")
    if "docker/" in cgroup or "/docker-" in cgroup or os.path.exists("/.dockerenv"):
        return "docker"
    if ":/lxc/" in cgroup or "/lxc.payload" in cgroup:
        return "lxc"
    environ = _read_quiet("/proc/1/environ")
    if "container=lxc" in environ:
        return "lxc"
    if "container=systemd-nspawn" in environ:
        return "systemd_nspawn"
    if "container=podman" in environ or os.path.exists("/run/.containerenv"):
        return "podman"
    mountinfo = _read_quiet("/proc/self/mountinfo")
    if "/docker/containers/" in mountinfo:
        return "docker"
    if "/libpod-" in mountinfo or "/containers/storage/" in mountinfo:
        return "podman"
    return None


def _hypervisor():
    bios = _read_quiet(os.path.join(DMI, "bios_vendor"))
    if "Google" in bios:
        return "gce"
    if os.path.isdir("/proc/xen"):
        return "xen0" if "control_d" in _read_quiet("/proc/xen/capabilities") else "xenu"
    if os.path.exists("/proc/vz") and not os.path.exists("/proc/bc"):
        return "openvze"
    if os.path.exists("/proc/bc"):
        return "openvzhn"
    if "Amazon EC2" in bios:
        return "kvm"
    product = _read_quiet(os.path.join(DMI, "product_name"))
    for word, value in DMI_PRODUCTS:
        if word in product:
            return value
    vendor = _read_quiet(os.path.join(DMI, "sys_vendor"))
    for word, value in DMI_VENDORS:
        if word in vendor:
            return value
    clock = _read_quiet("/sys/devices/system/clocksource/clocksource0/current_clocksource")
    if "kvm-clock" in clock:
        return "kvm"
    if "hyperv" in clock:
        return "hyperv"
    if "xen" in clock:
        return "xenhvm"
    try:
        for device in os.listdir("/sys/bus/pci/devices"):
            vendor_id = _read_quiet("/sys/bus/pci/devices/%s/vendor" % device).strip()
            if vendor_id in PCI_VENDORS:
                return PCI_VENDORS[vendor_id]
    except OSError:
        pass
    if os.path.isdir("/sys/bus/virtio/devices") and os.listdir("/sys/bus/virtio/devices"):
        return "kvm"
    return None


def _virtual_facts(notes):
    virtual = _container() or _hypervisor() or "physical"
    return {"virtual": virtual, "is_virtual": virtual not in PHYSICAL}


# Each source: (name for notes, function(notes) -> facts). Order does not matter: no two
# sources write the same key.
SYSTEM_SOURCES = [
    ("os", _os_facts),
    ("kernel", _kernel_facts),
    ("networking", _networking_facts),
    ("processors", _processor_facts),
    ("memory", _memory_facts),
    ("mountpoints", _mountpoint_facts),
    ("system_uptime", _uptime_facts),
    ("timezone", _timezone_facts),
    ("virtual", _virtual_facts),
    ("identity", _identity_facts),
    ("python", _python_facts),
    ("path", _path_facts),
]
'''
