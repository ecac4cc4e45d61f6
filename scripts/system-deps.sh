#!/usr/bin/env bash
# Install the Debian packages orch's lab and tests run for real (DESIGN §7), when missing.
set -euo pipefail
bash "$(dirname "$0")/test-debs.sh"
need=()
command -v /usr/sbin/sshd >/dev/null 2>&1 || need+=(openssh-server)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
[ -x /usr/lib/nagios/plugins/check_load ] || need+=(monitoring-plugins-basic)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/bin/python3 ] || need+=(python3)
# The realistic fleet (scripts/fleet.py, tests/realfleet): real sudo, ip, the OpenSSH client.
[ -x /usr/bin/sudo ] || need+=(sudo)
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # fleet.py hashes the su hosts' root password
command -v sysctl >/dev/null 2>&1 || [ -x /usr/sbin/sysctl ] || need+=(procps)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
[ -x /usr/bin/ssh ] && [ -x /usr/bin/ssh-agent ] || need+=(openssh-client)
command -v facter >/dev/null 2>&1 || need+=(facter)  # tests compare the system facts with Facter 4's
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "orch needs these Debian packages: ${need[*]} (run: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing ${need[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packages' own services are not used: the lab starts its own, unprivileged.
for service in ssh haproxy redis-server; do
  (systemctl stop "$service" && systemctl disable "$service") >/dev/null 2>&1 || true
done
