#!/usr/bin/env bash
# The book's race, measured (a benchmark, never a test): two users mine on the demo network,
# one miner thread each, from the start, and the script checks that each wins the share of
# blocks its share of the hash rate earns.
#
#   scripts/race.sh mycoind     # two mycoind processes peered on loopback
#   scripts/race.sh compose     # docker-compose.yml on the image scripts/docker-image.sh builds
#   scripts/race.sh             # both, one after the other
#
#   MYCOIN_RACE_BLOCKS=200      blocks measured (after the warm-up)
#   MYCOIN_RACE_WARMUP=0        blocks left out first (none: demo's genesis bits already ask a
#                               few seconds of one core a block, and the retarget does the rest)
#   MYCOIN_RACE_THREADS=1       nonce-search threads of each miner
#
# Over the measured blocks it prints, per user: the mean hash rate (GET /miner's one-second
# rate, sampled each second), its share of the two, its share of the blocks of the active chain
# (by the coinbase's address: each background miner pays one fresh key), the seconds per block
# the miner hashed on a parent its peer had already left (stale) and hashed nothing between
# searches (idle) (GET /miner's stale_seconds and idle_seconds, over the measured window), the
# relay delay of its blocks to the other user's peer (from both peers' GET /events), and the
# exact two-sided binomial test's p-value of the block count against the hash share.
# Target: p >= 0.01, and stale + idle <= 2 % of the mean block interval.
set -euo pipefail
cd "$(dirname "$0")/.."

blocks=${MYCOIN_RACE_BLOCKS:-200}
warmup=${MYCOIN_RACE_WARMUP:-0}
threads=${MYCOIN_RACE_THREADS:-1}
modes=("${@:-mycoind compose}")
read -r -a modes <<<"${modes[*]}"

free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
wait_up() {
  local url
  for url in "$@"; do
    for _ in $(seq 600); do curl -sf --max-time 2 "$url/healthz" >/dev/null && break; sleep 0.2; done
    curl -sf --max-time 2 "$url/healthz" >/dev/null || { echo "race: $url is not up" >&2; exit 1; }
  done
}

# `measure LABEL PEER1 MINER1 PEER2 MINER2`: waits for the warm-up, measures `blocks` blocks.
measure() {
  python3 - "$@" "$warmup" "$blocks" <<'PY'
import json, math, os, statistics, sys, threading, time, urllib.request

label, peer1, miner1, peer2, miner2 = sys.argv[1:6]
warmup, blocks = int(sys.argv[6]), int(sys.argv[7])

def get(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)

def height():
    return get(peer1 + "/chain")["height"]

def miners():
    return [get(miner1 + "/miner"), get(miner2 + "/miner")]

def load():
    return os.getloadavg()[0]

# When each peer first heard of each block (connected or stored on a side branch), from its
# GET /events: the relay delay of a block is the time from its finder's peer to the other.
seen = [{}, {}]

def follow(i, peer):
    url = peer + "/events?types=block_connected,side_block"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=60) as stream:
                for raw in stream:
                    line = raw.decode().strip()
                    if line.startswith("data:"):
                        seen[i].setdefault(json.loads(line[5:])["hash"], time.monotonic())
        except Exception:
            time.sleep(0.2)

for i, peer in enumerate([peer1, peer2]):
    threading.Thread(target=follow, args=(i, peer), daemon=True).start()

start = warmup
while height() < start:
    time.sleep(0.2)
t0, before, loads = time.monotonic(), miners(), [load()]
rates = [[], []]
last_print = t0
while True:
    h = height()
    if h >= start + blocks:
        break
    for i, status in enumerate(miners()):
        if status["hash_rate"] > 0:
            rates[i].append(status["hash_rate"])
    loads.append(load())
    if time.monotonic() - last_print > 60:
        last_print = time.monotonic()
        print(f"   {label}: height {h} ({h - start}/{blocks} measured), "
              f"{time.monotonic() - t0:.0f}s", flush=True)
    time.sleep(1)
