"""orch's benchmarks against Ansible, pyinfra and the bare-SSH floor, on a lab of the size asked.

    .venv/bin/python bench/run.py CASE [--hosts 200] [--pairs 3] [--sizes 50,200,500,1000]

CASE is one of:
  call      orch call rpcutil.ping | ansible -m ping -f 50 (defaults, cold) | ansible tuned
            (pipelining, fixed interpreter) | bench/floor.py (asyncssh connect + python3 -c)
  play      orch play bench/plays/play5.yml (5 steps) | orch call rpcutil.ping on the same hosts |
            ansible-playbook play5-ansible.yml (defaults, tuned) | pyinfra play5_pyinfra.py
  scale     orch call rpcutil.ping and the floor at each of --sizes hosts
  discover  bench/discover.py (100,000-host offline discovery; writes its own section)
  all       call, scale, play, discover in that order
  report    rewrite bench/REPORT.md's sections from the newest results JSON of each case

Why it is built this way (see /work/shared/bench-baseline.md for the measurements behind it):
- Every host shares this machine's cores, so runs are CPU-bound and noisy: each round runs every
  variant once, alternating (A B C A B C ...), after one warm-up round that is not counted, and
  ratios are taken round by round, not from medians of separate series.
- Controller CPU is the whole process tree's user+sys (bench/timed.py: a subreaper, so ssh
  ControlPersist masters that daemonize are still counted), peak RSS the largest process.
- Ansible runs are cold: a fresh ControlPath folder per run and ~/.ansible/cp removed, masters
  ended after the run (inside the timed wall).
- The load average before each run is recorded: other work on the machine shows up there.

The lab (``orch lab up``) lives in bench/results/lab/ (git-ignored) and is stopped at the end
(``--keep-lab`` keeps it). ``--hosts N`` is the total number of lab hosts (lb1, notify1 and
N-2 app servers); the play case targets the web hosts (N-2). Results: bench/results/
<case>-<hosts>-<time>.json; tables: bench/REPORT.md, between ``<!-- section: CASE -->`` markers
(other sections, such as discover's and the hand-written findings, are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
RESULTS = BENCH / "results"
REPORT = BENCH / "REPORT.md"
VENV_BIN = REPO / ".venv" / "bin"
PEERS_BIN = BENCH / ".venv-peers" / "bin"
PYTHON = VENV_BIN / "python"
ORCH = VENV_BIN / "orch"
LAB = RESULTS / "lab"
CASES = ("call", "play", "scale", "discover")
PLAY_APPS_MAX = 200  # app servers (one Python process each) started for the play case

TARGETS = {
    "call": "at 200 hosts: >= 8x faster than default Ansible, <= 1.3x the floor, <= 3 ms CPU/host",
    "play": "at 200 hosts: >= 20x faster than default Ansible, >= 15x tuned, <= 1.5x the 1-step call",
    "scale": "<= 3 ms controller CPU/host, <= 100 MiB RSS at 1,000 hosts",
}


def _count(pattern: str, multi: bool = False) -> Callable[[str], int]:
    """A parser for a tool's own success count (``multi``: count matching lines)."""
    regex = re.compile(pattern, re.MULTILINE)

    def count(text: str) -> int:
        if multi:
            return len(regex.findall(text))
        found = regex.findall(text)
        return int(found[-1]) if found else 0

    return count


def _count_orch_play(text: str) -> int:
    """Hosts OK in every step of an orch play: the smallest okcount of its done lines."""
    counts = [int(value) for value in re.findall(r"okcount=(\d+)", text)]
    return min(counts) if counts else 0


def _count_recap(steps: int) -> Callable[[str], int]:
    """Hosts whose PLAY RECAP shows ``steps`` ok tasks and nothing failed or unreachable."""
    regex = re.compile(r"^\S+\s+:\s+ok=(\d+)\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)",
                       re.MULTILINE)

    def count(text: str) -> int:
        return sum(1 for ok, unreachable, failed in regex.findall(text)
                   if int(ok) == steps and unreachable == "0" and failed == "0")

    return count


