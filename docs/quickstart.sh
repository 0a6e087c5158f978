#!/usr/bin/env bash
# The README's quickstart: a workspace, two prep stages with provenance, the log, and an exact
# checkout of the first version. Runs in a temporary directory; needs `dv` on PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

dv init
cp -R "$here/fixtures/penguins" raw
dv commit raw --dataset penguins --stage raw -m "Palmer penguins sample"

"$here/fixtures/clean.sh" raw cleaned
dv commit cleaned --dataset penguins --stage cleaned --from penguins@raw \
  --transform "fixtures/clean.sh raw cleaned" --code "$here/fixtures/clean.sh" \
  --param drop=NA -m "drop rows with missing values"

dv log
dv show penguins@cleaned

dv checkout penguins@raw --to restored
diff -r raw restored && echo "Quickstart OK: penguins@raw came back byte for byte."
