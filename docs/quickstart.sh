#!/usr/bin/env bash
# The README's quickstart: a workspace, two prep stages with provenance, the log, an exact
# checkout of the first version, and sharing it through a remote (a directory here; an
# s3://bucket/prefix works the same). Runs in a temporary directory; needs `dv` on PATH.
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
diff -r raw restored && echo "penguins@raw came back byte for byte."

dv remote add shared "$work/remote"
dv push
dv clone --no-data "$work/remote" "$work/elsewhere"
cd "$work/elsewhere"
dv checkout penguins@cleaned --to cleaned   # fetches exactly this version's files
diff -r "$work/cleaned" cleaned && echo "Quickstart OK: a clone gave penguins@cleaned back byte for byte."
