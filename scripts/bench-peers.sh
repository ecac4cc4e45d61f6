#!/usr/bin/env bash
# Install the benchmark peers into their own venv, bench/.venv-peers/: ansible-core 2.19.x and
# pyinfra 3.x from PyPI (plus pyinstrument, used only to profile orch). orch's own .venv is
# never touched. Safe to run again: it only installs what is missing, then prints the versions.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=bench/.venv-peers
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
fi
if [ ! -x "$VENV/bin/ansible" ] || [ ! -x "$VENV/bin/pyinfra" ]; then
    "$VENV/bin/pip" install -q 'ansible-core>=2.19,<2.20' 'pyinfra>=3,<4'
fi
version=$("$VENV/bin/ansible" --version)
echo "${version%%$'\n'*}"
"$VENV/bin/pyinfra" --version
