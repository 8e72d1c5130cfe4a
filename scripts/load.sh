#!/usr/bin/env bash
# The load benchmark of issue 11: a node under readers, a syncing neighbour, a flood of bad and
# good input and a miner at once, each figure a ratio against the same measure on the idle node
# of the same run, printed as one table (docs/BENCHMARKS.md, "Load" explains each line).
# A benchmark, never a test: it reports the targets met or missed and exits 0 either way.
#
#   scripts/load.sh                            # the issue's load: 10,000 blocks, 5,000 wallet keys
#   LOAD_BLOCKS=1000 LOAD_WALLET_KEYS=500 LOAD_JUNK=2000 LOAD_VALID=500 LOAD_BAD_POW=200 \
#       scripts/load.sh                        # a quick check (a few minutes once built)
#
# Settings (environment, defaults in brackets): LOAD_BLOCKS [10000] full blocks of the chain
# (after 10 coinbase-only ones), LOAD_JUNK [20000], LOAD_VALID [5000], LOAD_BAD_POW [2000],
# LOAD_READERS [32] open-loop readers, LOAD_READER_RATE [5] requests a second per reader (Poisson),
# LOAD_WALLET_RATE [0.2] the same for a GET /wallet reader, LOAD_IDLE_SECONDS [60] (the idle
# phase: the same readers on the source alone), LOAD_WALLET_KEYS [5000], LOAD_MAX_SECONDS [900]
# (a bound on the sync and on the load phase each), LOAD_INDEX_ROUNDS [10], LOAD_INDEX_UTXOS [20]
# and LOAD_INDEX_WALLET [2] (look-ups per round and peer of the index benchmark),
# LOAD_MIN_SECONDS [30] (a shorter load is stretched), INDEX_SMALL_BLOCKS [100], LOAD_FLOODERS [8],
# BENCH_LOG [warn] (the services' RUST_LOG), LOAD_BENCH_KEEP=1 (keep the run's directory and the
# services' logs).
#
# Everything runs on loopback, as real processes: the release mycoin-peer, mycoin-keys,
# mycoin-wallet and mycoin-miner binaries, driven by services/peer/examples/load_bench.rs.
# The chains are generated once and cached in target/sync-bench/ (shared with scripts/bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

echo "== building (release) ==" >&2
# One cargo invocation for the binaries and the driver: built apart, the binaries would be
# built twice (the driver's dev-dependencies change the features of crates they share).
cargo build --release -p mycoin-peer -p mycoin-keys -p mycoin-wallet -p mycoin-miner \
    --bin mycoin-peer --bin mycoin-keys --bin mycoin-wallet --bin mycoin-miner \
    --example load_bench >&2

echo "== machine load before: $(cut -d' ' -f1-3 /proc/loadavg) ==" >&2
"$TARGET_DIR/release/examples/load_bench"
echo "== machine load after: $(cut -d' ' -f1-3 /proc/loadavg) ==" >&2
