#!/usr/bin/env bash
# Regenerate tests/data/inventory/expected/* with the real ansible-inventory (ansible-core 2.19,
# installed into .venv-ansible/ by scripts/ansible-venv.sh), the way the shared corpus was made:
# empty HOME and config, ANSIBLE_INVENTORY_UNPARSED_FAILED=True.
#   NAME.json        ansible-inventory -i cases/NAME --list
#   NAME.graph.txt   ansible-inventory -i cases/NAME --graph --vars
#   NAME.error.txt   its message, for cases/invalid/NAME
# The tests read these files and never need Ansible; run this after adding or changing a case.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/ansible-venv.sh >/dev/null
ANSIBLE_INVENTORY="$ROOT/.venv-ansible/bin/ansible-inventory"
DATA="$ROOT/tests/data/inventory"
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$SCRATCH/home" "$DATA/expected"
: > "$SCRATCH/ansible.cfg"
run() {
    (cd "$DATA" && env -i PATH="$PATH" HOME="$SCRATCH/home" LANG=C.UTF-8 \
        ANSIBLE_CONFIG="$SCRATCH/ansible.cfg" ANSIBLE_INVENTORY_UNPARSED_FAILED=True \
        ANSIBLE_NOCOLOR=1 ANSIBLE_LOCAL_TEMP="$SCRATCH/tmp" "$ANSIBLE_INVENTORY" "$@")
}
for path in "$DATA"/cases/*; do
    name=$(basename "$path")
    [ "$name" = invalid ] && continue
    run -i "cases/$name" --list > "$DATA/expected/$name.json" 2>/dev/null
    run -i "cases/$name" --graph --vars > "$DATA/expected/$name.graph.txt" 2>/dev/null
    rm -f "$DATA/expected/$name.error.txt"
    # --host for every host: one JSON object {host: what --host printed}
    hosts=$("$ROOT/.venv-ansible/bin/python" -c 'import json,sys; print("\n".join(sorted(json.load(open(sys.argv[1]))["_meta"]["hostvars"].keys() | {h for g in json.load(open(sys.argv[1])).values() for h in g.get("hosts", [])})))' "$DATA/expected/$name.json")
    {
        echo "{"
        first=1
        while IFS= read -r host; do
            [ -z "$host" ] && continue
            [ $first = 1 ] || echo ","
            first=0
            printf '%s: ' "$("$ROOT/.venv-ansible/bin/python" -c 'import json,sys; print(json.dumps(sys.argv[1], ensure_ascii=False))' "$host")"
            run -i "cases/$name" --host "$host" 2>/dev/null || echo null
        done <<< "$hosts"
        echo "}"
    } > "$DATA/expected/$name.hosts.json"
done
for path in "$DATA"/cases/invalid/*; do
    name=$(basename "$path")
    rc=0
    out=$(run -i "cases/invalid/$name" --list 2>&1 >/dev/null) || rc=$?
    if [ "$rc" = 0 ]; then
        echo "warning: Ansible accepts cases/invalid/$name" >&2
    fi
    printf '# ansible-inventory -i cases/invalid/%s --list  ->  rc %s\n%s\n' "$name" "$rc" "$out" \
        > "$DATA/expected/$name.error.txt"
done
echo "regenerated $(ls "$DATA/expected" | wc -l) files in tests/data/inventory/expected"
