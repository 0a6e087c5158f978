#!/usr/bin/env bash
# Builds the fuzz targets once, then runs each for SECONDS (default 600), one after another,
# starting from the seeds in fuzz/seeds/ and keeping the corpus in fuzz/corpus/. Crashes land
# in fuzz/artifacts/TARGET/; each run's log and libFuzzer's final stats in fuzz/logs/.
# Usage: bash fuzz/run.sh [SECONDS] [TARGET...]   (needs: cargo install cargo-fuzz; nightly)
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(tree version pack_index pack lock_file revision dvignore)
fi
cargo +nightly fuzz build -O
bin=target/x86_64-unknown-linux-gnu/release
mkdir -p logs
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true
  echo "== $target: ${seconds}s"
  "$bin/$target" "corpus/$target" -artifact_prefix="artifacts/$target/" \
    -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
    > "logs/$target.log" 2>&1 || echo "!! $target stopped with a finding; see fuzz/logs/$target.log"
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "logs/$target.log" || true
done
