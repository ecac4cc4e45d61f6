"""rpcutil.inventory's facts, checked against this machine's own files (and Facter).

No mocks of /proc or /sys: every expected value is read here from the same real files (or
from ``os``/``socket``) by code independent of the module's; a failing source is made by
pointing one of the module's path constants at a file that does not exist. The fact code is
rpcutil's FACTS_SOURCE (compiled on first use); ``fact_code()`` gives its namespace from a fresh
load of the module file.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import platform
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from module_support import REPO, load_module

sys.path.insert(0, str(REPO / "tests" / "unit" / "runtime"))
from runtime_harness import RuntimeProcess  # noqa: E402
from test_portability import STDLIB_36, imported_names  # noqa: E402

FACTER = shutil.which("facter")


def os_release() -> dict:
    values = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value.strip().strip('"')
    return values


def meminfo() -> dict:
    return {line.split(":")[0]: int(line.split()[1]) * 1024
            for line in Path("/proc/meminfo").read_text().splitlines() if line.split()[1].isdigit()}


def fact_code() -> dict:
    """The namespace of a freshly loaded rpcutil's FACTS_SOURCE."""
    return load_module("rpcutil")["facts_code"]()


def host(state_dir="/nonexistent", facts=None, classes=(), agents=()):
    """The runtime's Host as a module sees it (name, state_dir, facts, classes, agents)."""
    return SimpleNamespace(name="dev1", state_dir=str(state_dir), facts=dict(facts or {}),
                           classes=list(classes), agents=list(agents))


@pytest.fixture(scope="module")
def gathered():
    module = fact_code()
    notes: list = []
    return module["system_facts"](notes), notes


def test_facts_source_is_python_36_and_stdlib_only():
    module = load_module("rpcutil")
    tree = ast.parse(module["FACTS_SOURCE"], feature_version=(3, 6))
    assert imported_names(tree) <= STDLIB_36
    assert "collect" not in module  # compiled on first use only, not for every ping


def test_no_source_fails_on_this_machine(gathered):
    facts, notes = gathered
    assert notes == []
    assert {"os", "kernel", "networking", "processors", "memory", "mountpoints", "system_uptime",
            "timezone", "virtual", "is_virtual", "identity", "python", "path"} <= set(facts)


def test_os_from_os_release(gathered):
    facts, _ = gathered
    release = os_release()
    assert facts["os"]["release"]["major"] == release["VERSION_ID"].split(".")[0]
    if release["ID"] == "debian":  # Facter reads the point release (12.11) there
        full = Path("/etc/debian_version").read_text().strip()
        assert facts["os"]["release"]["full"] == full
        assert facts["os"]["release"]["minor"] == full.split(".")[1]
        assert facts["os"]["family"] == "Debian" and facts["os"]["name"] == "Debian"
    else:
        assert facts["os"]["release"]["full"] == release["VERSION_ID"]
    assert facts["os"]["distro"]["codename"] == release["VERSION_CODENAME"]
    assert facts["os"]["distro"]["description"] == release["PRETTY_NAME"]
    assert facts["os"]["hardware"] == os.uname().machine
    expected = {"x86_64": "amd64"}.get(os.uname().machine, os.uname().machine) \
        if facts["os"]["family"] == "Debian" else os.uname().machine
    assert facts["os"]["architecture"] == expected


def test_os_family_and_name_rules():
    module = fact_code()
    family, name = module["os_family"], module["os_name"]
    assert family("ubuntu", "debian") == "Debian"
    assert family("rocky", "rhel centos fedora") == "RedHat"
    assert family("fedora", None) == "RedHat"
    assert family("opensuse-leap", "suse opensuse") == "Suse"
    assert family("alpine", None) == "Alpine"
    assert family("arch", None) == "Archlinux"
    assert name("Debian GNU/Linux") == "Debian"
    assert name("Red Hat Enterprise Linux") == "RedHat"
    assert name("Arch Linux") == "Archlinux"
    assert name("Alpine Linux") == "Alpine"


