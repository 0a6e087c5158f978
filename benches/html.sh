#!/usr/bin/env bash
# The browsable lineage page at scale: builds a DAG of 1,000 versions (a shared reference
# version, then 333 chains raw -> cleaned -> labeled, each raw version made from the reference),
# writes `dv lineage REFERENCE --down --format html`, and measures how long headless
# Chromium takes to load and draw it against an empty page; saves screenshots of it and of the
# quickstart pipeline into OUT (default: docs/img).
#
#   bash benches/html.sh target/release/dv [OUT]
set -euo pipefail
dv="$(realpath "$1")"
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${2:-$here/docs/img}")"
browser="$(command -v chromium || command -v chromium-browser)"
work="$(mktemp -d "${TMPDIR:-/tmp}/dv-html-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$work/profile" --window-size=1600,1000)

cd "$work" && mkdir ws && cd ws && "$dv" init -q
mkdir ref && echo reference >ref/r.txt
reference=$("$dv" commit ref -d reference -s raw -q)
for ((i = 0; i < 333; i++)); do
  mkdir -p d && echo "$i" >d/x.txt
  raw=$("$dv" commit d -d sensor -s raw -q --from "$reference" --transform "ingest batch $i")
  echo "$i clean" >d/x.txt
  cleaned=$("$dv" commit d -d sensor -s cleaned -q --from "$raw" --transform "python clean.py" --param "batch=$i")
  echo "$i label" >d/x.txt
  "$dv" commit d -d sensor -s labeled -q --from "$cleaned" --transform "python label.py" >/dev/null
done
"$dv" lineage "$reference" --down --format html >"$work/big.html"
echo "<!DOCTYPE html><title>empty</title>" >"$work/empty.html"
echo "versions: $("$dv" lineage "$reference" --down --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["nodes"]))'), page $(du -h "$work/big.html" | cut -f1)"
for page in empty big; do
  start=$(date +%s.%N)
  "$browser" "${flags[@]}" --virtual-time-budget=1000 --dump-dom "file://$work/$page.html" >"$work/$page.dom" 2>/dev/null
  echo "$page page: loaded and drawn in $(echo "$(date +%s.%N) - $start" | bc) s, $(grep -o 'data-version="' "$work/$page.dom" | wc -l) versions drawn"
done
"$browser" "${flags[@]}" --virtual-time-budget=1000 --screenshot="$out/lineage-1000.png" "file://$work/big.html" 2>/dev/null

# The quickstart's pipeline.
cd "$work" && mkdir qs && cd qs && "$dv" init -q
cp -R "$here/fixtures/penguins" raw && cp -R "$here/fixtures/pipeline" pipeline
"$dv" commit raw -d penguins -s raw -q >/dev/null
"$dv" run -d penguins -s cleaned --from penguins@raw --out cleaned -q -- python3 pipeline/clean.py >/dev/null 2>&1
"$dv" run -d penguins -s labeled --from penguins@cleaned --param threshold=4000 --out labeled -q -- python3 pipeline/label.py >/dev/null 2>&1
"$dv" run -d penguins -s training-ready --from penguins@labeled --param test_every=4 --out ready -q -- python3 pipeline/split.py >/dev/null 2>&1
"$dv" tag penguins@training-ready release-1 -q
"$dv" lineage penguins@training-ready --format html >"$work/qs.html"
id=$("$dv" resolve penguins@labeled)
"$browser" "${flags[@]}" --virtual-time-budget=1000 --screenshot="$out/lineage-quickstart.png" "file://$work/qs.html#click=$id" 2>/dev/null
echo "screenshots: $out/lineage-1000.png $out/lineage-quickstart.png"
