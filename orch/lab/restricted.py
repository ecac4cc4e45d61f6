"""``orch lab up --restricted``: the lab in restricted mode, with the real gate and real hashes.

Why a lab of its own: the cost of restricted mode (a second interpreter start, sudo, hashing,
compiling) is measured against the open lab (bench/restricted_cost.py), so the gate must really
be sshd's forced command and really check the hashes. A lab host is not a machine of its own, so
the gate is installed as a copy aimed at the lab's root-owned folders (``gate.configured``: only
its path constants differ) instead of this machine's ``/etc/orch``:

    <lab>/gate/                 root 0755  gate.py, gate.pyc (what sshd runs; root 0644) and
                                           audit.log (gate refusals before a host is known)
    <lab>/gate/cache/           root 0755  the gate's compiled runtimes
    <lab>/hosts/<name>/         root       each host's state (policy, callers, audit.log) is
                                           root's; app/ stays the login user's (its app server)
    <lab>/hosts/<name>/trusted.d/<sha>     this orch's runtime and shipped modules, per host
                                           (as /etc/orch/trusted.d: ``orch host trust`` adds)
    <lab>/authorized_keys       root 0644  the lab key's forced command, by ``login``:
        root (default)  ``restrict,command="<python> -I -S <gate> labadmin"``; the inventory
                        logs in as root, sshd allows root only with a forced command
                        (``PermitRootLogin forced-commands-only``), no sudo per login
        sudo            ``restrict,command="sudo -n -- <python> -I -S <gate> labadmin"``; the
                        inventory logs in as the login user, and
    /etc/sudoers.d/orch-lab-<id> root 0440 lets it run only that gate as root
                                           (keeping SSH_ORIGINAL_COMMAND and SSH_CONNECTION)
    <lab>/root-home/            root 0700  what the lab's sshd sees as /root (Debian's default
                                           root dotfiles; ``sshd.start``), root login only

``down`` removes the sudo rule (``remove``); ``up`` without ``--restricted`` undoes the rest.
Root only: as an ordinary user there is nobody to escalate to.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

from orch.errors import InputError, Where
from orch.lab import sshd

PYTHON = "/usr/bin/python3"
OPERATOR = "labadmin"  # the name the open lab's callers files give the lab key
LOGINS = ("root", "sudo")
#: Debian's own root dotfiles (base-files), as a fresh host's /root has them.
ROOT_DOTFILES = {".bashrc": "/usr/share/base-files/dot.bashrc",
                 ".profile": "/usr/share/base-files/dot.profile"}


def gate_path(lab_dir: Path) -> Path:
    """The compiled gate the forced command runs (``gate.py`` next to it is its source)."""
    return Path(lab_dir) / "gate" / "gate.pyc"


def sudo_rule_path(lab_dir: Path) -> Path:
    tag = hashlib.sha256(str(Path(lab_dir)).encode()).hexdigest()[:12]
    return Path("/etc/sudoers.d") / f"orch-lab-{tag}"


def trusted_lines() -> list[tuple[str, str]]:
    """``(sha256, what)`` for this orch's runtime and every module (and helper) it ships."""
    from orch.agents.registry import SHIPPED_MODULES, Registry, find_modules
    from orch.runtime.bootstrap import CORE_PATH

    lines = {(hashlib.sha256(CORE_PATH.read_bytes()).hexdigest(), "runtime")}
    registry = Registry(find_modules([SHIPPED_MODULES]), list)
    for name in registry.names():
        lines |= {(digest, wire) for wire, digest, _ in registry.get(name).bundle()}
    return sorted(lines)


def forced_line(lab_dir: Path, client_pub: str, login: str = "root") -> str:
    sudo = "/usr/bin/sudo -n -- " if login == "sudo" else ""
    return (f'restrict,command="{sudo}{PYTHON} -I -S {gate_path(lab_dir)} '
            f'{OPERATOR}" {client_pub}\n')


def check_login(login: str) -> None:
    """Refuse a restricted lab that cannot be made: not root, or an unknown login."""
    if login not in LOGINS:
        raise InputError(f"not a restricted login: {login} (root or sudo)",
                         Where(path="--restricted"))
    if not sshd.is_root():
        raise InputError("a restricted lab needs root (its gate runs as root)",
                         Where(path="--restricted"))