def test_kernel_from_uname(gathered):
    facts, _ = gathered
    uname = os.uname()
    assert facts["kernel"] == uname.sysname == "Linux"
    assert facts["kernelrelease"] == uname.release
    assert facts["kernelversion"] == uname.release.split("-")[0]


def test_processors_from_cpuinfo(gathered):
    processors = gathered[0]["processors"]
    assert processors["count"] == os.cpu_count()
    assert processors["count"] >= len(os.sched_getaffinity(0))
    cpuinfo = Path("/proc/cpuinfo").read_text()
    assert processors["count"] == len(re.findall(r"^processor\s*:", cpuinfo, re.M))
    assert processors["models"] == [value.strip() for value in
                                    re.findall(r"^model name\s*:(.*)$", cpuinfo, re.M)]
    physical = set(re.findall(r"^physical id\s*:\s*(\d+)", cpuinfo, re.M))
    if physical:
        assert processors["physicalcount"] == len(physical)
    assert processors["physicalcount"] >= 1


def test_memory_from_meminfo(gathered):
    memory = gathered[0]["memory"]
    values = meminfo()
    system = memory["system"]
    assert system["total_bytes"] == values["MemTotal"]
    assert abs(system["available_bytes"] - values["MemAvailable"]) < values["MemTotal"] * 0.05
    assert system["used_bytes"] == system["total_bytes"] - system["available_bytes"]
    assert re.fullmatch(r"\d+\.\d\d%", system["capacity"])
    assert float(system["capacity"][:-1]) == pytest.approx(
        system["used_bytes"] * 100 / system["total_bytes"], abs=0.006)
    assert ("swap" in memory) == (values["SwapTotal"] > 0)  # Facter: no swap, no block


def test_capacity_and_sizes_as_facter_prints_them():
    module = fact_code()
    assert module["capacity"](0, 0) == "100%" and module["capacity"](0, 10) == "0%"
    assert module["capacity"](1234, 10000) == "12.34%"
    human = module["human_bytes"]
    assert (human(512), human(2048), human(25275990016)) == ("512 bytes", "2.00 KiB", "23.54 GiB")


def test_networking_from_socket_proc_and_sys():
    # Other tests on this machine make and remove interfaces (network namespaces): the
    # interfaces seen must lie between what /sys/class/net lists before and after the gather.
    before = set(os.listdir("/sys/class/net"))
    networking = fact_code()["system_facts"]([])["networking"]
    after = set(os.listdir("/sys/class/net"))
    assert networking["hostname"] == socket.gethostname().split(".")[0]
    assert networking["fqdn"].split(".")[0] == networking["hostname"]
    assert before & after <= set(networking["interfaces"]) <= before | after
    for name in sorted(before & after & {"lo", "eth0"} or before & after):
        entry = networking["interfaces"][name]
        assert entry["mtu"] == int(Path(f"/sys/class/net/{name}/mtu").read_text())
        mac = Path(f"/sys/class/net/{name}/address").read_text().strip()
        assert entry.get("mac") == (mac if mac.strip("0:") else None)
    assert networking["interfaces"]["lo"]["ip"] == "127.0.0.1"
    inet6 = Path("/proc/net/if_inet6").read_text() if Path("/proc/net/if_inet6").exists() else ""
    if " lo\n" in inet6 or inet6.rstrip().endswith(" lo"):
        assert networking["interfaces"]["lo"]["ip6"] == "::1"
    routes = [line.split() for line in Path("/proc/net/route").read_text().splitlines()[1:]]
    default = [fields[0] for fields in routes if fields[1] == "00000000" and fields[7] == "00000000"]
    if default:
        primary = networking["interfaces"][default[0]]
        assert networking["primary"] == default[0]
        assert networking["ip"] == primary["ip"] and networking["mac"] == primary["mac"]
        # the address is really this machine's: a socket can bind it
        with socket.socket() as probe:
            probe.bind((networking["ip"], 0))


def mount_table() -> dict:
    table = {}
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        table[fields[1].replace("\\040", " ")] = fields[2]
    return table


