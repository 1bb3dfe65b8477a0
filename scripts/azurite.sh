# Azurite (the Azure Storage emulator, pinned in package.json) on free loopback ports with
# in-memory storage. Sourced, not run, by scripts/test and bench/run:
#
#   . scripts/azurite.sh
#   azurite_start            # exports AZURITE_CONNECTION_STRING; exits 1 if Azurite does not come up
#   trap azurite_stop EXIT   # or call it from your own EXIT trap
#
# Needs `scripts/npm-ci` to have installed node_modules/.bin/azurite. Run from the repository root.

azurite_pid=""
azurite_log=""

azurite_start() {
  local blob_port queue_port table_port port attempt
  # Three free ports, so a developer's own Azurite on 10000-10002 is left alone.
  read -r blob_port queue_port table_port < <(python3 - <<'PY'
import socket
sockets = [socket.socket() for _ in range(3)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))
PY
  )

  azurite_log=$(mktemp -t azurite.XXXXXX.log)
  # Stock (strict) Azurite, as the README tells users to start it: no --loose, no
  # --skipApiVersionCheck, so anything it refuses fails the tests here first.
  node_modules/.bin/azurite --silent --inMemoryPersistence --disableTelemetry \
    --blobHost 127.0.0.1 --blobPort "$blob_port" \
    --queueHost 127.0.0.1 --queuePort "$queue_port" \
    --tableHost 127.0.0.1 --tablePort "$table_port" >"$azurite_log" 2>&1 &
  azurite_pid=$!

  for port in "$blob_port" "$queue_port" "$table_port"; do
    for attempt in $(seq 300); do
      if ! kill -0 "$azurite_pid" 2>/dev/null; then
        echo "Azurite exited before it was ready:" >&2
        cat "$azurite_log" >&2
        exit 1
      fi
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      if [ "$attempt" -eq 300 ]; then
        echo "Azurite did not open port $port within 30 s" >&2
        exit 1
      fi
      sleep 0.1
    done
  done
  echo "Azurite ready (blob $blob_port, queue $queue_port, table $table_port)"

  # Azurite's documented development account; not a secret.
  local account_key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
  export AZURITE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${account_key};BlobEndpoint=http://127.0.0.1:${blob_port}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:${queue_port}/devstoreaccount1;TableEndpoint=http://127.0.0.1:${table_port}/devstoreaccount1"
}

azurite_stop() {
  [ -n "$azurite_pid" ] || return 0
  # Azurite can linger after SIGINT; give it 5 s, then SIGKILL.
  kill -INT "$azurite_pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$azurite_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$azurite_pid" 2>/dev/null || true
  wait "$azurite_pid" 2>/dev/null || true
  rm -f "$azurite_log"
  azurite_pid=""
}
