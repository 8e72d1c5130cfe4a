#!/usr/bin/env bash
# The docker compose test: the book's steps 7-8 on a real Docker engine, with docker-compose.yml
# as users run it, on the image scripts/docker-image.sh builds offline (tagged for the test only).
#
#   1. build the image (release binaries on the host, FROM scratch), `compose up -d`, wait until
#      the ten containers are healthy;
#   2. step 7: user1 mines, pays user2 through its wallet; the payment reaches user2 by gossip,
#      user1 mines it and user2's wallet shows the coins;
#   3. step 8: both miners race for two seconds, then stop; both peers hold one tip, and each
#      user's explorer race page shows its own tip and its peer's;
#   4. user2's four containers stop, user1 mines on, then user1's peer stops too; user2's start
#      again and, with no peer to learn from, show what their volume kept: the same tip height,
#      the same keys, still decrypting under the passphrase (user2 signs a payment); then user1's
#      peer starts again and user2 catches up with it;
#   5. `compose down -v` leaves no container, network or volume of the project.
#
# It runs under its own project name (mycoin-test-PID), on free host ports, with random API
# tokens, on regtest with mining off until asked (the step-8 race starts it), and always takes
# the project down on exit. `docker compose` is used when present, else `docker-compose`
# (MYCOIN_COMPOSE overrides, e.g. MYCOIN_COMPOSE=docker-compose).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${MYCOIN_COMPOSE:-}" ]; then
  read -r -a compose_cmd <<<"$MYCOIN_COMPOSE"
elif docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose_cmd=(docker-compose)
else
  echo "compose-test: neither 'docker compose' nor 'docker-compose' is installed" >&2
  exit 1
fi

project=mycoin-test-$$
# Its own tag, removed at the end: a mycoin:latest built by the user stays as it was.
image=mycoin-test:$$
compose() { "${compose_cmd[@]}" -p "$project" -f docker-compose.yml "$@"; }

started=$SECONDS
echo "== building $image offline (scripts/docker-image.sh)"
scripts/docker-image.sh "$image"
build_secs=$((SECONDS - started))

# Free host ports, random tokens, regtest, no mining until asked.
read -r -a ports < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(10)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
export MYCOIN_USER1_PEER_PORT=${ports[0]} MYCOIN_USER1_KEYS_PORT=${ports[1]}
export MYCOIN_USER1_WALLET_PORT=${ports[2]} MYCOIN_USER1_MINER_PORT=${ports[3]}
export MYCOIN_USER2_PEER_PORT=${ports[4]} MYCOIN_USER2_KEYS_PORT=${ports[5]}
export MYCOIN_USER2_WALLET_PORT=${ports[6]} MYCOIN_USER2_MINER_PORT=${ports[7]}
export MYCOIN_USER1_EXPLORER_PORT=${ports[8]} MYCOIN_USER2_EXPLORER_PORT=${ports[9]}
token1=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
token2=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export MYCOIN_USER1_API_TOKEN=$token1 MYCOIN_USER2_API_TOKEN=$token2
export MYCOIN_USER1_PASSPHRASE="user1 passphrase $$" MYCOIN_USER2_PASSPHRASE="user2 passphrase $$"
export MYCOIN_NETWORK=regtest MYCOIN_MINE=false MYCOIN_MINER_THREADS=1
export MYCOIN_IMAGE=$image MYCOIN_PUBLISH_ADDRESS=127.0.0.1
unset RUST_LOG

peer1=127.0.0.1:$MYCOIN_USER1_PEER_PORT keys1=127.0.0.1:$MYCOIN_USER1_KEYS_PORT
wallet1=127.0.0.1:$MYCOIN_USER1_WALLET_PORT miner1=127.0.0.1:$MYCOIN_USER1_MINER_PORT
peer2=127.0.0.1:$MYCOIN_USER2_PEER_PORT keys2=127.0.0.1:$MYCOIN_USER2_KEYS_PORT
wallet2=127.0.0.1:$MYCOIN_USER2_WALLET_PORT miner2=127.0.0.1:$MYCOIN_USER2_MINER_PORT
explorer1=127.0.0.1:$MYCOIN_USER1_EXPLORER_PORT explorer2=127.0.0.1:$MYCOIN_USER2_EXPLORER_PORT
user2_services=(user2-peer user2-keys user2-wallet user2-miner)

