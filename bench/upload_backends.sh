#!/usr/bin/env bash
# A 100 MB file uploaded and downloaded back through the release handler on both storage
# backends (issue 5): byte-identical, times, and the handler's peak RSS (VmHWM, target 64 MB).
# Usage: cargo build --release && scripts/npm-ci && bench/upload_backends.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/handler
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c 104857600 /dev/urandom >"$work/file.bin"

measure() { # NAME ENV...
  local name=$1 port handler token started up down hwm
  shift
  port=$(python3 bench/probe.py port)
  env "$@" PORT="$port" LOG_FORMAT=json DATA_DIR="$work/data-$name" "$bin" >/dev/null 2>&1 &
  handler=$!
  python3 bench/probe.py wait "http://127.0.0.1:$port/" 10
  token=$(python3 bench/probe.py token "http://127.0.0.1:$port")
  read -r status up < <(BENCH_TOKEN=$token python3 bench/probe.py upload \
    "http://127.0.0.1:$port/api/upload/big.bin" "$work/file.bin")
  [ "$status" = 201 ] || { echo "$name: upload answered $status" >&2; kill $handler; return 1; }
  started=$(date +%s.%N)
  python3 - "$port" "$token" "$work/back.bin" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=300)
c.request("GET", "/api/upload/big.bin", headers={"Authorization": f"Bearer {sys.argv[2]}"})
r = c.getresponse()
with open(sys.argv[3], "wb") as out:
    while chunk := r.read(1 << 20):
        out.write(chunk)
PY
  down=$(python3 -c "import time; print(f'{time.time() - $started:.3f}')")
  hwm=$(grep VmHWM "/proc/$handler/status" | awk '{print $2}')
  cmp -s "$work/file.bin" "$work/back.bin" && same=byte-identical || same=DIFFERENT
  echo "$name: upload ${up}s, download ${down}s, $same, peak RSS $((hwm / 1024)) MB"
  kill -TERM "$handler"; wait "$handler" 2>/dev/null || true
  rm -f "$work/back.bin"
}

measure embedded
# shellcheck source=../scripts/azurite.sh
. scripts/azurite.sh
trap 'azurite_stop; rm -rf "$work"' EXIT
azurite_start >/dev/null
measure azurite "STORAGE_CONNECTION_STRING=$AZURITE_CONNECTION_STRING"