t1, after = time.monotonic(), miners()
end = start + blocks
# Both peers must agree on the window's blocks before counting them.
for _ in range(100):
    a = get(f"{peer1}/blocks/height/{end}")["hash"]
    try:
        b = get(f"{peer2}/blocks/height/{end}")["hash"]
    except Exception:
        b = None
    if a == b:
        break
    time.sleep(0.2)
payee = [before[0].get("address"), before[1].get("address")]
found = [0, 0]
relay = [[], []]
other = 0
h = start + 1
while h <= end:
    page = get(f"{peer1}/blocks?from={h}&count={min(500, end - h + 1)}")
    for view in page:
        address = view["transactions"][0]["outputs"][0]["address"]
        if address in payee:
            u = payee.index(address)
            found[u] += 1
            if view["hash"] in seen[u] and view["hash"] in seen[1 - u]:
                relay[u].append(seen[1 - u][view["hash"]] - seen[u][view["hash"]])
        else:
            other += 1
    h += len(page)
n = found[0] + found[1]
interval = (t1 - t0) / blocks
mean_rate = [sum(r) / len(r) if r else 0.0 for r in rates]
total_rate = sum(mean_rate) or 1.0
share = [r / total_rate for r in mean_rate]

def binomial_p(k, n, p):
    """Exact two-sided binomial test: the probability of an outcome no likelier than k."""
    if p <= 0.0 or p >= 1.0:
        return 1.0 if k == round(n * p) else 0.0
    def logpmf(i):
        return (math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                + i * math.log(p) + (n - i) * math.log1p(-p))
    observed = logpmf(k)
    return min(1.0, sum(math.exp(logpmf(i)) for i in range(n + 1)
                        if logpmf(i) <= observed + 1e-7))

pvalue = binomial_p(found[0], n, share[0])
print(f"== {label}: blocks {start + 1}..{end} of the active chain, {t1 - t0:.0f}s, "
      f"mean interval {interval:.2f}s, load average {sum(loads) / len(loads):.2f} "
      f"(2 cores){'; ' + str(other) + ' paid elsewhere' if other else ''}")
print(f"   {'user':<5} {'hash rate':>11} {'hash share':>10} {'blocks':>6} {'block share':>11} "
      f"{'stale s/blk':>11} {'idle s/blk':>10} {'(stale+idle)/interval':>21}")
for i in range(2):
    stale = (after[i]["stale_seconds"] - before[i]["stale_seconds"]) / blocks
    idle = (after[i]["idle_seconds"] - before[i]["idle_seconds"]) / blocks
    print(f"   user{i + 1} {mean_rate[i] / 1e6:>9.2f}M/s {share[i]:>10.3f} {found[i]:>6} "
          f"{found[i] / max(n, 1):>11.3f} {stale:>11.4f} {idle:>10.4f} "
          f"{(stale + idle) / interval:>20.2%}")
for i in range(2):
    if relay[i]:
        r = sorted(relay[i])
        print(f"   user{i + 1}'s blocks reached user{2 - i}'s peer after {statistics.median(r) * 1000:.1f} ms "
              f"(median of {len(r)}; p95 {r[int(0.95 * (len(r) - 1))] * 1000:.1f} ms, "
              f"{statistics.median(r) / interval:.2%} of the interval)")
print(f"   binomial test (user1's {found[0]} of {n} against a hash share of {share[0]:.3f}): "
      f"p = {pvalue:.3g}  -> {'fair (p >= 0.01)' if pvalue >= 0.01 else 'UNFAIR (p < 0.01)'}")
PY
}

