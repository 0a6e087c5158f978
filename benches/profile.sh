#!/usr/bin/env bash
# What profiles cost at commit, and row diffs of Parquet against the same data as CSV.
#
#   python3 benches/gen_csv.py --mb 1024 --out DIR          # DIR/old.csv, DIR/new.csv
#   python3 benches/to_parquet_bench.py DIR                 # DIR/old.parquet, DIR/new.parquet
#   bash benches/profile.sh DIR target/release/dv [ROUNDS]
#
# For old.csv and old.parquet, in a fresh workspace each round: the first commit and an
# unchanged re-commit, with profiling on (a label column counted too) and off
# (`[profile] enabled = false`); then `dv diff --rows --key id` between old and new, as CSV and
# as Parquet. The machine's limits on the same file are timed in the same run: b3sum (read and
# hash), zstd -3 on all cores, cp. Prints the median wall time (s) and peak RSS (MiB) of each.
set -euo pipefail
data="$(realpath "$1")"
dv="$(realpath "$2")"
rounds="${3:-3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/dv-profile-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Runs a command ROUNDS times; prints "median_seconds peak_rss_mib".
measure() {
  local times="$work/times" rss="$work/rss"
  : >"$times" && : >"$rss"
  for ((i = 0; i < rounds; i++)); do
    [ -n "${before:-}" ] && eval "$before"
    /usr/bin/time -f "%e %M" -o "$work/one" "$@" >/dev/null 2>"$work/err" || {
      cat "$work/err" >&2
      exit 1
    }
    read -r seconds kib <"$work/one"
    echo "$seconds" >>"$times"
    echo "$((kib / 1024))" >>"$rss"
  done
  printf '%s %s\n' "$(sort -n "$times" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
    "$(sort -n "$rss" | tail -1)"
}

# A workspace holding FILE in data/, with dv.toml saying MODE (on|off).
workspace() {
  local file="$1" mode="$2" ws="$work/ws-$mode"
  rm -rf "$ws" && mkdir -p "$ws/data"
  (cd "$ws" && "$dv" init -q)
  cp --reflink=auto "$file" "$ws/data/"
  if [ "$mode" = on ]; then
    printf '[stages.raw]\n[[stages.raw.tables]]\nfiles = "*"\nlabel_columns = ["species"]\n' \
      >"$ws/dv.toml"
  else
    printf '[profile]\nenabled = false\n' >"$ws/dv.toml"
  fi
  echo "$ws"
}

printf '%-10s %-28s %9s %9s\n' file what seconds rss_mib
for name in old.csv old.parquet; do
  file="$data/$name"
  cat "$file" >/dev/null # warm the page cache, as for every row below
  printf '%-10s %-28s %9s %9s\n' "$name" "b3sum" $(measure b3sum "$file")
  printf '%-10s %-28s %9s %9s\n' "$name" "zstd -3 -T0" $(measure zstd -3 -T0 -q -f "$file" -o "$work/z")
  printf '%-10s %-28s %9s %9s\n' "$name" "cp" $(measure cp "$file" "$work/copy")
  rm -f "$work/z" "$work/copy"
  for mode in off on; do
    before="ws=\$(workspace '$file' $mode); cd \"\$ws\""
    printf '%-10s %-28s %9s %9s\n' "$name" "first commit, profile $mode" \
      $(measure "$dv" commit data -d d -s raw -q)
    before=""
    ws="$(workspace "$file" "$mode")"
    (cd "$ws" && "$dv" commit data -d d -s raw -q >/dev/null)
    cd "$ws"
    printf '%-10s %-28s %9s %9s\n' "$name" "unchanged re-commit, $mode" \
      $(measure "$dv" commit data -d d -s raw -q)
    cd "$work"
    rm -rf "$ws"
  done
done

# Row diffs: old and new as two versions, keyed by id.
for ext in csv parquet; do
  ws="$work/diff-$ext"
  rm -rf "$ws" && mkdir -p "$ws/data"
  cd "$ws" && "$dv" init -q && printf '[profile]\nenabled = false\n' >dv.toml
  cp --reflink=auto "$data/old.$ext" "data/t.$ext"
  a=$("$dv" commit data -d t -s raw -q)
  cp --reflink=auto "$data/new.$ext" "data/t.$ext"
  b=$("$dv" commit data -d t -s raw -q)
  printf '%-10s %-28s %9s %9s\n' "$ext" "diff --rows --key id" \
    $(measure "$dv" diff "$a" "$b" --key id --json)
  "$dv" diff "$a" "$b" --key id --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["rows"][0]
print("           rows: %d added, %d removed, %d changed, %d unchanged" % (r["added"], r["removed"], r["changed"], r["unchanged"]))'
  cd "$work" && rm -rf "$ws"
done
