#!/usr/bin/env bash
# /api/hello latency with and without 8 concurrent logins (issue 6: p99 under 10 ms while
# argon2id runs). Usage: cargo build --release && bench/login_storm.sh
# Drives the release handler (embedded storage in a temp dir) with wrk (-t1 -c4, 8 s) on
# /api/hello, once alone and once while 8 keep-alive clients log in in a loop.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/handler
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d)
port=$(python3 bench/probe.py port)
PORT=$port LOG_FORMAT=json DATA_DIR=$work/data "$bin" >/dev/null 2>&1 &
handler=$!
trap 'kill -TERM $handler 2>/dev/null; wait $handler 2>/dev/null; rm -rf "$work"' EXIT
python3 bench/probe.py wait "http://127.0.0.1:$port/" 10

python3 - "$port" <<'PY'
import http.client, json, sys
port = int(sys.argv[1])
for n in range(1, 9):
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("POST", "/api/users", json.dumps({"username": f"storm{n}", "password": "correct horse battery staple"}),
              {"content-type": "application/json"})
    c.getresponse().read()
PY

echo "== hello alone"
wrk -t1 -c4 -d8s --latency "http://127.0.0.1:$port/api/hello?name=Ada" | grep -E "Requests/sec|50%|99%"

echo "== hello while 8 logins run concurrently"
python3 - "$port" 10 <<'PY' &
import http.client, json, sys, threading, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
statuses = []
def worker(n):
    c = http.client.HTTPConnection("127.0.0.1", port)
    body = json.dumps({"username": f"storm{n}", "password": "correct horse battery staple"})
    end = time.time() + seconds
    while time.time() < end:
        c.request("POST", "/api/users/login", body, {"content-type": "application/json"})
        r = c.getresponse(); r.read(); statuses.append(r.status)
threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 9)]
[t.start() for t in threads]; [t.join() for t in threads]
print(f"logins: {len(statuses)}, statuses {sorted(set(statuses))}")
PY
storm=$!
sleep 1
wrk -t1 -c4 -d8s --latency "http://127.0.0.1:$port/api/hello?name=Ada" | grep -E "Requests/sec|50%|99%"
wait $storm
