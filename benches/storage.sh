#!/usr/bin/env bash
# What chunking and deltas buy, and what they cost to read back, in one run:
#
#   bash benches/storage.sh [path/to/dv] [JSONL_MB] [VERSIONS] [CSVS]
#   bash benches/storage.sh target/release/dv 1024 200 4
#
# 1. A JSONL shard of JSONL_MB (default 1024): committed, then with 1% more lines appended,
#    then with 1% of its lines edited at scattered places; each commit's growth of
#    .dv/objects as a share of what the first version stored.
# 2. A history of VERSIONS versions (default 200) of CSVS generated CSVs (default 4; see
#    gen_history.py): checkout of the newest and of the oldest version, against checking out
#    the same bytes committed once into a fresh workspace (stored whole). Three rounds, the
#    four checkouts alternating within each so machine noise hits all of them; the best of
#    each counts, with its peak RSS. JSONL_MB=0 skips part 1.
set -euo pipefail
dv="$(realpath "${1:-$(command -v dv)}")"
jsonl_mb="${2:-1024}"
versions="${3:-200}"
csvs="${4:-4}"
gen="$(cd "$(dirname "$0")" && pwd)/gen_history.py"
work="$(mktemp -d "${TMPDIR:-/tmp}/dv-storage.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"

stored() { du -sb .dv/objects | cut -f1; }
ratio() { echo "scale=4; $1 / $2" | bc; }
percent() { echo "scale=2; 100 * $1 / $2" | bc; }

timed_checkout() { # workspace rev target: wall seconds and peak RSS (MB)
  local start kb
  rm -rf "$3"
  sync
  start=$(date +%s.%N)
  (cd "$1" && /usr/bin/time -f "%M" -o "$work/time.log" "$dv" checkout "$2" --to "$3" -q >/dev/null)
  kb=$(cat "$work/time.log")
  echo "$(echo "$(date +%s.%N) - $start" | bc) $((kb / 1024))"
}

if [ "$jsonl_mb" != 0 ]; then
echo "== JSONL shard, ${jsonl_mb} MB"
mkdir -p shard/data
python3 - "$jsonl_mb" shard/data/shard.jsonl <<'EOF'
import random, sys
rng = random.Random(1)
words = "the a model data label token sample image text score batch split train eval".split()
target, size, i = float(sys.argv[1]) * 1024 * 1024, 0, 0
with open(sys.argv[2], "w") as out:
    while size < target:
        text = " ".join(rng.choice(words) for _ in range(20))
        line = f'{{"id": {i}, "text": "{text}", "score": {rng.random():.6f}, "label": {rng.randrange(10)}}}\n'
        out.write(line)
        size += len(line)
        i += 1
EOF
cd shard
"$dv" init -q
"$dv" commit data -d shard -s raw -q >/dev/null
first=$(stored)
python3 - data/shard.jsonl append <<'EOF'
import random, sys
rng = random.Random(2)
words = "the a model data label token sample image text score batch split train eval".split()
with open(sys.argv[1]) as inp:
    count = sum(1 for _ in inp)
with open(sys.argv[1], "a") as out:
    for i in range(count, count + count // 100):
        text = " ".join(rng.choice(words) for _ in range(20))
        out.write(f'{{"id": {i}, "text": "{text}", "score": {rng.random():.6f}, "label": {rng.randrange(10)}}}\n')
EOF
"$dv" commit data -d shard -s raw -q >/dev/null
appended=$(stored)
python3 - data/shard.jsonl <<'EOF'
import random, sys
rng = random.Random(3)
with open(sys.argv[1]) as inp:
    lines = inp.readlines()
for n in rng.sample(range(len(lines)), len(lines) // 100):
    lines[n] = lines[n].replace('"label": ', '"label": 1', 1)
with open(sys.argv[1], "w") as out:
    out.writelines(lines)
EOF
"$dv" commit data -d shard -s raw -q >/dev/null
edited=$(stored)
echo "first version stored: $((first / 1024)) KiB"
echo "1% appended: +$(((appended - first) / 1024)) KiB = $(percent $((appended - first)) "$first")% of the first"
echo "1% of lines edited: +$(((edited - appended) / 1024)) KiB = $(percent $((edited - appended)) "$first")% of the first"
cd "$work"
rm -rf shard
fi

echo "== history of $versions versions, $csvs CSVs"
mkdir history && cd history
python3 "$gen" init data --csvs "$csvs"
"$dv" init -q
oldest=$("$dv" commit data -d history -s raw -q)
cp -r data ../oldest-data
for v in $(seq 1 "$versions"); do
  python3 "$gen" step data --version "$v"
  "$dv" commit data -d history -s raw -q >/dev/null
done
echo "one version: $(($(du -sb data | cut -f1) / 1024)) KiB; .dv/objects: $(($(stored) / 1024)) KiB"
cd "$work"
for which in newest oldest; do
  mkdir "plain-$which"
  if [ "$which" = newest ]; then cp -r history/data "plain-$which/data"; else cp -r oldest-data "plain-$which/data"; fi
  (cd "plain-$which" && "$dv" init -q && "$dv" commit data -d plain -s raw -q >/dev/null)
done
declare -A best rss
for round in 1 2 3; do
  for run in "history history@raw newest" "plain-newest plain@raw plain-newest-out" \
             "history $oldest oldest" "plain-oldest plain@raw plain-oldest-out"; do
    read -r ws rev out <<<"$run"
    read -r secs mb < <(timed_checkout "$work/$ws" "$rev" "$work/$out")
    if [ -z "${best[$out]:-}" ] || [ "$(echo "$secs < ${best[$out]}" | bc)" = 1 ]; then
      best[$out]=$secs
      rss[$out]=$mb
    fi
  done
done
diff -r newest history/data >/dev/null || { echo "the newest checkout differs from the data" >&2; exit 1; }
diff -r oldest oldest-data >/dev/null || { echo "the oldest checkout differs from the data" >&2; exit 1; }
for which in newest oldest; do
  printf 'checkout %s: %.3f s (%s MB) vs stored whole %.3f s (%s MB): %sx\n' "$which" \
    "${best[$which]}" "${rss[$which]}" "${best[plain-$which-out]}" "${rss[plain-$which-out]}" \
    "$(ratio "${best[$which]}" "${best[plain-$which-out]}")"
done
