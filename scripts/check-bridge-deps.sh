#!/bin/bash
# Layering check: bridge crates (manifests under bridges/) know nothing of XMPP, so none of
# them may depend, even indirectly, on an XMPP crate. Only normal dependencies count.
set -euo pipefail
cd "$(dirname "$0")/.."

FORBIDDEN=(tokio-xmpp xmpp-parsers minidom jid xso)

# Workspace packages whose manifest lives under bridges/.
metadata=$(cargo metadata --no-deps --format-version 1)
mapfile -t bridges < <(
  /usr/bin/python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
root = meta["workspace_root"]
for pkg in meta["packages"]:
    rel = os.path.relpath(pkg["manifest_path"], root)
    if rel.startswith("bridges" + os.sep):
        print(pkg["name"])
' <<<"$metadata"
)
if [ ${#bridges[@]} -eq 0 ]; then
  echo "check-bridge-deps: no packages found under bridges/" >&2
  exit 1
fi

failed=0
for crate in "${bridges[@]}"; do
  # One "name vX.Y.Z ..." per line; the name is the first field. A failing `cargo tree`
  # stops the script (set -e) rather than passing the check.
  tree=$(cargo tree -p "$crate" -e normal --prefix none)
  offenders=$(awk '{print $1}' <<<"$tree" | sort -u | { grep -Fx "${FORBIDDEN[@]/#/-e}" || true; } | paste -sd' ')
  if [ -n "$offenders" ]; then
    echo "check-bridge-deps: bridge crate '$crate' depends on XMPP crate(s): $offenders" >&2
    echo "  (bridges must stay XMPP-free; see 'cargo tree -p $crate -e normal -i <crate>')" >&2
    failed=1
  fi
done
if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "check-bridge-deps: ok (${bridges[*]})"
