#!/usr/bin/env bash
# Remotes side by side, in one run against one local S3-compatible server: dv push, no-op push,
# clone --no-data + materialize, full clone; DVC push, no-op push and pull into a fresh clone;
# and `cp -r` of the same data as the machine's limit.
#
#   python3 benches/gen_dataset.py --files 20000 --mb 500 --out /tmp/bench/data
#   DV=~/.cache/dv-release/release/dv DVC=/tmp/rbench/dvcenv/bin/dvc \
#     MOTO=/tmp/rbench/motoenv/bin/moto_server bash benches/remote.sh /tmp/bench/data moto
#
# SERVER is `s3s` (s3s-fs from ~/.cache/dv-tools, what the tests use; `dvc pull` fails against
# it: it answers HeadObject on a key prefix with 500) or `moto` (serves both tools; its log
# gives a server-side request count for each phase). Prints one line per phase: wall seconds,
# requests (server-side on moto; dv's own count in brackets), and the data's size.
set -euo pipefail
data="$(cd "$1" && pwd)"
server="${2:-s3s}"
dv="${DV:-dv}"
dvc="${DVC:-dvc}"
work="$(mktemp -d "${TMPDIR:-/tmp}/dv-remote-bench.XXXXXX")"
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT

port=$((20000 + RANDOM % 40000))
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret AWS_DEFAULT_REGION=us-east-1
case "$server" in
  s3s)
    mkdir -p "$work/s3/bench"
    "${S3S:-$HOME/.cache/dv-tools/bin/s3s-fs}" --host 127.0.0.1 --port "$port" \
      --access-key benchkey --secret-key benchsecret "$work/s3" >"$work/server.log" 2>&1 &
    pid=$! ;;
  moto)
    "${MOTO:-moto_server}" -H 127.0.0.1 -p "$port" >"$work/server.log" 2>&1 &
    pid=$! ;;
  *) echo "unknown server $server" >&2; exit 2 ;;
esac
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
[ "$server" = moto ] && curl -s -X PUT "http://127.0.0.1:$port/bench" >/dev/null
endpoint="http://127.0.0.1:$port"

files=$(find "$data" -type f | wc -l)
bytes=$(du -sb "$data" | cut -f1)
echo "# $files files, $((bytes / 1048576)) MiB, server $server, $(nproc) cores"

requests() { if [ "$server" = moto ]; then grep -c 'HTTP/1.1"' "$work/server.log" || true; else echo "-"; fi; }
phase() { # phase NAME COMMAND...: wall seconds and server-side requests of one step
  local name=$1; shift
  local before; before=$(requests)
  local start; start=$(date +%s.%N)
  "$@" >"$work/out" 2>"$work/err" || { echo "$name: FAILED"; tail -3 "$work/err"; return 0; }
  local end; end=$(date +%s.%N)
  local after; after=$(requests)
  local ours=""
  if grep -q '"requests"' "$work/out" 2>/dev/null; then
    ours=" [dv: $(grep -o '"requests": [0-9]*' "$work/out" | head -1 | cut -d' ' -f2) requests, $(grep -o '"bytes": [0-9]*' "$work/out" | head -1 | cut -d' ' -f2) bytes]"
  fi
  local reqs="-"
  [ "$server" = moto ] && reqs=$((after - before))
  printf "%-28s %8.2f s  %8s requests%s\n" "$name" "$(echo "$end - $start" | bc)" "$reqs" "$ours"
}

# Creating many inodes swings with the disk's writeback: cp -r before and after dv.
copy() { sync; phase "cp -r" cp -r "$data" "$work/copy"; rm -rf "$work/copy"; sync; }
copy

# dv: commit (not timed), push, no-op push, clone --no-data + materialize, full clone.
mkdir "$work/dv" && cp -r "$data" "$work/dv/data"
(cd "$work/dv" && "$dv" init -q && "$dv" commit data -d bench -s raw -q >/dev/null \
  && "$dv" pin bench --as train --path train -q \
  && "$dv" remote add origin s3://bench/dv --endpoint "$endpoint" --path-style --allow-http -q)
cd "$work/dv"
phase "dv push" "$dv" push --json -q
phase "dv push (no-op)" "$dv" push --json -q
cd "$work"
materialize() {
  "$dv" clone s3://bench/dv "$work/train" --no-data --endpoint "$endpoint" --path-style --allow-http -q \
    && cp "$work/dv/dv.lock" "$work/train/" && cd "$work/train" && "$dv" materialize -q && cd "$work"
}
phase "dv clone --no-data + materialize" materialize
diff -r "$data" "$work/train/train" >/dev/null && echo "  (materialized data identical)"
phase "dv clone (all data)" "$dv" clone s3://bench/dv "$work/full" --json -q \
  --endpoint "$endpoint" --path-style --allow-http
rm -rf "$work/train" "$work/full" "$work/dv"
copy

# DVC: add (not timed), push, no-op push, pull into a fresh git clone.
if command -v "$dvc" >/dev/null; then
  mkdir "$work/dvc" && cp -r "$data" "$work/dvc/data"
  cd "$work/dvc"
  git init -q && git config user.email b@b && git config user.name bench
  "$dvc" init -q && "$dvc" remote add -d s3 s3://bench/dvc -q
  "$dvc" remote modify s3 endpointurl "$endpoint"
  "$dvc" add data -q >/dev/null 2>&1
  git add -A >/dev/null && git commit -qm data
  phase "dvc push" "$dvc" push -q
  phase "dvc push (no-op)" "$dvc" push -q
  git clone -q "$work/dvc" "$work/dvc-clone"
  cd "$work/dvc-clone"
  phase "dvc pull (fresh clone)" "$dvc" pull -q
  diff -r "$data" "$work/dvc-clone/data" >/dev/null && echo "  (pulled data identical)"
fi
