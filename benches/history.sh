#!/usr/bin/env bash
# Storage over a long history: every version of a generated data directory is committed with
# dv and, for reference, into a git repository packed with `git gc --aggressive`; prints both
# sizes and their ratio (the storage issue's target: .dv ≤ 2× the aggressive git pack), then
# the store again after `dv gc --repack`.
#
#   bash benches/history.sh VERSIONS [path/to/dv] [gen_history.py init options...]
#   bash benches/history.sh 200 target/release/dv                 # 24 CSVs of 1–4 MB
#   bash benches/history.sh 20 target/release/dv --csvs 6         # a quick look
set -euo pipefail
versions="$1"
dv="$(realpath "${2:-$(command -v dv)}")"
shift 2 || shift $#
gen="$(cd "$(dirname "$0")" && pwd)/gen_history.py"
work="$(mktemp -d "${TMPDIR:-/tmp}/dv-history.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
python3 "$gen" init data "$@"
"$dv" init -q
git init -q git && git -C git config user.email bench@dv && git -C git config user.name bench
start=$(date +%s)
for v in $(seq 0 "$versions"); do
  [ "$v" -gt 0 ] && python3 "$gen" step data --version "$v"
  "$dv" commit data -d history -s raw -q -m "version $v" >/dev/null
  rm -rf git/data && cp -r data git/data
  git -C git add -A && git -C git commit -q -m "version $v"
done
echo "committed $versions versions after the first in $(( $(date +%s) - start )) s"
raw=$(du -sb data | cut -f1)
git -C git gc -q --aggressive --prune=now
dv_bytes=$(du -sb .dv/objects | cut -f1)
git_bytes=$(du -sb git/.git/objects | cut -f1)
echo "one version: $((raw / 1024)) KiB; .dv/objects: $((dv_bytes / 1024)) KiB; git aggressive pack: $((git_bytes / 1024)) KiB"
echo "dv / git = $(echo "scale=2; $dv_bytes / $git_bytes" | bc)"
# The same store as `dv gc --repack` leaves it (one pack, whole objects at zstd 15).
"$dv" gc --repack -q
dv_bytes=$(du -sb .dv/objects | cut -f1)
echo "after dv gc --repack: .dv/objects $((dv_bytes / 1024)) KiB; dv / git = $(echo "scale=2; $dv_bytes / $git_bytes" | bc)"
