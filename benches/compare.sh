#!/usr/bin/env bash
# Times dv against the machine's limits on one dataset, in one run, and prints ratios.
#
#   python3 benches/gen_dataset.py --files 20000 --mb 500 --out /tmp/bench/data
#   bash benches/compare.sh /tmp/bench/data [path/to/dv]
#
# Phases: b3sum (2 processes), tar | zstd -3 -T0, cp -r, then dv: first commit, unchanged
# re-commit, status, checkout into an empty directory. Peak RSS comes from /usr/bin/time.
# When installed, the peers run on the same data too: restic (backup, unchanged backup,
# restore) and DVC (`dvc add`, unchanged `dvc add`, `dvc status`); set DVC=/path/to/dvc or
# RESTIC=/path/to/restic to pick a binary.
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

restic="${RESTIC:-$(command -v restic || true)}"
if [ -n "$restic" ]; then
  export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$work/restic-cache"
  "$restic" -r "$work/restic" init -q >/dev/null
  measure restic_backup "$restic" -r "$work/restic" backup -q "$work/data"
  measure restic_rebackup "$restic" -r "$work/restic" backup -q "$work/data"
  measure restic_restore "$restic" -r "$work/restic" restore latest -q --target "$work/restic-out"
fi
dvc="${DVC:-$(command -v dvc || true)}"
if [ -n "$dvc" ]; then
  mkdir "$work/dvc" && cp -r "$data" "$work/dvc/data"
  (cd "$work/dvc" && "$dvc" init --no-scm -q)
  sleep 3
  measure dvc_add bash -c "cd '$work/dvc' && '$dvc' add -q data"
  measure dvc_readd bash -c "cd '$work/dvc' && '$dvc' add -q data"
  measure dvc_status bash -c "cd '$work/dvc' && '$dvc' status -q"
fi
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
if [ -n "$restic" ]; then
  awk -v c="$T_dv_commit" -v r="$T_restic_backup" -v rr="$T_restic_rebackup" -v d="$T_dv_recommit" \
      -v k="$T_dv_checkout" -v rs="$T_restic_restore" 'BEGIN {
    printf "first commit / restic backup       %.2f\n", c / r
    printf "re-commit / restic re-backup       %.2f\n", d / rr
    printf "checkout / restic restore          %.2f\n", k / rs
  }'
fi
if [ -n "$dvc" ]; then
  awk -v c="$T_dv_commit" -v a="$T_dvc_add" -v d="$T_dv_recommit" -v ra="$T_dvc_readd" \
      -v s="$T_dv_status" -v ds="$T_dvc_status" 'BEGIN {
    printf "first commit / dvc add             %.2f\n", c / a
    printf "re-commit / dvc re-add             %.2f\n", d / ra
    printf "status / dvc status                %.2f\n", s / ds
  }'
fi
