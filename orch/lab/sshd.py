"""The lab's one OpenSSH sshd: keys, login user, config, start and stop.

One sshd serves every lab host (DESIGN §7): it listens on ``0.0.0.0:<port>`` because a socket
bound to 127.0.0.1 does not accept connections sent to 127.0.1.x and sshd takes at most 16
``ListenAddress``; only loopback clients may log in; ``SetEnv ORCH_LAB_DIR`` plus the address a
connection arrived on (``SSH_CONNECTION``) tell the runtime which lab host it is. Run as root it
logs hosts in as an unprivileged user it creates (root's dotfiles put pyenv shims on PATH);
run as an ordinary user it serves logins as that same user.
"""

from __future__ import annotations

import getpass
import os
import pwd
import subprocess
from pathlib import Path

from orch.errors import InputError, OrchError
from orch.lab import processes

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
LAB_USER = "orchlab"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
UNSHARE = "/usr/bin/unshare"


class LabError(OrchError):
    """A lab service could not be started (exit 1, one line naming the log to read)."""


def is_root() -> bool:
    return os.geteuid() == 0


def login_user() -> str:
    """The user lab hosts log in as: ``orchlab`` when run as root, else the current user."""
    return LAB_USER if is_root() else getpass.getuser()


def ensure_user(name: str) -> pwd.struct_passwd:
    """Create the unprivileged login user when missing (root only), unlocked for key logins."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if not is_root():
        raise InputError(f"user {name} does not exist")
    for argv in (["/usr/sbin/useradd", "-m", "-s", "/bin/bash", name],
                 ["/usr/sbin/usermod", "-p", "*", name]):  # absolute: PATH may lack /usr/sbin
        try:
            result = subprocess.run(argv, capture_output=True, text=True)
        except OSError as error:
            raise LabError(f"cannot run {argv[0]}: {error}") from None
        if result.returncode != 0:
            raise LabError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return pwd.getpwnam(name)


def ensure_keys(lab_dir: Path) -> tuple[str, str]:
    """The lab's host key and client key (ed25519), made once; returns both public keys."""
    for name in ("ssh_host_ed25519_key", "client_key"):
        key = lab_dir / name
        if not key.exists():
            result = subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C",
                                     f"orch-lab-{name}", "-f", str(key)],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise LabError(f"ssh-keygen failed: {result.stderr.strip()}")
        key.chmod(0o600)
    host_pub = (lab_dir / "ssh_host_ed25519_key.pub").read_text().strip()
    client_pub = (lab_dir / "client_key.pub").read_text().strip()
    return host_pub, client_pub


def config_text(lab_dir: Path, port: int, user: str, root_login: bool = False) -> str:
    """sshd_config for the lab (why each line is there is in the comments it carries).

    ``root_login``: a root-login restricted lab (orch/lab/restricted.py), where the lab key logs
    in as root, only ever through its forced command (``forced-commands-only``).
    """
    allowed = f"{user}@127.0.0.0/8" + (" root@127.0.0.0/8" if root_login else "")
    root = "forced-commands-only" if root_login else "no"
    return f"""# sshd for the orch lab in {lab_dir} (written by 'orch lab up')
Port {port}
ListenAddress 0.0.0.0
HostKey {lab_dir}/ssh_host_ed25519_key
PidFile {lab_dir}/sshd.pid
AuthorizedKeysFile {lab_dir}/authorized_keys
# only loopback clients, only the lab's login user (and root, by forced command only)
AllowUsers {allowed}
PermitRootLogin {root}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# the lab folder lives anywhere (e.g. under /tmp), so skip sshd's ownership walk
StrictModes no
# hundreds of clients connect at once: the default 10:30:100 resets 40-50 % of 200
MaxStartups 1000:30:1000
MaxSessions 1000
LoginGraceTime 60
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
PermitTunnel no
# $SSH_USER_AUTH names the key that logged in: the runtime maps it to an operator
ExposeAuthInfo yes
# with SSH_CONNECTION's local address this tells the runtime which lab host it is
SetEnv ORCH_LAB_DIR={lab_dir}
LogLevel INFO
Subsystem sftp {SFTP_SERVER}
"""


def write_config(lab_dir: Path, port: int, user: str, client_pub: str,
                 root_login: bool = False) -> Path:
    path = lab_dir / "sshd_config"
    path.write_text(config_text(lab_dir, port, user, root_login))
    keys = lab_dir / "authorized_keys"
    keys.write_text(client_pub + "\n")
    keys.chmod(0o644)
    return path


def pid(lab_dir: Path) -> int | None:
    return processes.pid_of(lab_dir / "sshd.pid", lab_dir)


def start(lab_dir: Path, port: int, root_home: Path | None = None) -> int:
    """Start sshd (it daemonizes and writes its pidfile) and wait until it accepts connections.

    ``root_home``: a folder sshd and its sessions see as ``/root`` (a mount namespace of
    their own): root's logins then read the lab's dotfiles, never this machine's (whose
    ``.bashrc`` starts pyenv: bash sources it for every command sshd runs).
    """
    config = lab_dir / "sshd_config"
    log = lab_dir / "sshd.log"
    if is_root():
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation
    check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        raise LabError(f"{config}: sshd rejects it: {check.stderr.strip()}")
    if not processes.port_free(port):
        raise LabError(f"port {port} is taken; pick another with --port")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    argv = [SSHD, "-f", str(config), "-E", str(log)]
    if root_home is not None:
        argv = [UNSHARE, "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                'mount --bind "$0" /root && exec "$@"', str(root_home), *argv]
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise LabError(f"sshd did not start: {result.stderr.strip()} (see {log})")
    if not processes.wait_for_port("127.0.1.1", port, timeout=10):
        raise LabError(f"sshd does not accept connections on port {port} (see {log})")
    for _ in range(100):
        found = pid(lab_dir)
        if found:
            return found
        processes.wait_for_port("127.0.1.1", port, timeout=0.05)
    raise LabError(f"sshd wrote no pidfile {lab_dir}/sshd.pid (see {log})")