race_mycoind() {
  echo "== mycoind: two processes on demo, peered on loopback, $threads miner thread(s) each"
  # The binaries of scripts/docker-image.sh too: one build serves both modes.
  cargo build --release -q --locked --bin mycoind --bin mycoin-peer --bin mycoin-keys \
    --bin mycoin-wallet --bin mycoin-miner --bin mycoin-healthcheck
  local ports
  pids=()
  dir=$(mktemp -d /tmp/mycoin-race.XXXXXX)
  read -r -a ports < <(free_ports 8)
  # shellcheck disable=SC2317
  stop_mycoind() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; pids=(); }
  trap stop_mycoind RETURN EXIT
  for n in 1 2; do
    local o=$(((n - 1) * 4)) other=$(((2 - n) * 4))
    MYCOIN_PASSPHRASE="user$n race passphrase" target/release/mycoind --user "$n" --network demo \
      --data-dir "$dir/user$n" --peer-port "${ports[o]}" --keys-port "${ports[o + 1]}" \
      --wallet-port "${ports[o + 2]}" --miner-port "${ports[o + 3]}" --explorer-port 0 \
      --peer "http://127.0.0.1:${ports[other]}" --threads "$threads" --mine \
      >"$dir/user$n.log" 2>&1 &
    pids+=($!)
  done
  local url=http://127.0.0.1
  wait_up "$url:${ports[0]}" "$url:${ports[3]}" "$url:${ports[4]}" "$url:${ports[7]}"
  measure mycoind "$url:${ports[0]}" "$url:${ports[3]}" "$url:${ports[4]}" "$url:${ports[7]}"
}

race_compose() {
  echo "== compose: docker-compose.yml on demo, four containers a user, $threads miner thread(s) each"
  local compose_cmd
  if docker compose version >/dev/null 2>&1; then compose_cmd=(docker compose); else compose_cmd=(docker-compose); fi
  local ports
  project=mycoin-race-$$ image=mycoin-race:$$
  scripts/docker-image.sh "$image" >/dev/null
  read -r -a ports < <(free_ports 8)
  compose() { "${compose_cmd[@]}" -p "$project" -f docker-compose.yml "$@"; }
  # shellcheck disable=SC2317
  stop_compose() { compose down -v --remove-orphans >/dev/null 2>&1 || true; docker image rm "$image" >/dev/null 2>&1 || true; }
  trap stop_compose RETURN EXIT
  export MYCOIN_USER1_PEER_PORT=${ports[0]} MYCOIN_USER1_KEYS_PORT=${ports[1]}
  export MYCOIN_USER1_WALLET_PORT=${ports[2]} MYCOIN_USER1_MINER_PORT=${ports[3]}
  export MYCOIN_USER2_PEER_PORT=${ports[4]} MYCOIN_USER2_KEYS_PORT=${ports[5]}
  export MYCOIN_USER2_WALLET_PORT=${ports[6]} MYCOIN_USER2_MINER_PORT=${ports[7]}
  MYCOIN_USER1_API_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
  MYCOIN_USER2_API_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
  export MYCOIN_USER1_API_TOKEN MYCOIN_USER2_API_TOKEN
  export MYCOIN_USER1_PASSPHRASE="user1 race passphrase" MYCOIN_USER2_PASSPHRASE="user2 race passphrase"
  export MYCOIN_NETWORK=demo MYCOIN_MINE=true MYCOIN_MINER_THREADS=$threads
  export MYCOIN_IMAGE=$image MYCOIN_PUBLISH_ADDRESS=127.0.0.1
  unset RUST_LOG
  compose up -d >/dev/null 2>&1
  local url=http://127.0.0.1
  wait_up "$url:${ports[0]}" "$url:${ports[3]}" "$url:${ports[4]}" "$url:${ports[7]}"
  measure compose "$url:${ports[0]}" "$url:${ports[3]}" "$url:${ports[4]}" "$url:${ports[7]}"
}

echo "race: $blocks blocks after a warm-up of $warmup, commit $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in "${modes[@]}"; do
  case $mode in
    mycoind) race_mycoind ;;
    compose) race_compose ;;
    *) echo "race: unknown mode $mode (mycoind or compose)" >&2; exit 2 ;;
  esac
done