def root_home(lab_dir: Path) -> Path:
    """``<lab>/root-home``: root's home for the lab's sshd, with Debian's default dotfiles."""
    home = Path(lab_dir) / "root-home"
    home.mkdir(mode=0o700, exist_ok=True)
    os.chown(home, 0, 0)
    home.chmod(0o700)
    for name, source in ROOT_DOTFILES.items():
        text = Path(source).read_text() if Path(source).exists() else ""
        _root_file(home / name, text, 0o644)
    return home


def install(lab_dir: Path, user: str, client_pub: str, login: str = "root") -> None:
    """Make ``lab_dir`` a restricted lab (every step idempotent)."""
    from orch.runtime import gate

    check_login(login)
    lab_dir = Path(lab_dir)
    folder = lab_dir / "gate"
    lines = trusted_lines()
    for host in sorted((lab_dir / "hosts").iterdir()):
        trusted = host / "trusted.d"
        for path in (folder, trusted):
            path.mkdir(mode=0o755, exist_ok=True)
            os.chown(path, 0, 0)
            path.chmod(0o755)
        for digest, what in lines:
            _root_file(trusted / digest, what + "\n", 0o644)
    source = gate.configured(TRUSTED_DIR=str(lab_dir / "hosts"), AUDIT_LOG=str(folder / "audit.log"),
                             STATE_DIR=str(lab_dir / "hosts"), CACHE_DIR=str(folder / "cache"),
                             LAB_DIR=str(lab_dir))
    _root_file(folder / "gate.py", source, 0o644)
    compiled = subprocess.run(  # by the hosts' interpreter, as orchhost does on a host
        [PYTHON, "-I", "-S", "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], "
         "cfile=sys.argv[2], doraise=True, invalidation_mode="
         "py_compile.PycInvalidationMode.UNCHECKED_HASH)", str(folder / "gate.py"),
         str(folder / "gate.pyc.tmp")], capture_output=True, text=True)
    if compiled.returncode != 0:
        raise sshd.LabError(f"cannot compile the lab gate: {compiled.stderr.strip()}")
    os.chown(folder / "gate.pyc.tmp", 0, 0)
    (folder / "gate.pyc.tmp").chmod(0o644)
    (folder / "gate.pyc.tmp").replace(gate_path(lab_dir))
    for root, dirs, files in os.walk(lab_dir / "hosts"):
        if Path(root).name == "app":
            dirs[:] = []  # the app server (run as the login user) writes its pidfile here
            continue
        for name in [root, *(os.path.join(root, item) for item in dirs + files if item != "app")]:
            os.lchown(name, 0, 0)
            if not os.path.islink(name):
                os.chmod(name, os.lstat(name).st_mode & 0o7755)
    _root_file(lab_dir / "authorized_keys", forced_line(lab_dir, client_pub, login), 0o644)
    if login == "sudo":
        _sudo_rule(lab_dir, user)
    else:
        remove(lab_dir)


def remove(lab_dir: Path) -> None:
    """Drop the lab's sudo rule (the rest is files in the lab folder)."""
    rule = sudo_rule_path(lab_dir)
    if rule.exists() and sshd.is_root():
        rule.unlink()


def _root_file(path: Path, text: str, mode: int) -> None:
    if not path.exists() or path.read_text() != text:
        draft = path.with_name(path.name + ".tmp")
        draft.write_text(text)
        os.chown(draft, 0, 0)
        draft.chmod(mode)
        draft.replace(path)
    os.chown(path, 0, 0)
    path.chmod(mode)


def _sudo_rule(lab_dir: Path, user: str) -> None:
    path = sudo_rule_path(lab_dir)
    alias = path.name.replace("-", "_").upper()
    rule = (f"# written by 'orch lab up --restricted' for {lab_dir}: its gate runs as root\n"
            f"Cmnd_Alias {alias} = {PYTHON} -I -S {gate_path(lab_dir)} *\n"
            f'Defaults!{alias} env_keep += "SSH_ORIGINAL_COMMAND SSH_CONNECTION"\n'
            f"{user} ALL=(root) NOPASSWD: {alias}\n")
    if path.exists() and path.read_text() == rule:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".sudoers") as draft:
        draft.write(rule)
        draft.flush()
        checked = subprocess.run(["/usr/sbin/visudo", "-c", "-q", "-f", draft.name],
                                 capture_output=True, text=True)
    if checked.returncode != 0:
        raise sshd.LabError(f"visudo rejects the lab gate's sudo rule: {checked.stdout.strip()}")
    _root_file(path, rule, 0o440)
