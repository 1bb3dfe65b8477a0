#!/usr/bin/env bash
# bench/memory.py with Azurite started for it (the upload figure on both backends), on the
# release binary. Arguments go to memory.py, e.g. to try an allocator without rebuilding:
#   bench/memory.sh --label jemalloc --env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
# Needs `cargo build --release` and `scripts/npm-ci` first.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/handler ] || { echo "build first: cargo build --release" >&2; exit 1; }
# shellcheck source=../scripts/azurite.sh
. scripts/azurite.sh
trap azurite_stop EXIT
azurite_start >&2
python3 bench/memory.py --azurite "$AZURITE_CONNECTION_STRING" "$@"