cleanup() {
  local status=$?
  if [ "$status" != 0 ]; then
    echo "== compose-test FAILED; the last log lines of each service:"
    compose logs --no-color --tail 15 2>&1 || true
  fi
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  docker image rm "$image" >/dev/null 2>&1 || true
}
trap cleanup EXIT

fail() { echo "compose-test: $*" >&2; exit 1; }
# `quiet COMMAND...`: runs COMMAND, showing its output only when it fails.
quiet() {
  local out
  out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; fail "$* failed"; }
}
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
get() { curl -sf --max-time 10 "$1"; }
post() { curl -sf --max-time 30 -X POST -H 'content-type: application/json' "$@"; }
# `wait_for SECONDS WHAT COMMAND...`: runs COMMAND every half second until it succeeds.
wait_for() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no $what within ${limit}s"
    sleep 0.5
  done
}
all_healthy() {
  local ids
  ids=$(compose ps -q "$@")
  [ "$(wc -w <<<"$ids")" = "$#" ] || return 1
  # shellcheck disable=SC2086
  [ -z "$(docker inspect -f '{{.State.Health.Status}}' $ids | grep -v '^healthy$')" ]
}
same_tip() { [ "$(get "$peer1/chain" | json '["tip"]')" = "$(get "$peer2/chain" | json '["tip"]')" ]; }
# (Answers are read whole before matching: `curl | grep -q` could fail on SIGPIPE under pipefail.)
in_mempool() { local body; body=$(get "$1/mempool") && [[ $body == *"$2"* ]]; }
confirmed_on() { local body; body=$(get "$1/transactions/$2") && [[ $body == *'"state":"confirmed"'* ]]; }
height() { get "$1/chain" | json '["height"]'; }
# `shows_tips EXPLORER OWN_TIP PEER_TIP`: the race page shows this node's tip and the peer's.
shows_tips() {
  local body; body=$(get "$1/?lang=en") &&
    [[ $body == *"id=\"tip-hash\""*"$2"* ]] && [[ $body == *"class=\"peer-tip\""*"title=\"$3\""* ]]
}
key_list() { get "$1/keys" | python3 -c 'import json,sys; print(sorted(k["address"] for k in json.load(sys.stdin)))'; }

all=(user1-peer user1-keys user1-wallet user1-miner user1-explorer "${user2_services[@]}" user2-explorer)
started=$SECONDS
echo "== ${compose_cmd[*]} -p $project up -d (host ports ${ports[*]})"
quiet compose up -d
wait_for 90 "healthy containers" all_healthy "${all[@]}"
echo "   all ten containers healthy after $((SECONDS - started))s"
[ -z "$(docker image inspect -f '{{json .Config.Env}}' "$image" | grep -i 'token\|passphrase')" ] ||
  fail "the image holds a secret"

status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "$peer1/chain")
[ "$status" = 421 ] || fail "user1's peer answered $status to a foreign Host, not 421"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$keys1/keys")
[ "$status" = 401 ] || fail "user1's keys service answered $status to POST /keys without a token, not 401"

echo "== step 7: user1 mines, pays user2 through its wallet; user2's wallet shows the coins"
a1=$(post "$keys1/keys" -H "authorization: Bearer $token1" | json '["address"]')
post "$miner1/mine" -H "authorization: Bearer $token1" -d "{\"address\":\"$a1\"}" | json '["height"]' >/dev/null
a2=$(post "$wallet2/wallet/addresses" -H "authorization: Bearer $token2" | json '["address"]')
txid=$(post "$wallet1/wallet/send" -H "authorization: Bearer $token1" \
  -d "{\"to\":\"$a2\",\"amount\":50000000,\"fee\":1000}" | json '["txid"]')
echo "   user1 paid 0.5 coin to user2's $a2: txid $txid"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$wallet2/wallet/send" -H "authorization: Bearer $token1" \
  -H 'content-type: application/json' -d "{\"to\":\"$a1\",\"amount\":1,\"fee\":0}")
