#!/usr/bin/env bash
# gc and repack of a many-file store with half its versions retired: time, peak RSS, bytes
# reclaimed, and the store left against a fresh store holding only the kept versions.
#
#   python3 benches/gen_dataset.py --files 100000 --mb 200 --out /tmp/b100k/data
#   bash benches/gc.sh /tmp/b100k/data target/release/dv [VERSIONS]
#
# Builds VERSIONS versions (default 10), each rewriting a different tenth of the files with new
# random bytes of the same size (so old contents are no delta base of new ones), retires all but
# the newest half with `dv retire --keep-last`, then runs
# `dv gc --prune --grace 0s`. The fresh store replays only the kept versions (checked out from
# the first workspace and committed in order), so "left / fresh" near 1 means gc removed what
# only the retired versions held and nothing else.
set -euo pipefail
data="$(cd "$1" && pwd)"
dv="$(realpath "$2")"
versions="${3:-10}"
work="$(mktemp -d "${TMPDIR:-/tmp}/dv-gc-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
size() { du -sb "$1" | cut -f1; }

mkdir "$work/ws" && cp -r "$data" "$work/ws/data" && cd "$work/ws"
"$dv" init -q
count=$(find data -type f | wc -l)
ids=()
for ((v = 0; v < versions; v++)); do
  if ((v > 0)); then
    python3 - "$v" <<'PY'
import os, sys
v = int(sys.argv[1])
files = sorted(os.path.join(d, f) for d, _, fs in os.walk("data") for f in fs)
for path in files[v % 10::10]:
    size = os.path.getsize(path)
    with open(path, "wb") as out:
        out.write(os.urandom(size))
PY
  fi
  ids+=("$("$dv" commit data -d bench -s raw -q)")
done
keep=$((versions / 2))
"$dv" retire --keep-last "$keep" -q
before=$(size .dv/objects)
/usr/bin/time -f "%e %M" -o "$work/time" "$dv" gc --prune --grace 0s --json >"$work/gc.json"
read -r seconds rss <"$work/time"
after=$(size .dv/objects)
"$dv" fsck -q

mkdir "$work/fresh" && cd "$work/fresh" && "$dv" init -q
for ((v = versions - keep; v < versions; v++)); do
  rm -rf data
  (cd "$work/ws" && "$dv" checkout "${ids[$v]}" --to "$work/fresh/data" -q)
  "$dv" commit data -d bench -s raw -q >/dev/null
done
fresh=$(size .dv/objects)

echo "# $count files, $versions versions, $((versions - keep)) retired"
echo "gc --prune: ${seconds} s, peak RSS $((rss / 1024)) MiB"
grep -E '"(garbage_objects|removed_objects|removed_bytes|packs_removed|packs_rewritten|live_objects)"' "$work/gc.json" | tr -d ' ,'
echo "store before $((before / 1048576)) MiB, after $((after / 1048576)) MiB, reclaimed $(((before - after) / 1048576)) MiB"
echo "fresh store of the kept versions only: $((fresh / 1048576)) MiB; after / fresh = $(echo "scale=3; $after / $fresh" | bc)"
