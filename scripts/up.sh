#!/usr/bin/env bash
# Builds the `fabric` executable (Release) and runs `fabric up` from the repository root, so the cluster's
# files land in ./fabric-data and `fabric ctl` run from here finds them. Arguments go to `fabric up`
# (default: --nodes 3). Ctrl-C stops every node.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
echo "building src/Nodes (Release) …"
dotnet build src/Nodes -c Release --nologo -v quiet >"$log" 2>&1 || { cat "$log"; rm -f "$log"; exit 1; }
rm -f "$log"
[ $# -gt 0 ] || set -- --nodes 3
exec src/Nodes/bin/Release/net10.0/fabric up "$@"
