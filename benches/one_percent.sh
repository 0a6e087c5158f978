#!/usr/bin/env bash
# What a commit of a small change costs against the first commit, profiles on and off, on a
# fresh copy of DATA each time: first commit, then every 100th file (in path order) gets a line
# appended, then the commit of that change. Prints both times and their ratio per run.
#
#   python3 benches/gen_dataset.py --files 100000 --mb 200 --out /tmp/b100k/data
#   bash benches/one_percent.sh /tmp/b100k/data target/release/dv [ROUNDS]
set -euo pipefail
data="$(cd "$1" && pwd)"
dv="$(realpath "${2:-$(command -v dv)}")"
rounds="${3:-2}"
seconds() { local start; start=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $start" | bc; }
for round in $(seq "$rounds"); do
  for side in on off; do
    work="$(mktemp -d "${TMPDIR:-/tmp}/dv-one-percent.XXXXXX")"
    cp -a "$data" "$work/data"
    cd "$work"
    "$dv" init -q
    [ "$side" = off ] && printf '[profile]\nenabled = false\n' > dv.toml
    first=$(seconds "$dv" commit data -d d -s raw -q)
    find data -type f | LC_ALL=C sort | awk 'NR % 100 == 0' | while IFS= read -r f; do
      echo "changed $RANDOM" >>"$f"
    done
    change=$(seconds "$dv" commit data -d d -s raw -q)
    printf 'round %s, profiles %-3s first commit %.2f s, 1%% change %.2f s, ratio %.3f\n' \
      "$round" "$side" "$first" "$change" "$(echo "scale=4; $change / $first" | bc)"
    cd / && rm -rf "$work"
  done
done
