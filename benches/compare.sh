#!/usr/bin/env bash
# Times dv against the machine's limits on one dataset, in one run, and prints ratios.
#
#   python3 benches/gen_dataset.py --files 20000 --mb 500 --out /tmp/bench/data
#   bash benches/compare.sh /tmp/bench/data [path/to/dv]
#
# Phases: b3sum (2 processes), tar | zstd -3 -T0, cp -r, then dv: first commit, unchanged
# re-commit, status, checkout into an empty directory (twice, alternating with cp -r so the two
# meet the same disk state; the faster of each counts), and a commit after 1% of the files changed (every 100th file in
# path order gets a line appended). Peak RSS comes from /usr/bin/time. When installed, the
# peers run on the same data too: restic (backup, unchanged backup, backup after the 1% change,
# restore) and DVC (`dvc add`, unchanged `dvc add`, `dvc status`, `dvc add` after the change);
# set DVC=/path/to/dvc or RESTIC=/path/to/restic to pick a binary.
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

change_one_percent() { # dir: appends a line to every 100th file, in path order
  find "$1" -type f | LC_ALL=C sort | awk 'NR % 100 == 0' | while IFS= read -r f; do
    echo "changed $RANDOM" >>"$f"
  done
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
sync # the copy's dirty pages would otherwise be flushed during whatever runs next
cd "$work"
"$dv" init -q
sleep 3 # let file times age past the stat cache's racy window, as real data has
measure dv_commit "$dv" commit data -d bench -s raw -q
measure dv_recommit "$dv" commit data -d bench -s raw -q
measure dv_status "$dv" status data -q
# Checkout and cp -r write the same files; the disk's writeback stalls hit whichever runs at the
# wrong moment, so each runs twice, in alternating order after a sync, and the faster run counts.
for round in 1 2; do
  for phase in $([ $round = 1 ] && echo "cp dv" || echo "dv cp"); do
    sync
    if [ $phase = cp ]; then
      measure "cp_r_$round" cp -r "$data" "$work/copy"
    else
      measure "dv_checkout_$round" "$dv" checkout bench --to "$work/out" -q
    fi
  done
  rm -rf "$work/out" "$work/copy"
done
T_cp_r_again=$(printf '%s\n' "$T_cp_r_1" "$T_cp_r_2" | sort -n | head -n1)
T_dv_checkout=$(printf '%s\n' "$T_dv_checkout_1" "$T_dv_checkout_2" | sort -n | head -n1)
store=$(du -sb "$work/.dv/objects" | cut -f1)
changed_bytes=$(find "$work/data" -type f | LC_ALL=C sort | awk 'NR % 100 == 0' | tr '\n' '\0' | du -cb --files0-from=- | tail -n1 | cut -f1)
change_one_percent "$work/data"
measure dv_commit_1pct "$dv" commit data -d bench -s raw -q
store2=$(du -sb "$work/.dv/objects" | cut -f1)

restic="${RESTIC:-$(command -v restic || true)}"
if [ -n "$restic" ]; then
  export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$work/restic-cache"
  "$restic" -r "$work/restic" init -q >/dev/null
  measure restic_backup "$restic" -r "$work/restic" backup -q "$work/data"
  measure restic_rebackup "$restic" -r "$work/restic" backup -q "$work/data"
  change_one_percent "$work/data"
  measure restic_backup_1pct "$restic" -r "$work/restic" backup -q "$work/data"
  measure restic_restore "$restic" -r "$work/restic" restore latest -q --target "$work/restic-out"
fi
dvc="${DVC:-$(command -v dvc || true)}"
if [ -n "$dvc" ]; then
  mkdir "$work/dvc" && cp -r "$data" "$work/dvc/data" && sync
  (cd "$work/dvc" && "$dvc" init --no-scm -q)
  sleep 3
  measure dvc_add bash -c "cd '$work/dvc' && '$dvc' add -q data"
  measure dvc_readd bash -c "cd '$work/dvc' && '$dvc' add -q data"
  measure dvc_status bash -c "cd '$work/dvc' && '$dvc' status -q"
  change_one_percent "$work/dvc/data"
  measure dvc_add_1pct bash -c "cd '$work/dvc' && '$dvc' add -q data"
fi
zst=$(stat -c %s "$work/data.tar.zst")
echo
echo "ratios (lower is better):"
awk -v c="$T_dv_commit" -v t="$T_tar_zstd" -v b="$T_b3sum" -v r="$T_dv_recommit" -v s="$T_dv_status" \
    -v k="$T_dv_checkout" -v p="$T_cp_r_again" -v st="$store" -v z="$zst" -v st2="$store2" \
    -v one="$T_dv_commit_1pct" -v cb="$changed_bytes" -v total="$bytes" 'BEGIN {
  printf "first commit / (tar | zstd -3 -T0)  %.2f\n", c / t
  printf "first commit / b3sum               %.2f\n", c / b
  printf "unchanged re-commit / b3sum        %.2f\n", r / b
  printf "status / b3sum                     %.2f\n", s / b
  printf "checkout / cp -r (best of 2 each)  %.2f\n", k / p
  printf "store size / tar.zst size          %.2f\n", st / z
  printf "1%% change: commit / first commit   %.3f (changed files hold %.1f%% of the bytes)\n", one / c, 100 * cb / total
  printf "1%% change: store growth            %.1f%%\n", 100 * (st2 - st) / st
}'
if [ -n "$restic" ]; then
  awk -v c="$T_dv_commit" -v r="$T_restic_backup" -v rr="$T_restic_rebackup" -v d="$T_dv_recommit" \
      -v o="$T_dv_commit_1pct" -v ro="$T_restic_backup_1pct" \
      -v k="$T_dv_checkout" -v rs="$T_restic_restore" 'BEGIN {
    printf "first commit / restic backup       %.2f\n", c / r
    printf "re-commit / restic re-backup       %.2f\n", d / rr
    printf "1%% change: commit / restic backup  %.2f\n", o / ro
    printf "checkout / restic restore          %.2f\n", k / rs
  }'
fi
if [ -n "$dvc" ]; then
  awk -v c="$T_dv_commit" -v a="$T_dvc_add" -v d="$T_dv_recommit" -v ra="$T_dvc_readd" \
      -v s="$T_dv_status" -v ds="$T_dvc_status" -v o="$T_dv_commit_1pct" -v oa="$T_dvc_add_1pct" 'BEGIN {
    printf "first commit / dvc add             %.2f\n", c / a
    printf "re-commit / dvc re-add             %.2f\n", d / ra
    printf "status / dvc status                %.2f\n", s / ds
    printf "1%% change: commit / dvc add        %.2f\n", o / oa
  }'
fi
