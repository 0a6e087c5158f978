#!/usr/bin/env bash
# The cost of `dv run` over running the same command and then `dv commit` by hand with the same
# provenance typed out: two small inputs (the penguins sample) and a large one (a generated CSV
# of SIZE MiB, default 200), each transform run ROUNDS times (default 5) both ways, alternating.
#
#   bash benches/run.sh target/release/dv [SIZE_MIB] [ROUNDS]
#
# Prints the median wall time of each way and the difference. What `dv run` adds: putting the
# input in place (here: already there, so verified through the stat cache), emptying the output,
# asking python for its version and installed distributions, verifying the input again, and
# storing the logs.
set -euo pipefail
dv="$(realpath "$1")"
size="${2:-200}"
rounds="${3:-5}"
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/dv-run-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
"$dv" init -q
cp -R "$here/fixtures/pipeline" pipeline
mkdir small big
cp "$here/fixtures/penguins/penguins.csv" small/
python3 "$here/benches/gen_csv.py" --mb "$size" --out gen >/dev/null
mv gen/old.csv big/penguins.csv && rm -rf gen
"$dv" commit small -d small -s raw -q >/dev/null
"$dv" commit big -d big -s raw -q >/dev/null

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for data in small big; do
  raw=$("$dv" resolve "$data@raw")
  : >"$work/by-hand" && : >"$work/dv-run"
  for ((i = 0; i < rounds; i++)); do
    # By hand: the command, then a commit with its provenance typed out.
    rm -rf out-hand && mkdir out-hand
    start=$(now)
    DV_INPUTS="{\"$data\":{\"path\":\"$work/$data\",\"id\":\"$raw\"}}" DV_OUTPUT="$work/out-hand" \
      DV_PARAMS='{"missing":"NA"}' python3 pipeline/clean.py >/dev/null
    "$dv" commit out-hand -d "$data" -s cleaned --from "$raw" --transform "python3 pipeline/clean.py" \
      --code pipeline/clean.py --param missing=NA -q >/dev/null
    echo "$(now) - $start" | bc >>"$work/by-hand"
    # dv run: the same command, its provenance recorded by running it.
    start=$(now)
    "$dv" run -d "$data" -s labeled --from "$raw" --param missing=NA --out out-run -q \
      -- python3 pipeline/clean.py >/dev/null 2>&1
    echo "$(now) - $start" | bc >>"$work/dv-run"
  done
  hand=$(median <"$work/by-hand")
  run=$(median <"$work/dv-run")
  echo "$data input ($(du -sh "$data" | cut -f1)): command + dv commit ${hand} s, dv run ${run} s, difference $(echo "$run - $hand" | bc) s (ratio $(echo "scale=3; $run / $hand" | bc))"
done
