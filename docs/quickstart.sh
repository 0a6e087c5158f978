#!/usr/bin/env bash
# The README's quickstart: a workspace, stage rules, a three-step pipeline run by `dv run` (each
# stage's command, params, code, interpreter and logs recorded, its output profiled and checked),
# the profiles and their drift, a rerun proving a stage reproduces, an
# exact checkout, and sharing through a remote (a directory here; an s3://bucket/prefix works the
# same). Runs in a temporary directory; needs `dv` and `python3` on PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

dv init
cp -R "$here/fixtures/penguins" raw
cp -R "$here/fixtures/pipeline" pipeline
dv commit raw --dataset penguins --stage raw -m "Palmer penguins sample"

# What a good cleaned version looks like (a file to keep in git): checked at every commit.
cat >dv.toml <<'RULES'
[stages.cleaned]
inputs_from = ["raw"]
require = ["transform", "code"]
[[stages.cleaned.tables]]
files = "*.csv"
no_nulls = ["species", "sex"]
max_duplicate_rows = 0.0
label_columns = ["species"]
RULES

# Each stage is a command: dv puts its input in place, runs it, and commits what it wrote.
dv run -d penguins -s cleaned --from penguins@raw --param missing=NA --out cleaned \
  -m "drop rows with missing values" -- python3 pipeline/clean.py
dv run -d penguins -s labeled --from penguins@cleaned --param threshold=4000 --out labeled \
  -- python3 pipeline/label.py
dv run -d penguins -s training-ready --from penguins@labeled --param test_every=4 --out ready \
  -- python3 pipeline/split.py

dv log
dv show penguins@training-ready
dv show penguins@cleaned --profile                  # rows, types, nulls, duplicates, labels
dv diff penguins@raw penguins@cleaned --profile     # what cleaning changed in the data
dv check penguins@cleaned                           # against today's rules in dv.toml
dv lineage penguins@training-ready
dv rerun penguins@training-ready    # runs the recorded command again: "reproduced: identical"

dv checkout penguins@raw --to restored
diff -r raw restored && echo "penguins@raw came back byte for byte."

dv remote add shared "$work/remote"
dv push
dv clone --no-data "$work/remote" "$work/elsewhere"
cd "$work/elsewhere"
dv checkout penguins@cleaned --to cleaned   # fetches exactly this version's files
diff -r "$work/cleaned" cleaned && echo "Quickstart OK: a clone gave penguins@cleaned back byte for byte."
