#!/usr/bin/env bash
# A/B: two dv binaries on the same data, in one run, alternating, so machine noise hits both.
#
#   python3 benches/gen_dataset.py --files 100000 --mb 200 --out /tmp/b100k/data
#   bash benches/ab.sh /tmp/b100k/data OLD_DV NEW_DV [ROUNDS]
#
# Each binary gets its own copy of the data and workspace. Timed: the first commit, then ROUNDS
# (default 7) rounds of an unchanged re-commit (every file vouched for by the stat cache, so the
# commit's per-file work is the store-existence check) and a status, the binaries alternating
# within each round. Prints the median and the best of each, and new/old ratios of the medians.
set -euo pipefail
data="$(cd "$1" && pwd)"
old="$(realpath "$2")"
new="$(realpath "$3")"
rounds="${4:-7}"
work="$(mktemp -d "${TMPDIR:-/tmp}/dv-ab.XXXXXX")"
trap 'rm -rf "$work"' EXIT

secs() { # command...: prints wall seconds
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

for side in old new; do
  mkdir -p "$work/$side"
  cp -r "$data" "$work/$side/data"
  (cd "$work/$side" && "${!side}" init -q)
done
sync
sleep 3 # file times leave the stat cache's racy window, as real data has
for side in old new; do
  t=$(cd "$work/$side" && secs "${!side}" commit data -d bench -s raw -q)
  echo "$side first commit: $t s"
done
declare -A samples
for round in $(seq "$rounds"); do
  for side in old new; do
    samples[$side-recommit]+="$(cd "$work/$side" && secs "${!side}" commit data -d bench -s raw -q) "
    samples[$side-status]+="$(cd "$work/$side" && secs "${!side}" status data -q) "
  done
done
stats() { # values...: prints "median best"
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {printf "%.3f %.3f\n", v[int((NR+1)/2)], v[1]}'
}
for op in recommit status; do
  read -r old_med old_best < <(stats ${samples[old-$op]})
  read -r new_med new_best < <(stats ${samples[new-$op]})
  ratio=$(echo "scale=2; $new_med / $old_med" | bc)
  printf "%-9s old median %6.3f s (best %6.3f)  new median %6.3f s (best %6.3f)  new/old %s\n" \
    "$op" "$old_med" "$old_best" "$new_med" "$new_best" "$ratio"
done
