#!/usr/bin/env bash
# The attack benchmark of issue 12: each attack of the issue replayed against a fresh, real
# `mycoind`, one table row each — requests sent, refused (4xx), accepted, resident memory
# before → after, /healthz p99 during the attack against the same node idle, the target and
# whether it was met (docs/BENCHMARKS.md, "Attacks"). A benchmark, never a test: it exits 0
# whatever the verdicts.
#
#   scripts/attack.sh                      # every attack at the default sizes (≤ 10 min on 2 cores once built)
#   ATTACK_ONLY=1,2,3 scripts/attack.sh    # some attacks (1..8; 3 is 3a and 3b)
#   ATTACK_NO_TOKEN=50 ATTACK_HOST=50 ATTACK_BAD_FEE=100 ATTACK_FLOOD_TXS=400 \
#   ATTACK_MEMPOOL_MAX_BYTES=300000 ATTACK_JUNK_PEERS=100 ATTACK_JUNK_ORPHANS=50 \
#   ATTACK_ORPHANS=40 ATTACK_ORPHAN_MAX_BYTES=4000000 ATTACK_BAD_POW=2000 \
#   ATTACK_LAG_SECONDS=20 ATTACK_LAG_WARMUP=5 scripts/attack.sh   # a quick check (~2 min)
#
# Settings (environment, defaults in brackets): ATTACK_ONLY [all], ATTACK_NO_TOKEN [300 per
# endpoint], ATTACK_HOST [200 per request kind], ATTACK_BAD_FEE [500 per kind], ATTACK_FLOOD_TXS
# [2000], ATTACK_MEMPOOL_MAX_BYTES [2097152], ATTACK_JUNK_PEERS [500], ATTACK_JUNK_ORPHANS [200],
# ATTACK_ORPHANS [300], ATTACK_ORPHAN_MAX_BYTES [16777216], ATTACK_BAD_POW [60000],
# ATTACK_LAG_SECONDS [60 per phase], ATTACK_LAG_WARMUP [15], ATTACK_LIAR [stall,garbage],
# ATTACK_CONNECTIONS [8], ATTACK_MAX_SECONDS [180, a bound on each attack's requests],
# ATTACK_IDLE_REQUESTS [200], BENCH_LOG [warn] (the nodes' RUST_LOG), ATTACK_KEEP=1 (keep the
# run's directory and the nodes' logs).
#
# Everything runs on loopback, as real processes: the release `mycoind`, driven by
# services/peer/examples/attack_bench.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

echo "== building (release) ==" >&2
cargo build --release -p mycoind --bin mycoind >&2
cargo build --release -p mycoin-peer --example attack_bench >&2

echo "== machine load before: $(cut -d' ' -f1-3 /proc/loadavg) ==" >&2
"$TARGET_DIR/release/examples/attack_bench"
echo "== machine load after: $(cut -d' ' -f1-3 /proc/loadavg) ==" >&2