def test_mountpoints_from_proc_mounts_and_statvfs():
    before = mount_table()  # other tests mount and unmount (network namespaces) meanwhile
    mounts = fact_code()["system_facts"]([])["mountpoints"]
    after = mount_table()
    assert mounts["/"]["filesystem"] == before["/"]
    stat = os.statvfs("/")
    assert mounts["/"]["size_bytes"] == stat.f_blocks * stat.f_frsize
    assert abs(mounts["/"]["available_bytes"] - stat.f_bavail * stat.f_frsize) < 256 * 2**20
    assert "/proc" not in mounts and not any(path.startswith("/sys") and entry["filesystem"] != "tmpfs"
                                             for path, entry in mounts.items())
    assert set(mounts) <= set(before) | set(after)
    assert {path for path, kind in before.items() if path in after and kind == "ext4"} <= set(mounts)


def test_uptime_timezone_identity_python_path(gathered):
    facts, _ = gathered
    assert abs(facts["system_uptime"]["seconds"]
               - float(Path("/proc/uptime").read_text().split()[0])) < 5
    assert facts["timezone"] == time.strftime("%Z")
    identity = facts["identity"]
    assert identity["uid"] == os.geteuid() and identity["gid"] == os.getegid()
    assert identity["user"] == pwd.getpwuid(os.geteuid()).pw_name
    assert identity["privileged"] == (os.geteuid() == 0)
    assert facts["python"]["version"] == platform.python_version()
    assert facts["path"] == os.environ["PATH"]


def test_virtual_from_container_and_vm_files(gathered):
    facts, _ = gathered
    if os.path.exists("/.dockerenv"):
        assert facts["virtual"] == "docker"
    elif os.path.exists("/run/.containerenv"):
        assert facts["virtual"] == "podman"
    assert facts["is_virtual"] == (facts["virtual"] not in ("physical", "xen0"))


def test_a_failing_source_drops_only_its_facts_with_a_note():
    module = fact_code()
    module["MEMINFO"] = "/nonexistent/meminfo"

    def broken(notes):
        raise RuntimeError("cannot tell")

    module["SYSTEM_SOURCES"] = [(name, broken if name == "timezone" else source)
                                for name, source in module["SYSTEM_SOURCES"]]
    notes: list = []
    facts = module["system_facts"](notes)
    assert "memory" not in facts and "timezone" not in facts
    assert facts["kernel"] == "Linux" and facts["processors"]["count"] == os.cpu_count()
    assert notes == ["system facts: memory: /nonexistent/meminfo: No such file or directory",
                     "system facts: timezone: RuntimeError: cannot tell"]


@pytest.fixture
def etc(tmp_path):
    """An /etc/orch stand-in with facts.d: a .json, a .txt, a script that must not run."""
    folder = tmp_path / "etc"
    (folder / "facts.d").mkdir(parents=True)
    (folder / "facts.d" / "10-site.json").write_text(json.dumps(
        {"cluster": "ext", "role": "db", "os": {"family": "External"}}))
    (folder / "facts.d" / "20-rack.txt").write_text(
        "# a comment=ignored\nrack=r12\nowner=ops=team\nnot a fact\nempty=\n")
    (folder / "facts.d" / "broken.json").write_text("[1, 2]")
    witness = tmp_path / "script-ran"
    script = folder / "facts.d" / "dynamic.sh"
    script.write_text(f"#!/bin/sh\ntouch {witness}\necho dynamic=yes\n")
    script.chmod(0o755)
    (folder / "classes").write_text("# roles\nweb\n  db  # primary\n\n")
    return SimpleNamespace(folder=folder, witness=witness, script=script)


def test_external_facts_json_and_txt_executables_not_run(etc):
    module = fact_code()
    notes: list = []
    found = module["external_facts"]([str(etc.folder / "facts.d")], notes)
    assert found == [(str(etc.folder / "facts.d" / "10-site.json"),
                      {"cluster": "ext", "role": "db", "os": {"family": "External"}}),
                     (str(etc.folder / "facts.d" / "20-rack.txt"),
                      {"rack": "r12", "owner": "ops=team"})]
    assert not etc.witness.exists()
    assert f"external facts: {etc.script}: executable not run (orch reads only .json and .txt)" \
        in notes
    assert any("broken.json" in note and "expected a JSON object" in note for note in notes)


