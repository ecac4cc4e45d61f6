#!/usr/bin/env bash
# Create .venv-ansible/ with ansible-core 2.19.x, used only to (re)generate the expected
# ansible-inventory output of tests/data/inventory/*; the test suite itself never needs it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-ansible
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/ansible-inventory" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q 'ansible-core>=2.19,<2.20'
fi
version=$("$VENV/bin/ansible-inventory" --version)
echo "${version%%$'\n'*}"
