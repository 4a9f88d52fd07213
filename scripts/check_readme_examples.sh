#!/usr/bin/env bash
# Runs every command between the examples markers in README.md against a
# fresh `npm start` (on a throwaway data directory and a free port), and fails
# if any of them fails.
set -euo pipefail
cd "$(dirname "$0")/.."

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
data_dir=$(mktemp -d)
log=$(mktemp)
# Its own process group, so that stopping it stops npm, tsx and node alike.
API_PORT=$port API_HOST=127.0.0.1 SCHEDULER_PORT=0 SENDER_PORT=0 DATA_DIR=$data_dir setsid npm start >"$log" 2>&1 &
server=$!
cleanup() {
  kill -TERM -- "-$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$data_dir" "$log"
}
trap cleanup EXIT

for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 1
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "server did not become ready:"; cat "$log"; exit 1; }

# The examples block, with the port swapped for the one we started on.
examples=$(sed -n '/<!-- examples:start -->/,/<!-- examples:end -->/p' README.md | sed '/^```/d;/^<!--/d' |
  sed "s#localhost:8080#127.0.0.1:$port#g")
echo "$examples" > "$data_dir/examples.sh"
if ! bash -euo pipefail -x "$data_dir/examples.sh"; then
  echo "a README example failed; server log:" >&2
  cat "$log" >&2
  exit 1
fi
echo "README examples: all passed"
