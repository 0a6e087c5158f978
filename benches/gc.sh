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
#
# Remote gc: every version is pushed to a directory remote (and to a local s3s-fs server when
# tests/run.sh has installed one) before the retirement, the retirement is pushed, and
# `dv gc --remote NAME --prune --grace 0s` is measured the same way: time, peak RSS, requests,
# and the remote's size after against the fresh store.
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

# Remotes, holding every version before the retirement.
remotes=(dir)
"$dv" remote add dir "$work/remote-dir" -q
s3s="${DV_TOOLS_DIR:-$HOME/.cache/dv-tools}/bin/s3s-fs"
if [ -x "$s3s" ]; then
  mkdir -p "$work/s3/bench"
  port=$((20000 + RANDOM % 40000))
  "$s3s" --host 127.0.0.1 --port "$port" --access-key benchkey --secret-key benchsecret \
    "$work/s3" >/dev/null 2>&1 &
  s3pid=$!
  trap 'kill $s3pid 2>/dev/null; rm -rf "$work"' EXIT
  sleep 1
  export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret
  "$dv" remote add s3 s3://bench/r --endpoint "http://127.0.0.1:$port" --allow-http \
    --path-style --region us-east-1 -q
  remotes+=(s3)
fi
for remote in "${remotes[@]}"; do "$dv" push "$remote" -q; done
"$dv" retire --keep-last "$keep" -q
for remote in "${remotes[@]}"; do "$dv" push "$remote" -q; done
remote_files() {
  case "$1" in dir) echo "$work/remote-dir" ;; s3) echo "$work/s3/bench/r" ;; esac
}
declare -A remote_before remote_after remote_time
for remote in "${remotes[@]}"; do
  remote_before[$remote]=$(size "$(remote_files "$remote")")
  /usr/bin/time -f "%e %M" -o "$work/time" \
    "$dv" gc --remote "$remote" --prune --grace 0s --json >"$work/gc-$remote.json"
  remote_time[$remote]="$(cat "$work/time")"
  remote_after[$remote]=$(size "$(remote_files "$remote")")
done
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
for remote in "${remotes[@]}"; do
  read -r seconds rss <<<"${remote_time[$remote]}"
  echo "gc --remote $remote --prune: ${seconds} s, peak RSS $((rss / 1024)) MiB"
  grep -E '"(removed_objects|removed_bytes|packs_removed|packs_rewritten|requests)"' \
    "$work/gc-$remote.json" | tr -d ' ,' | paste -sd' '
  echo "  remote before $((remote_before[$remote] / 1048576)) MiB, after $((remote_after[$remote] / 1048576)) MiB; after / fresh = $(echo "scale=3; ${remote_after[$remote]} / $fresh" | bc)"
done