def _count_pyinfra(text: str) -> int:
    """Hosts that succeeded in every operation: the smallest Success count of pyinfra's results
    table (rows ``name  hosts  success  error  no-change``, Grand total excluded)."""
    table = text.split("--> Results:", 1)[-1]
    rows = re.findall(r"^\s+(.+?)\s{2,}(\d+)\s+(\d+|-)\s+(\d+|-)", table, re.MULTILINE)
    counts = [int(success) if success != "-" else 0
              for name, _, success, _ in rows if name.strip() != "Grand total"]
    return min(counts) if counts and "--> Results:" in text else 0


@dataclass
class Variant:
    """One command to time: what it runs, where, and how to count the hosts it reached."""

    name: str
    argv: list[str]
    count: Callable[[str], int]
    expect: int
    env: dict = field(default_factory=dict)
    cwd: Path = LAB.parent
    cold_ansible: bool = False
    note: str = ""


# ---------------------------------------------------------------------------------------------
# The lab


def orch_env() -> dict:
    """The environment for every command: no ORCH_* or ANSIBLE_* leaking in from the caller."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("ORCH_", "ANSIBLE_"))}


def lab_up(hosts: int, max_apps: int) -> dict:
    """Start (or resize) the bench lab to ``hosts`` hosts and write what each tool needs."""
    work = LAB.parent
    work.mkdir(parents=True, exist_ok=True)
    inventory = work / "lab.yml"
    cmd = [str(ORCH), "lab", "up", "-n", str(max(1, hosts - 2)), "--dir", str(LAB),
           "--inventory-out", str(inventory), "--max-apps", str(max_apps)]
    done = subprocess.run(cmd, cwd=work, env=orch_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"lab up failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    settings = json.loads((LAB / "lab.json").read_text())
    (work / "orch.cfg").write_text(
        "[defaults]\n"
        f"inventory = {inventory}\n"
        f"module_paths = {REPO / 'modules'}\n"
        f"fact_cache = sqlite:///{work / 'facts.db'}\n"
        f"journal = sqlite:///{work / 'journal.db'}\n"
        f"known_hosts = {LAB / 'known_hosts'}\n"
        f"lab_dir = {LAB}\n"
    )
    # Ansible with its defaults discovers the interpreter: drop the lab INI's fixed one.
    ini = Path(settings["inventory_ini"]).read_text()
    (work / "ansible.ini").write_text(
        "".join(line for line in ini.splitlines(keepends=True)
                if not line.startswith("ansible_python_interpreter")))
    check_load = _check_load_command()
    _write_pyinfra_inventory(work / "pyinfra_inventory.py", settings, check_load)
    return {"settings": settings, "check_load": check_load, "hosts": hosts, "max_apps": max_apps,
            "lab_up": " ".join(cmd)}


def lab_down() -> None:
    if (LAB / "lab.json").exists():
        subprocess.run([str(ORCH), "lab", "down", "--dir", str(LAB)], cwd=LAB.parent,
                       env=orch_env(), capture_output=True, text=True)
    try:  # bench/timed.py's cpuacct group for the sshd: removable once its processes are gone
        os.rmdir("/sys/fs/cgroup/cpuacct/orch-bench-sshd")
    except OSError:
        pass


def _check_load_command() -> str:
    """The lab's own check_load command line (thresholds from this machine's cores)."""
    for line in (LAB / "hosts" / "dev1" / "nrpe.cfg").read_text().splitlines():
        if line.startswith("command[check_load]="):
            return line.split("=", 1)[1].strip()
    raise SystemExit("no check_load in the lab's nrpe.cfg")


def _web_hosts(settings: dict) -> list[tuple[str, str]]:
    sys.path.insert(0, str(BENCH))
    from floor import lab_hosts

    _, hosts = lab_hosts(LAB)
    return [(name, address) for name, address in hosts if name.startswith("dev")]


def _write_pyinfra_inventory(path: Path, settings: dict, check_load: str) -> None:
    lines = ["# Written by bench/run.py from the lab's inventory: the web hosts, for pyinfra.",
             "web = (["]
    for name, address in _web_hosts(settings):
        lines.append(f"    ({name!r}, {{'ssh_hostname': {address!r}}}),")
    data = {
        "ssh_port": settings["port"], "ssh_user": settings["user"],
        "ssh_key": str(LAB / "client_key"), "ssh_known_hosts_file": str(LAB / "known_hosts"),
        "ssh_strict_host_key_checking": "yes", "lab_dir": str(LAB),
        "app_port": settings["app_port"], "check_load": check_load,
    }
    lines.append(f"], {data!r})")
    path.write_text("\n".join(lines) + "\n")


def install_peers() -> dict:
    """bench/.venv-peers via scripts/bench-peers.sh, then the versions it reports."""
    done = subprocess.run(["bash", str(REPO / "scripts" / "bench-peers.sh")], cwd=REPO,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"installing the peers failed:\n{done.stdout}{done.stderr}")
    versions = [line for line in done.stdout.splitlines() if line.strip()]
    return {"ansible": versions[0] if versions else "?",
            "pyinfra": versions[1] if len(versions) > 1 else "?"}


# ---------------------------------------------------------------------------------------------
# Variants


def peers_env(extra: dict | None = None) -> dict:
    env = orch_env()
    env["PATH"] = f"{PEERS_BIN}:{env.get('PATH', '')}"
    env.update(extra or {})
    return env


TUNED = {"ANSIBLE_PIPELINING": "True", "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3"}


def call_variants(hosts: int) -> list[Variant]:
    work = LAB.parent
    return [
        Variant("orch", [str(ORCH), "call", "rpcutil.ping"], _count(r"okcount=(\d+)"), hosts,
                env=orch_env()),
        Variant("ansible-default", [str(PEERS_BIN / "ansible"), "all", "-i",
                                    str(work / "ansible.ini"), "-m", "ping", "-f", "50"],
                _count(r"\| SUCCESS =>", multi=True), hosts, env=peers_env(),
                cold_ansible=True),
        Variant("floor", [str(PYTHON), str(BENCH / "floor.py"), str(LAB)],
                _count(r"ok=(\d+)"), hosts, env=orch_env()),
        Variant("ansible-tuned", [str(PEERS_BIN / "ansible"), "all", "-i",
                                  str(work / "ansible.ini"), "-m", "ping", "-f", "50"],
                _count(r"\| SUCCESS =>", multi=True), hosts, env=peers_env(TUNED),
                cold_ansible=True, note="ANSIBLE_PIPELINING=True "
                "ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3"),
    ]


def play_variants(lab: dict) -> list[Variant]:
    work = LAB.parent
    web = len(_web_hosts(lab["settings"]))
    extra = json.dumps({"lab_dir": str(LAB), "app_port": lab["settings"]["app_port"],
                        "check_load": lab["check_load"]})
    playbook = [str(PEERS_BIN / "ansible-playbook"), "-i", str(work / "ansible.ini"),
                "-f", "50", "-e", extra, str(BENCH / "plays" / "play5-ansible.yml")]
    return [
        Variant("orch-play", [str(ORCH), "play", str(BENCH / "plays" / "play5.yml")],
                _count_orch_play, web, env=orch_env()),
        Variant("ansible-default", playbook, _count_recap(5), web, env=peers_env(),
                cold_ansible=True),
        Variant("orch-call", [str(ORCH), "call", "rpcutil.ping", "-C", "web"],
                _count(r"okcount=(\d+)"), web, env=orch_env()),
        Variant("ansible-tuned", playbook, _count_recap(5), web, env=peers_env(TUNED),
                cold_ansible=True, note="ANSIBLE_PIPELINING=True "
                "ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3"),
        Variant("pyinfra", [str(PEERS_BIN / "pyinfra"), "-y", str(work / "pyinfra_inventory.py"),
                            str(BENCH / "plays" / "play5_pyinfra.py")],
                _count_pyinfra, web, env=peers_env()),
    ]


def scale_variants(hosts: int) -> list[Variant]:
    return [v for v in call_variants(hosts) if v.name in ("orch", "floor")]


# ---------------------------------------------------------------------------------------------
# Timing


def run_once(variant: Variant, label: str) -> dict:
    """One timed run of ``variant`` through bench/timed.py; the log is kept under results/raw."""
    raw = RESULTS / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    log = raw / f"{label}-{variant.name}-{stamp}.log"
    result_file = raw / f"{label}-{variant.name}-{stamp}.json"
    env = dict(variant.env)
    control_dir = None
    if variant.cold_ansible:
        shutil.rmtree(Path.home() / ".ansible" / "cp", ignore_errors=True)
        control_dir = tempfile.mkdtemp(prefix="bench-ansible-cp-")
        env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = control_dir
    load = os.getloadavg()
    server = []
    pid_file = LAB / "sshd.pid"
    if pid_file.exists():
        server = ["--server-pid", pid_file.read_text().strip()]
    subprocess.run([str(PYTHON), str(BENCH / "timed.py"), str(result_file), str(log), *server,
                    "--", *variant.argv], cwd=variant.cwd, env=env, check=True)
    if control_dir:
        shutil.rmtree(control_dir, ignore_errors=True)
    measured = json.loads(result_file.read_text())
    text = log.read_text(errors="replace")
    measured.update({"variant": variant.name, "ok": variant.count(text), "expect": variant.expect,
                     "load1_before": round(load[0], 2), "log": str(log.relative_to(REPO))})
    return measured


def run_rounds(variants: list[Variant], pairs: int, label: str, say) -> list[list[dict]]:
    """One warm-up round, then ``pairs`` rounds; each round runs every variant once, in turn."""
    rounds = []
    for index in range(pairs + 1):
        kind = "warm-up" if index == 0 else f"round {index}/{pairs}"
        current = []
        for variant in variants:
            measured = run_once(variant, label)
            measured["warmup"] = index == 0
            current.append(measured)
            flag = "" if measured["ok"] == measured["expect"] else \
                f"  !! {measured['ok']}/{measured['expect']} ok"
            server = measured.get("server_cpu")
            say(f"  {label} {kind} {variant.name:16} wall {measured['wall']:7.2f}s  cpu "
                f"{measured['cpu']:6.2f}s  server {server if server is not None else '?':>6}s  "
                f"rss {measured['max_rss_kib'] / 1024:6.1f} MiB  "
                f"load {measured['load1_before']:5.2f}{flag}")
        if index:
            rounds.append(current)
    return rounds


def summarize(rounds: list[list[dict]], hosts_by_variant: dict[str, int]) -> dict:
    """Median and min-max of wall, CPU, CPU per host and RSS for each variant."""
    out = {}
    names = [m["variant"] for m in rounds[0]]
    for name in names:
        runs = [m for r in rounds for m in r if m["variant"] == name]
        hosts = hosts_by_variant[name]

        def stat(values: list[float]) -> dict:
            return {"median": statistics.median(values), "min": min(values), "max": max(values)}

        out[name] = {
            "hosts": hosts,
            "wall": stat([m["wall"] for m in runs]),
            "cpu": stat([m["cpu"] for m in runs]),
            "cpu_ms_per_host": stat([m["cpu"] * 1000 / hosts for m in runs]),
            "max_rss_mib": stat([m["max_rss_kib"] / 1024 for m in runs]),
            "tree_rss_mib": stat([m["tree_peak_rss_kib"] / 1024 for m in runs]),
            "server_cpu": stat([m.get("server_cpu") or 0.0 for m in runs]),
            "server_ms_per_host": stat([(m.get("server_cpu") or 0.0) * 1000 / hosts
                                        for m in runs]),
            "ok": [m["ok"] for m in runs],
            "load1": stat([m["load1_before"] for m in runs]),
        }
    return out


def pair_ratios(rounds: list[list[dict]], pairs: list[tuple[str, str]]) -> dict:
    """For each (slower, faster) pair: wall(slower)/wall(faster) round by round."""
    out = {}
    for slow, fast in pairs:
        values = []
        for current in rounds:
            by_name = {m["variant"]: m for m in current}
            if slow in by_name and fast in by_name and by_name[fast]["wall"] > 0:
                values.append(by_name[slow]["wall"] / by_name[fast]["wall"])
        if values:
            out[f"{slow} / {fast}"] = {"values": [round(v, 2) for v in values],
                                       "median": statistics.median(values),
                                       "min": min(values), "max": max(values)}
    return out


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return float("nan")
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return num / den if den else float("nan")


# ---------------------------------------------------------------------------------------------
# Machine


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "?"


def machine(peers: dict) -> dict:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "controller_python": _first_line([str(PYTHON), "--version"]),
        "remote_python": _first_line(["/usr/bin/python3", "--version"]),
        "asyncssh": _first_line([str(PYTHON), "-c", "import asyncssh; print(asyncssh.__version__)"]),
        "ssh_tuning": _first_line([str(PYTHON), "-c", "from orch.transport import sshlib; "
                                   "print(', '.join(sshlib.APPLIED) or 'none')"]),
        "event_loop": _first_line([str(PYTHON), "-c", "import asyncio; from orch.cli import "
                                   "eventloop as e; f = e.loop_factory() or asyncio.new_event_loop; "
                                   "print(e.loop_name(f()))"]),
        "openssh": _first_line(["ssh", "-V"]),
        "ansible": peers.get("ansible", "?"), "pyinfra": peers.get("pyinfra", "?"),
        "orch_commit": commit, "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


# ---------------------------------------------------------------------------------------------
# Cases


def _paired_case(case: str, args, variants: list[Variant], ratios: list[tuple[str, str]],
                 say, lab: dict) -> dict:
    """Run ``variants`` in alternated rounds and summarize them, with the ratios asked for."""
    rounds = run_rounds(variants, args.pairs, f"{case}-{args.hosts}", say)
    return {
        "case": case, "hosts": args.hosts, "pairs": args.pairs, "lab": lab["lab_up"],
        "commands": _commands(variants),
        "rounds": rounds,
        "summary": summarize(rounds, {v.name: v.expect for v in variants}),
        "ratios": pair_ratios(rounds, ratios),
    }


def case_call(args, say) -> dict:
    lab = lab_up(args.hosts, min(args.hosts, PLAY_APPS_MAX))
    return _paired_case("call", args, call_variants(args.hosts),
                        [("ansible-default", "orch"), ("ansible-tuned", "orch"),
                         ("orch", "floor"), ("ansible-default", "floor")], say, lab)


def case_play(args, say) -> dict:
    lab = lab_up(args.hosts, min(args.hosts, PLAY_APPS_MAX))
    return _paired_case("play", args, play_variants(lab),
                        [("ansible-default", "orch-play"), ("ansible-tuned", "orch-play"),
                         ("orch-play", "orch-call"), ("pyinfra", "orch-play")], say, lab)


def case_scale(args, say) -> dict:
    sizes = [int(size) for size in args.sizes.split(",")]
    per_size = {}
    commands = {}
    for size in sizes:
        lab = lab_up(size, 50)
        variants = scale_variants(size)
        commands = _commands(variants)
        rounds = run_rounds(variants, args.pairs, f"scale-{size}", say)
        per_size[str(size)] = {"lab": lab["lab_up"], "rounds": rounds,
                               "summary": summarize(rounds, {v.name: v.expect for v in variants})}
    slopes = {}
    for name in ("orch", "floor"):
        wall = [(int(s), d["summary"][name]["wall"]["median"]) for s, d in per_size.items()]
        cpu = [(int(s), d["summary"][name]["cpu"]["median"]) for s, d in per_size.items()]
        rss = [(int(s), d["summary"][name]["max_rss_mib"]["median"]) for s, d in per_size.items()]
        slopes[name] = {"wall_ms_per_host": slope(wall) * 1000,
                        "cpu_ms_per_host": slope(cpu) * 1000,
                        "rss_kib_per_host": slope(rss) * 1024}
    return {"case": "scale", "sizes": sizes, "pairs": args.pairs, "commands": commands,
            "per_size": per_size, "slopes": slopes}


def case_discover(args, say) -> dict:
    """bench/discover.py (another engineer's): it writes its own REPORT.md section."""
    script = BENCH / "discover.py"
    if not script.exists():
        say("  bench/discover.py is not there yet: discover skipped")
        return {"case": "discover", "skipped": True}
    done = subprocess.run([str(PYTHON), str(script)], cwd=REPO, env=orch_env())
    return {"case": "discover", "exit": done.returncode}


def _commands(variants: list[Variant]) -> dict:
    def show(variant: Variant) -> str:
        prefix = f"{variant.note} " if variant.note else ""
        return prefix + " ".join(_short(arg) for arg in variant.argv)

    return {v.name: show(v) for v in variants}


def _short(arg: str) -> str:
    """Paths relative to the repository, quoted when they hold spaces or JSON."""
    text = arg.replace(str(LAB.parent) + "/", "bench/results/").replace(str(REPO) + "/", "")
    if any(ch in text for ch in " {\""):
        return "'" + text + "'"
    return text


# ---------------------------------------------------------------------------------------------
# Report


def _fmt(stat: dict, digits: int = 2) -> str:
    return (f"{stat['median']:.{digits}f} [{stat['min']:.{digits}f}–"
            f"{stat['max']:.{digits}f}]")


def _variant_table(summary: dict) -> list[str]:
    lines = ["| variant | hosts ok | wall s | controller CPU s | CPU ms/host | fleet (sshd) "
             "CPU ms/host | peak RSS MiB (largest process) | tree RSS MiB (sampled) | "
             "load1 before |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in summary.items():
        ok = "/".join(str(v) for v in s["ok"])
        server = _fmt(s["server_ms_per_host"], 1) if "server_ms_per_host" in s else "–"
        lines.append(f"| {name} | {ok} of {s['hosts']} | {_fmt(s['wall'])} | {_fmt(s['cpu'])} | "
                     f"{_fmt(s['cpu_ms_per_host'], 1)} | {server} | {_fmt(s['max_rss_mib'], 0)} | "
                     f"{_fmt(s['tree_rss_mib'], 0)} | {_fmt(s['load1'], 1)} |")
    return lines


def _ratio_table(ratios: dict) -> list[str]:
    lines = ["| ratio (wall, per round) | median [min–max] | each round |", "|---|---:|---|"]
    for name, r in ratios.items():
        lines.append(f"| {name} | {_fmt(r)} | {', '.join(f'{v:.2f}' for v in r['values'])} |")
    return lines


def _command_list(data: dict) -> list[str]:
    lines = ["```", f"# lab: {_short_cmd(data.get('lab', ''))}"]
    for name, command in data["commands"].items():
        lines.append(f"{name:16} {command}")
    lines.append("```")
    return lines


def _short_cmd(text: str) -> str:
    return " ".join(_short(part) for part in text.split())


def render(data: dict, peers_machine: dict) -> str:
    case = data["case"]
    head = [f"## {case}", "",
            f"Target: {TARGETS.get(case, '')}. Measured {peers_machine.get('date', '?')} "
            f"(orch {peers_machine.get('orch_commit', '?')}) with "
            f"`.venv/bin/python bench/run.py {case}"
            + (f" --sizes {','.join(map(str, data['sizes']))}" if case == "scale"
               else f" --hosts {data.get('hosts', '')}")
            + f" --pairs {data['pairs']}`"
            + ": one warm-up round, then each round runs every variant once in turn. "
            "Medians [min–max] of the counted rounds.", ""]
    if case == "scale":
        body = ["| hosts | variant | hosts ok | wall s | CPU s | CPU ms/host (average) | "
                "fleet (sshd) CPU ms/host | peak RSS MiB | load1 |",
                "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        for size, d in data["per_size"].items():
            for name, s in d["summary"].items():
                ok = "/".join(str(v) for v in s["ok"])
                server = _fmt(s["server_ms_per_host"], 1) if "server_ms_per_host" in s else "–"
                body.append(f"| {size} | {name} | {ok} | {_fmt(s['wall'])} | {_fmt(s['cpu'])} | "
                            f"{_fmt(s['cpu_ms_per_host'], 2)} | {server} | "
                            f"{_fmt(s['max_rss_mib'], 0)} | "
                            f"{_fmt(s['load1'], 1)} |")
        body += ["", "Per-host slopes (least squares over the sizes' medians):", "",
                 "| variant | wall ms/host | controller CPU ms/host | RSS KiB/host |",
                 "|---|---:|---:|---:|"]
        for name, s in data["slopes"].items():
            body.append(f"| {name} | {s['wall_ms_per_host']:.1f} | {s['cpu_ms_per_host']:.2f} | "
                        f"{s['rss_kib_per_host']:.1f} |")
        data = dict(data, lab=next(iter(data["per_size"].values()))["lab"])
    else:
        body = _variant_table(data["summary"]) + [""] + _ratio_table(data["ratios"])
    return "\n".join(head + body + ["", "Commands (cwd bench/results/, its orch.cfg points at "
                                        "the lab):", ""] + _command_list(data))


def render_machine(info: dict) -> str:
    return "\n".join([
        "## machine", "",
        f"{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; {info['os']}, kernel "
        f"{info['kernel']}. Controller {info['controller_python']}, asyncssh {info['asyncssh']} "
        f"(orch's adjustments: {info.get('ssh_tuning', 'none')}), event loop "
        f"{info.get('event_loop', 'asyncio')}; "
        f"remote {info['remote_python']}; {info['openssh']}; {info['ansible']}; pyinfra "
        f"{info['pyinfra'].replace('pyinfra: ', '')}. Every lab host is this same machine: the controller, sshd and "
        "every remote process share its cores.",
    ])


def update_report(section: str, text: str) -> None:
    """Replace one ``<!-- section: NAME -->`` block of REPORT.md, keeping every other one."""
    sys.path.insert(0, str(BENCH))
    from report_sections import replace_section

    replace_section(REPORT, section, text)


def save(data: dict, info: dict) -> Path:
    data = dict(data, machine=info)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"{data['case']}-{data.get('hosts', 'sizes')}-{stamp}.json"
    path.write_text(json.dumps(data, indent=1))
    return path


def report_from_saved(say) -> None:
    for case in ("call", "play", "scale"):
        files = sorted(RESULTS.glob(f"{case}-*.json"), key=lambda p: p.stat().st_mtime)
        if not files:
            continue
        data = json.loads(files[-1].read_text())
        update_report(case, render(data, data["machine"]))
        say(f"REPORT.md: {case} from {files[-1].name}")


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[1])
    parser.add_argument("case", choices=CASES + ("all", "report"))
    parser.add_argument("--hosts", type=int, default=200, help="lab hosts (default 200)")
    parser.add_argument("--pairs", type=int, default=3, help="counted rounds (default 3)")
    parser.add_argument("--sizes", default="50,200,500,1000", help="scale: host counts")
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running")
    parser.add_argument("--no-report", action="store_true", help="JSON only, REPORT.md untouched")
    args = parser.parse_args(argv)
    if args.hosts < 3 or args.pairs < 1:
        parser.error("--hosts must be at least 3 and --pairs at least 1")

    def say(text: str) -> None:
        print(text, flush=True)

    if args.case == "report":
        report_from_saved(say)
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    # orch as installed has its bytecode compiled (pip does it; `make install` too), as the
    # peers' site-packages do: do not let PYTHONDONTWRITEBYTECODE make it compile every run.
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", str(REPO / "orch")], check=True,
                   stdout=subprocess.DEVNULL)
    cases = ["call", "scale", "play", "discover"] if args.case == "all" else [args.case]
    peers = install_peers() if set(cases) & {"call", "play"} else {}
    info = machine(peers)
    say(f"load average now: {os.getloadavg()[0]:.2f} (other work on this machine skews results)")
    try:
        for case in cases:
            say(f"== {case}")
            data = {"call": case_call, "play": case_play, "scale": case_scale,
                    "discover": case_discover}[case](args, say)
            if case == "discover":
                continue
            path = save(data, info)
            say(f"results: {path.relative_to(REPO)}")
            if not args.no_report:
                update_report("machine", render_machine(info))
                update_report(case, render(data, info))
    finally:
        if not args.keep_lab:
            lab_down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
