#!/usr/bin/env bash
# Times dv against the machine's limits on one dataset, in one run, and prints ratios.
#
#   python3 benches/gen_dataset.py --files 20000 --mb 500 --out /tmp/bench/data
#   bash benches/compare.sh /tmp/bench/data [path/to/dv]
#
# Phases: b3sum (2 processes), tar | zstd -3 -T0, cp -r, then dv: first commit, unchanged
# re-commit, status, checkout into an empty directory. Peak RSS comes from /usr/bin/time -v.
set -euo pipefail
data="$(cd "$1" && pwd)"
dv="${2:-dv}"
work="$(mktemp -d "${TMPDIR:-/tmp}/dv-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

measure() { # name, command...: prints "name seconds peak_rss_mb"
  local name=$1; shift
  local log="$work/time.log"
  /usr/bin/time -f "%e %M" -o "$log" "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; exit 1; }
  read -r secs kb < <(tail -n1 "$log")
  printf "%-22s %8.2f s %8.0f MB\n" "$name" "$secs" "$((kb / 1024))"
  eval "T_${name//[^a-zA-Z0-9]/_}=$secs"
}

files=$(find "$data" -type f | wc -l)
bytes=$(du -sb "$data" | cut -f1)
echo "dataset: $data ($files files, $((bytes / 1048576)) MiB)"
sync
measure b3sum bash -c "cd '$data' && find . -type f -print0 | xargs -0 -P2 -n 1000 b3sum"
measure tar_zstd bash -c "tar -C '$data' -cf - . | zstd -3 -T0 -q -o '$work/data.tar.zst'"
measure cp_r cp -r "$data" "$work/copy"
rm -rf "$work/copy"

cp -r "$data" "$work/data"
cd "$work"
"$dv" init -q
sleep 3 # let file times age past the stat cache's racy window, as real data has
measure dv_commit "$dv" commit data -d bench -s raw -q
measure dv_recommit "$dv" commit data -d bench -s raw -q
measure dv_status "$dv" status data -q
measure dv_checkout "$dv" checkout bench --to "$work/out" -q
store=$(du -sb "$work/.dv/objects" | cut -f1)
zst=$(stat -c %s "$work/data.tar.zst")
echo
echo "ratios (lower is better):"
awk -v c="$T_dv_commit" -v t="$T_tar_zstd" -v b="$T_b3sum" -v r="$T_dv_recommit" -v s="$T_dv_status" \
    -v k="$T_dv_checkout" -v p="$T_cp_r" -v st="$store" -v z="$zst" 'BEGIN {
  printf "first commit / (tar | zstd -3 -T0)  %.2f\n", c / t
  printf "first commit / b3sum               %.2f\n", c / b
  printf "unchanged re-commit / b3sum        %.2f\n", r / b
  printf "status / b3sum                     %.2f\n", s / b
  printf "checkout / cp -r                   %.2f\n", k / p
  printf "store size / tar.zst size          %.2f\n", st / z
}'