def test_precedence_system_external_host_json(etc, tmp_path):
    module = fact_code()
    module["PUPPET_CLASSES"] = (str(tmp_path / "nonexistent" / "classes.txt"),
                                str(tmp_path / "puppet-classes.txt"))
    (tmp_path / "puppet-classes.txt").write_text("settings\nprofile::base\n")
    state = tmp_path / "state"
    (state / "facts.d").mkdir(parents=True)
    (state / "facts.d" / "mine.txt").write_text("role=cache\n")
    result = module["collect"](host(state, facts={"cluster": "host"}, classes=["lab"]), False,
                               etc_dir=str(etc.folder))
    facts = result["facts"]
    assert facts["cluster"] == "host"                 # host.json over external
    assert facts["role"] == "cache"                   # state folder's facts.d over /etc/orch's
    assert facts["os"]["family"] == "External"        # external over system ...
    assert facts["os"]["release"]["major"] == os_release()["VERSION_ID"].split(".")[0]  # merged
    assert facts["rack"] == "r12" and facts["kernel"] == "Linux"
    assert result["fact_sources"] == [
        "system", str(etc.folder / "facts.d" / "10-site.json"),
        str(etc.folder / "facts.d" / "20-rack.txt"), str(state / "facts.d" / "mine.txt"),
        "host.json"]
    assert result["classes"] == ["db", "lab", "profile::base", "settings", "web"]
    assert not etc.witness.exists()


@pytest.mark.skipif(FACTER is None, reason="facter is not installed (scripts/system-deps.sh "
                    "installs Debian's facter package)")
def test_facter_layer_between_system_and_external(etc):
    module = fact_code()
    module["FACTER_TIMEOUT"] = 120  # the layering is tested here, not Facter's speed under load
    result = module["collect"](host(), True, etc_dir=str(etc.folder))
    assert result["fact_sources"][:2] == ["system", "facter"], result["notes"]
    facts = result["facts"]
    assert "facterversion" in facts                   # a fact only Facter has
    assert facts["os"]["family"] == "External"        # external over Facter
    assert facts["mountpoints"]["/"]["size_bytes"] > 0  # system facts Facter lacks stay


@pytest.mark.skipif(FACTER is None, reason="facter is not installed (scripts/system-deps.sh "
                    "installs Debian's facter package)")
def test_same_values_as_facter_key_by_key(gathered):
    facts, _ = gathered
    done = subprocess.run([FACTER, "--json"], capture_output=True, timeout=120, check=False)
    theirs = json.loads(done.stdout)
    for key in ("name", "family", "release", "architecture", "hardware"):
        assert facts["os"][key] == theirs["os"][key], key
    for key in ("codename", "id", "description", "release"):
        assert facts["os"]["distro"][key] == theirs["os"]["distro"][key], key
    for key in ("kernel", "kernelrelease", "kernelversion", "kernelmajversion", "timezone"):
        assert facts[key] == theirs[key], key
    for key in ("count", "physicalcount", "models", "isa"):
        assert facts["processors"][key] == theirs["processors"][key], key
    assert facts["memory"]["system"]["total_bytes"] == pytest.approx(
        theirs["memory"]["system"]["total_bytes"], rel=0.01)
    assert facts["memory"]["system"]["total"] == theirs["memory"]["system"]["total"]
    assert ("swap" in facts["memory"]) == ("swap" in theirs["memory"])
    for key in ("hostname", "fqdn", "primary", "ip", "ip6", "mac", "mtu"):
        assert facts["networking"].get(key) == theirs["networking"].get(key), key
    stable = set(os.listdir("/sys/class/net")) & {"lo", "eth0"}  # others come and go
    for name, entry in theirs["networking"]["interfaces"].items():
        if name not in stable:
            continue
        for key in ("ip", "ip6", "mac", "mtu", "netmask", "netmask6"):
            assert facts["networking"]["interfaces"][name].get(key) == entry.get(key), (name, key)
    for key in ("uid", "gid", "user", "group", "privileged"):
        assert facts["identity"][key] == theirs["identity"][key], key
    if "virtual" in theirs:
        assert (facts["virtual"], facts["is_virtual"]) == (theirs["virtual"], theirs["is_virtual"])


