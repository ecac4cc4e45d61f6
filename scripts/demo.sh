#!/usr/bin/env bash
# make demo: what orch can show today.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
$bin/orch --help
# the lab fleet: real sshd, HAProxy on lb1, app servers on dev1..dev10, webhook on notify1
$bin/orch lab up -n 10
# the seed job: MCollective's app_cluster_upgrade as an orch play, on cluster bravo
$bin/orch play plays/app_cluster_upgrade.yml -e cluster=bravo -e backend=app -e revision=20
$bin/orch runs
