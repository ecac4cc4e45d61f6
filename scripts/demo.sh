#!/usr/bin/env bash
# make demo: what orch can show today.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
$bin/orch --help
