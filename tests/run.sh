#!/usr/bin/env bash
# Runs every test, the S3 remote suite and a headless-browser test included: installs s3s-fs (a small S3-compatible
# server) into a cache outside the clone if it is not there yet, starts it on a free loopback
# port with signature checks and a throwaway data directory, runs `cargo test --locked`
# against it (extra arguments are passed on), and stops it. It also makes a Python virtual
# environment with the OpenLineage client and the `prov` package (pinned), which the lineage
# export tests use to check dv's events and documents. Plain `cargo test` skips the S3 and
# Python-checked tests with a printed reason; this script makes a skipped one fail.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${DV_TOOLS_DIR:-$HOME/.cache/dv-tools}"
s3s="$tools/bin/s3s-fs"
if [ ! -x "$s3s" ]; then
  echo "run.sh: installing s3s-fs 0.14.1 into $tools (once)" >&2
  CARGO_TARGET_DIR="$tools/build" cargo install s3s-fs@0.14.1 --locked --features binary \
    --root "$tools" >&2
fi

# The Python packages that check dv's OpenLineage and PROV output, and write and read Parquet
# independently of dv (pyarrow) for the profile and row-diff tests.
py="$tools/py"
if [ ! -x "$py/bin/python" ] || ! "$py/bin/python" -c "import openlineage.client, prov, pyarrow" 2>/dev/null; then
  echo "run.sh: installing openlineage-python, prov and pyarrow into $py (once)" >&2
  rm -rf "$py"
  if ! python3 -m venv "$py" >&2; then
    # Debian splits venv out of python3; a bare CI machine may lack it.
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
      apt-get install -y -q python3-venv >&2 && python3 -m venv "$py" >&2
    else
      echo "run.sh: python3 -m venv failed; install python3-venv" >&2
      exit 1
    fi
  fi
  "$py/bin/pip" install -q "openlineage-python==1.54.0" "prov==3.2.3" "pyarrow==26.0.1" >&2
fi

# Headless Chromium for the lineage page's browser test (Debian's package; installed when this
# runs as root with apt, as CI does; elsewhere the browser test says it was skipped).
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "run.sh: installing chromium (once)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >&2 || { apt-get update -q >&2 && apt-get install -y -q chromium >&2; }
  browser="$(command -v chromium || true)"
fi
if [ -n "$browser" ]; then
  export DV_TEST_CHROMIUM="$browser" DV_TEST_REQUIRE_BROWSER=1
else
  echo "run.sh: no chromium and no root to install it: the browser test is skipped" >&2
fi

data="$(mktemp -d "${TMPDIR:-/tmp}/dv-s3.XXXXXX")"
bucket=dvtest
mkdir "$data/$bucket"
key=dvtestkey
secret="dvtestsecret$RANDOM$RANDOM"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$data" "$data.log"
}
trap cleanup EXIT

# A free port: try random ones until the server is up and answering on it.
for _ in $(seq 1 20); do
  port=$((20000 + RANDOM % 40000))
  "$s3s" --host 127.0.0.1 --port "$port" --access-key "$key" --secret-key "$secret" \
    "$data" >"$data.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break 2; fi
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
done
if [ -z "$pid" ]; then
  echo "run.sh: could not start s3s-fs:" >&2
  cat "$data.log" >&2
  exit 1
fi
rm -f "$data.log"
echo "run.sh: s3s-fs listening on 127.0.0.1:$port" >&2

export DV_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
export DV_TEST_S3_BUCKET="$bucket"
export DV_TEST_S3_KEY="$key"
export DV_TEST_S3_SECRET="$secret"
export DV_TEST_S3_DATA="$data"
export DV_TEST_REQUIRE_S3=1
export DV_TEST_PYTHON="$py/bin/python"
export DV_TEST_REQUIRE_PYTHON=1
cargo test --locked "$@"
