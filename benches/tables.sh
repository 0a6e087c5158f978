#!/usr/bin/env bash
# Many small tables over many versions, each version re-extracted (new inodes, the same mtimes,
# as unpacking an archive gives), committed with profiles on and with profiles off, and for
# reference into git packed with `git gc --aggressive`. Prints the commit totals and store
# sizes and their ratios, all from one run, and the store sizes again after `dv gc --repack`.
#
#   bash benches/tables.sh VERSIONS [path/to/dv] [gen_tables.py init options...]
#   bash benches/tables.sh 60 target/release/dv                  # 400 tables
#   bash benches/tables.sh 100 target/release/dv --tables 900    # the size of the real history
set -euo pipefail
versions="$1"
dv="$(realpath "${2:-$(command -v dv)}")"
shift 2 || shift $#
gen="$(cd "$(dirname "$0")" && pwd)/gen_tables.py"
work="$(mktemp -d "${TMPDIR:-/tmp}/dv-tables.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
python3 "$gen" init source "$@"
for side in on off; do
  mkdir "$side" && (cd "$side" && "$dv" init -q)
done
printf '[profile]\nenabled = false\n' > off/dv.toml
git init -q git && git -C git config user.email bench@dv && git -C git config user.name bench
declare -A total=([on]=0 [off]=0)
for v in $(seq 0 "$versions"); do
  [ "$v" -gt 0 ] && python3 "$gen" step source --version "$v"
  for side in on off; do
    rm -rf "$side/data" && cp -a source "$side/data"
    start=$(date +%s.%N)
    (cd "$side" && "$dv" commit data -d tables -s raw -q -m "version $v" >/dev/null)
    total[$side]=$(echo "${total[$side]} + $(date +%s.%N) - $start" | bc)
  done
  rm -rf git/data && cp -a source git/data
  git -C git add -A && git -C git commit -q -m "version $v"
done
git -C git gc -q --aggressive --prune=now
size() { du -sb "$1" | cut -f1; }
on=$(size on/.dv) off=$(size off/.dv) pack=$(size git/.git/objects)
echo "tables: $(find source -type f | wc -l), one version: $(( $(size source) / 1024 )) KiB, versions: $((versions + 1))"
printf 'commit total: profiles on %.1f s, off %.1f s, on/off %.2f\n' "${total[on]}" "${total[off]}" \
  "$(echo "scale=3; ${total[on]} / ${total[off]}" | bc)"
echo ".dv: profiles on $((on / 1024)) KiB, off $((off / 1024)) KiB, git aggressive pack $((pack / 1024)) KiB"
echo "on/off $(echo "scale=2; $on / $off" | bc), on/git $(echo "scale=2; $on / $pack" | bc), off/git $(echo "scale=2; $off / $pack" | bc)"
# One pack per side, as `dv gc --repack` leaves it (git's is already one, after its own gc).
for side in on off; do (cd "$side" && "$dv" gc --repack -q); done
on=$(size on/.dv) off=$(size off/.dv)
echo "after dv gc --repack: .dv profiles on $((on / 1024)) KiB, off $((off / 1024)) KiB; on/off $(echo "scale=2; $on / $off" | bc), on/git $(echo "scale=2; $on / $pack" | bc), off/git $(echo "scale=2; $off / $pack" | bc)"
