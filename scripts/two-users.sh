#!/usr/bin/env bash
# The book's steps 7-8 on this machine: user1 (8001/8011/8021/8031) and user2
# (8002/8012/8022/8032), each a mycoind stack on regtest knowing the other's peer service.
# user1 mines and pays user2; user2 follows; then both race to mine for a few seconds.
# Data goes to a temporary directory; both stacks are stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p mycoind
dir=$(mktemp -d /tmp/mycoin-two-users.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

for n in 1 2; do
  other=$((3 - n))
  target/release/mycoind --user "$n" --network regtest --data-dir "$dir/user$n" \
    --peer "http://127.0.0.1:800$other" >"$dir/user$n.log" 2>&1 &
  pids+=($!)
done
for port in 8001 8011 8021 8031 8002 8012 8022 8032; do
  for _ in $(seq 100); do curl -sf "localhost:$port/healthz" >/dev/null && break; sleep 0.1; done
done

show() { echo "\$ $*"; "$@"; echo; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
token1=$(cat "$dir/user1/api-token") token2=$(cat "$dir/user2/api-token")

echo "== step 7: user1 mines, user2 follows; user1 pays user2"
a1=$(curl -s -X POST localhost:8011/keys -H "authorization: Bearer $token1" | json '["address"]')
show curl -s -X POST localhost:8031/mine -H "authorization: Bearer $token1" -H 'content-type: application/json' -d "{\"address\":\"$a1\"}" >/dev/null
a2=$(curl -s -X POST localhost:8022/wallet/addresses -H "authorization: Bearer $token2" | json '["address"]')
echo "\$ curl -s -X POST localhost:8021/wallet/send -H 'authorization: Bearer \$TOKEN' -d '{\"to\":\"$a2\",\"amount\":50000000,\"fee\":1000}'"
curl -s -X POST localhost:8021/wallet/send -H "authorization: Bearer $token1" \
  -H 'content-type: application/json' -d "{\"to\":\"$a2\",\"amount\":50000000,\"fee\":1000}"
echo
sleep 1
show curl -s localhost:8002/mempool
show curl -s -X POST localhost:8031/mine -H "authorization: Bearer $token1" -H 'content-type: application/json' -d "{\"address\":\"$a1\"}" >/dev/null
sleep 1
show curl -s localhost:8001/chain
show curl -s localhost:8002/chain
show curl -s localhost:8022/wallet

echo "== step 8: both mine (the book's mycoind.py) for 5 seconds, then stop"
curl -s -X POST localhost:8031/miner/start -H "authorization: Bearer $token1" -d '{}' -H 'content-type: application/json' >/dev/null
curl -s -X POST localhost:8032/miner/start -H "authorization: Bearer $token2" -d '{}' -H 'content-type: application/json' >/dev/null
sleep 5
show curl -s localhost:8031/miner
show curl -s localhost:8032/miner
curl -s -X POST localhost:8031/miner/stop -H "authorization: Bearer $token1" >/dev/null
curl -s -X POST localhost:8032/miner/stop -H "authorization: Bearer $token2" >/dev/null
sleep 2
show curl -s localhost:8001/chain
show curl -s localhost:8002/chain