[ "$status" = 401 ] || fail "user2's wallet answered $status to user1's API token, not 401"
wait_for 20 "payment in user2's mempool (gossip)" in_mempool "$peer2" "$txid"
post "$miner1/mine" -H "authorization: Bearer $token1" -d "{\"address\":\"$a1\"}" >/dev/null
wait_for 20 "payment confirmed on user2's peer" confirmed_on "$peer2" "$txid"
wallet2_view=$(get "$wallet2/wallet")
echo "   user2's wallet: $(json '["balance"]' <<<"$wallet2_view")"
python3 -c "
import json, sys
view = json.loads(sys.argv[1])
held = {k['address']: k['amount'] for k in view['unspent_keys']}
assert held.get(sys.argv[2]) == 50000000, held
assert view['balance']['confirmed'] == 50000000, view['balance']" "$wallet2_view" "$a2" ||
  fail "user2's wallet does not show the 0.5 coin"

echo "== step 8: both miners race for 2 seconds, then stop; both peers hold one tip"
post "$miner1/miner/start" -H "authorization: Bearer $token1" -d '{}' >/dev/null
post "$miner2/miner/start" -H "authorization: Bearer $token2" -d '{}' >/dev/null
sleep 2
post "$miner1/miner/stop" -H "authorization: Bearer $token1" >/dev/null
post "$miner2/miner/stop" -H "authorization: Bearer $token2" >/dev/null
found1=$(get "$miner1/miner" | json '["blocks_found"]')
found2=$(get "$miner2/miner" | json '["blocks_found"]')
echo "   blocks found: user1 $found1, user2 $found2"
[ "$found1" -gt 0 ] && [ "$found2" -gt 0 ] || fail "a miner found no block in the race"
logged1=$(compose logs --no-color user1-miner 2>&1 | grep -c 'mined a block' || true)
logged2=$(compose logs --no-color user2-miner 2>&1 | grep -c 'mined a block' || true)
echo "   'mined a block' lines in the logs: user1-miner $logged1, user2-miner $logged2"
[ "$logged1" -gt 0 ] && [ "$logged2" -gt 0 ] || fail "the miners' logs do not show the race"
wait_for 30 "single tip after the race" same_tip
before=$(height "$peer2")
keys_before=$(key_list "$keys2")
tip=$(get "$peer2/chain" | json '["tip"]')
echo "   one tip at height $before: $tip"
wait_for 30 "user1's explorer shows both tips" shows_tips "$explorer1" "$tip" "$tip"
wait_for 30 "user2's explorer shows both tips" shows_tips "$explorer2" "$tip" "$tip"
echo "   each user's explorer race page shows its own tip and its peer's"

echo "== user2's stack stops; user1 mines on, then its peer stops; user2's stack starts again"
quiet compose stop "${user2_services[@]}"
for _ in 1 2 3; do post "$miner1/mine" -H "authorization: Bearer $token1" -d "{\"address\":\"$a1\"}" >/dev/null; done
target=$(height "$peer1")
# With user1's peer down, whatever user2 holds after the restart comes from its own volume.
quiet compose stop user1-peer
quiet compose start "${user2_services[@]}"
wait_for 90 "healthy user2 containers after the restart" all_healthy "${user2_services[@]}"
after=$(height "$peer2")
[ "$after" = "$before" ] || fail "user2's chain is at height $after after the restart, was $before"
[ "$(key_list "$keys2")" = "$keys_before" ] || fail "user2's keys changed across the restart"
[[ $(get "$wallet2/wallet") == *"\"$a2\""* ]] || fail "user2's wallet lost $a2"
# The keys still decrypt under the passphrase: user2 signs a payment back to user1.
post "$wallet2/wallet/send" -H "authorization: Bearer $token2" \
  -d "{\"to\":\"$a1\",\"amount\":10000000,\"fee\":1000}" | json '["txid"]' >/dev/null ||
  fail "user2 cannot sign after the restart"
echo "   user2 restarted at height $after with its $(get "$keys2/keys" | json '.__len__()') keys and signed a payment"
quiet compose start user1-peer
wait_for 60 "user2 caught up with user1" same_tip
echo "   user1's peer back: user2 caught up to height $(height "$peer2") (user1 mined to $target)"

echo "== ${compose_cmd[*]} down -v"
quiet compose down -v --remove-orphans
label=label=com.docker.compose.project=$project
left="$(docker ps -aq --filter "$label")$(docker network ls -q --filter "$label")$(docker volume ls -q --filter "$label")"
[ -z "$left" ] || fail "left behind: $left"
docker image rm "$image" >/dev/null
trap - EXIT
echo "== compose test passed: image ${build_secs}s, compose run $((SECONDS - started))s"