def test_through_the_real_runtime(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "host.json").write_text(json.dumps(
        {"name": "dev1", "facts": {"cluster": "alfa"}, "classes": ["web"], "agents": ["rpcutil"]}))
    (state / "facts.d").mkdir()
    (state / "facts.d" / "site.json").write_text('{"site": "ams"}')
    runtime = RuntimeProcess(state)
    try:
        reply = runtime.call("rpcutil", "inventory")
        assert reply["status"] == "OK", reply
        data = reply["data"]
        assert data["facts"]["cluster"] == "alfa" and data["facts"]["site"] == "ams"
        assert data["facts"]["os"]["family"] == "Debian" if os_release()["ID"] == "debian" else True
        assert data["facts"]["kernelrelease"] == os.uname().release
        assert data["facts"]["networking"]["hostname"] == socket.gethostname().split(".")[0]
        assert data["fact_sources"] == ["system", str(state / "facts.d" / "site.json"), "host.json"]
        assert isinstance(data["notes"], list)
        assert "web" in data["classes"] and data["agents"] == ["rpcutil"]
        assert data["facts"]["python"]["version"] == data["python"]
        fact = runtime.call("rpcutil", "get_fact", {"fact": "os.release.major"})
        assert fact["data"]["value"] == os_release()["VERSION_ID"].split(".")[0]
        assert runtime.call("rpcutil", "get_fact", {"fact": "cluster"})["data"]["value"] == "alfa"
        assert runtime.call("rpcutil", "ping")["status"] == "OK"
        if FACTER:
            with_facter = runtime.call("rpcutil", "inventory", {"facter": True})
            assert with_facter["status"] == "OK", with_facter
            assert "facter" in with_facter["data"]["fact_sources"]
        bad = runtime.call("rpcutil", "inventory", {"facter": "maybe"})
        assert bad["status"] == "InvalidData"
    finally:
        assert runtime.close() == 0


def _python36():
    """A Python 3.6 on PATH, or one pyenv installed (its shims only answer for the active one)."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for candidate in (shutil.which("python3.6"),
                      *sorted(glob.glob(os.path.join(root, "versions", "3.6*", "bin", "python3.6")))):
        if candidate and os.path.exists(candidate):
            done = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                  capture_output=True, text=True, check=False)
            if done.returncode == 0 and done.stdout.strip() == "(3, 6)":
                return candidate
    return None


PYTHON36 = _python36()


@pytest.mark.skipif(PYTHON36 is None, reason="no Python 3.6 interpreter on this machine")
def test_gathers_on_python_36():
    code = ("import json, sys\nfrom types import SimpleNamespace\n"
            "ns = {'__name__': 'orch_module_rpcutil'}\n"
            "exec(compile(open(sys.argv[1]).read(), sys.argv[1], 'exec'), ns)\n"
            "h = SimpleNamespace(name='h', state_dir='/nonexistent', facts={}, classes=[], agents=[])\n"
            "print(json.dumps(ns['facts_code']()['collect'](h, False)))\n")
    done = subprocess.run([PYTHON36, "-I", "-S", "-c", code, str(REPO / "modules" / "rpcutil.py")],
                          capture_output=True, text=True, check=True, timeout=60)
    result = json.loads(done.stdout)
    assert result["notes"] == [] and result["fact_sources"] == ["system"]
    facts = result["facts"]
    assert facts["python"]["version"].startswith("3.6.")
    assert facts["kernelrelease"] == os.uname().release
    assert facts["processors"]["count"] == os.cpu_count()
    assert facts["memory"]["system"]["total_bytes"] == meminfo()["MemTotal"]
