//! The address history index (issue 13), two ratios measured in one run:
//!
//! - **query**: the whole history of an address with about 1,000 transactions (pages of 100,
//!   as `GET /addresses/{a}/transactions` reads them, and its totals) in a chain of 10,000
//!   blocks ÷ the same for an address with 1,000 transactions in a chain of 100 blocks. Answers
//!   come from the index, so the ratio stays near 1 (target ≤ 2); a scan would grow 100×.
//! - **sync**: `Chain::submit_blocks` of the 10,000 blocks (10 signed payments each) in
//!   batches of 500, as a syncing peer connects them, into a fresh SQLite store that keeps the
//!   index ÷ the same into one that does not (`ChainStore::keeps_history` false: the rows are
//!   neither computed nor written). Target ≥ 0.9. Runs alternate, three of each; medians.
//!   Wall time and the process's CPU time are both reported: on a shared machine the wall
//!   time of either side grows with whatever else runs, while the CPU time does not.
//!
//! ```sh
//! cargo bench -p mycoin-core --bench history            # HISTORY_BENCH_BLOCKS=2000 for a quick run
//! ```

use std::time::Instant;

use mycoin_core::history::{AddressStats, AddressTx};
use mycoin_core::store::{BlockEntry, ChainStore, ChainUpdate, StoreError};
use mycoin_core::utxo::BlockUndo;
use mycoin_core::validation::check_proof_of_work;
use mycoin_core::{
    Amount, Block, BlockHash, Chain, Database, Network, OutPoint, Policy, PrivateKey, PubKeyHash,
    Signature, SqlStore, Transaction, TxIn, TxOut, Txid,
};

/// Payments per block.
const PAYMENTS: usize = 10;
const FEE: u64 = 1_000;

fn key(i: usize) -> PrivateKey {
    let mut bytes = [0x3cu8; 32];
    bytes[30] = (i >> 8) as u8;
    bytes[31] = i as u8 + 1;
    PrivateKey::from_bytes(&bytes).unwrap()
}

/// A SQL store that keeps no address history: the baseline of the sync ratio.
struct NoHistory(SqlStore);

impl ChainStore for NoHistory {
    async fn load(&self) -> Result<mycoin_core::store::Snapshot, StoreError> {
        self.0.load().await
    }
    async fn put_block(&self, entry: &BlockEntry, block: &Block) -> Result<(), StoreError> {
        self.0.put_block(entry, block).await
    }
    async fn block(&self, hash: &BlockHash) -> Result<Option<Block>, StoreError> {
        self.0.block(hash).await
    }
    async fn blocks(&self, hashes: &[BlockHash]) -> Result<Vec<Option<Block>>, StoreError> {
        self.0.blocks(hashes).await
    }
    async fn undo(&self, hash: &BlockHash) -> Result<Option<BlockUndo>, StoreError> {
        self.0.undo(hash).await
    }
    async fn commit(
        &self,
        blocks: &[(BlockEntry, Block)],
        update: &ChainUpdate,
    ) -> Result<(), StoreError> {
        self.0.commit(blocks, update).await
    }
    async fn mark_invalid(&self, hash: &BlockHash) -> Result<(), StoreError> {
        self.0.mark_invalid(hash).await
    }
    async fn find_transaction(&self, txid: &Txid) -> Result<Vec<(BlockHash, u32)>, StoreError> {
        self.0.find_transaction(txid).await
    }
    async fn address_history(
        &self,
        pubkey_hash: &PubKeyHash,
        before: Option<(u32, u32)>,
        limit: usize,
    ) -> Result<Vec<AddressTx>, StoreError> {
        self.0.address_history(pubkey_hash, before, limit).await
    }
    async fn spending_history(
        &self,
        pubkey_hash: &PubKeyHash,
        after: (u32, u32),
        limit: usize,
    ) -> Result<Vec<AddressTx>, StoreError> {
        self.0.spending_history(pubkey_hash, after, limit).await
    }
    async fn address_stats(&self, pubkey_hash: &PubKeyHash) -> Result<AddressStats, StoreError> {
        self.0.address_stats(pubkey_hash).await
    }
    async fn used_addresses(
        &self,
        pubkey_hashes: &[PubKeyHash],
    ) -> Result<std::collections::HashSet<PubKeyHash>, StoreError> {
        self.0.used_addresses(pubkey_hashes).await
    }
    async fn history_height(&self) -> Result<Option<u32>, StoreError> {
        self.0.history_height().await
    }
    fn keeps_history(&self) -> bool {
        false
    }
    async fn index_history(&self, rows: &[AddressTx], height: u32) -> Result<(), StoreError> {
        self.0.index_history(rows, height).await
    }
}

async fn sql_store(dir: &tempfile::TempDir, name: &str) -> SqlStore {
    let url = format!("sqlite://{}/{name}.sqlite", dir.path().display());
    SqlStore::open(Database::connect(&url).await.unwrap())
        .await
        .unwrap()
}

fn solve(block: &mut Block) {
    let params = Network::Regtest.params();
    block.header.merkle_root = block.compute_merkle_root().0;
    while check_proof_of_work(block, &params).is_err() {
        block.header.nonce += 1;
    }
}

/// A regtest chain of `n` blocks: 11 coinbase-only ones, then blocks of [`PAYMENTS`] signed
/// payments, each spending the output of a payment of the block before. Payment `j` of block
/// `h` pays key `owner(h, j)`.
async fn build_chain(n: usize, owner: impl Fn(usize, usize) -> usize) -> Vec<Block> {
    let params = Network::Regtest.params();
    let mut chain = Chain::open_with(
        params.clone(),
        Policy::permissive(),
        mycoin_core::MemoryStore::default(),
    )
    .await
    .unwrap();
    let mut blocks = Vec::with_capacity(n);
    // (output, amount, owner) of the payments of the block before.
    let mut outputs: Vec<(OutPoint, u64, usize)> = Vec::new();
    for height in 1..=n {
        let now = params.genesis_time + height as u32;
        let mut block = chain.block_template(key(0).public_key().pubkey_hash(), now, 0);
        let mut payments = Vec::new();
        if height == 11 {
            // Split block 1's coinbase into the first outputs.
            let coinbase = blocks
                .first()
                .map(|b: &Block| b.transactions[0].clone())
                .unwrap();
            let each = (coinbase.outputs[0].amount.units() - FEE) / PAYMENTS as u64;
            payments.push(pay(
                &[(OutPoint::new(coinbase.txid(), 0), 0)],
                (0..PAYMENTS).map(|j| (each, owner(height, j))).collect(),
            ));
        } else if height > 11 {
            for (j, (outpoint, amount, from)) in outputs.iter().enumerate() {
                payments.push(pay(
                    &[(*outpoint, *from)],
                    vec![(amount - FEE, owner(height, j))],
                ));
            }
        }
        if !payments.is_empty() {
            outputs = payments
                .iter()
                .flat_map(|tx| {
                    let txid = tx.txid();
                    tx.outputs.iter().enumerate().map(move |(vout, o)| {
                        (OutPoint::new(txid, vout as u32), o.amount.units(), 0)
                    })
                })
                .collect();
            for (j, output) in outputs.iter_mut().enumerate() {
                output.2 = owner(height, j);
            }
            let fees = FEE * payments.len() as u64;
            let reward = block.transactions[0].outputs[0].amount.units() + fees;
            block.transactions[0].outputs[0].amount = Amount::from_units(reward).unwrap();
            block.transactions.extend(payments);
        }
        solve(&mut block);
        chain.submit_block(block.clone(), now).await.unwrap();
        blocks.push(block);
    }
    blocks
}

/// A payment of `inputs` (each with its owner's key number) to `outputs` (amount, key number).
fn pay(inputs: &[(OutPoint, usize)], outputs: Vec<(u64, usize)>) -> Transaction {
    let mut tx = Transaction {
        version: 1,
        inputs: inputs
            .iter()
            .map(|(prevout, owner)| TxIn::Spend {
                prevout: *prevout,
                public_key: key(*owner).public_key(),
                signature: Signature([0; 64]),
            })
            .collect(),
        outputs: outputs
            .into_iter()
            .map(|(amount, owner)| TxOut {
                amount: Amount::from_units(amount).unwrap(),
                pubkey_hash: key(owner).public_key().pubkey_hash(),
            })
            .collect(),
    };
    let keys: Vec<PrivateKey> = inputs.iter().map(|(_, owner)| key(*owner)).collect();
    tx.sign_with(|pk| keys.iter().find(|k| k.public_key() == *pk).cloned());
    tx
}

/// Seconds of CPU this process has used, all threads, user and system (`/proc/self/stat`, in
/// clock ticks of 10 ms): unlike wall time, it does not grow when other work shares the machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Connects `blocks` (genesis excluded) into a fresh chain on `store`, in batches of 500.
/// Returns the chain, and the wall and CPU seconds it took.
async fn connect_all<S: ChainStore>(store: S, blocks: &[Block]) -> (Chain<S>, f64, f64) {
    let params = Network::Regtest.params();
    let mut chain = Chain::open_with(params.clone(), Policy::permissive(), store)
        .await
        .unwrap();
    let now = params.genesis_time + blocks.len() as u32 + 1;
    let started = Instant::now();
    let cpu = cpu_seconds();
    for batch in blocks.chunks(500) {
        let (accepted, error) = chain.submit_blocks(batch.to_vec(), now).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(accepted.len(), batch.len());
    }
    let cpu = cpu_seconds() - cpu;
    (chain, started.elapsed().as_secs_f64(), cpu)
}

/// Seconds to read the whole history of `who` (pages of 100) and its totals, median of `runs`.
async fn read_history<S: ChainStore>(
    chain: &Chain<S>,
    who: &PubKeyHash,
    runs: usize,
) -> (f64, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut count = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let mut before = None;
        count = 0;
        loop {
            let page = chain
                .store()
                .address_history(who, before, 100)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            before = Some((last.height, last.position));
            count += page.len();
        }
        chain.store().address_stats(who).await.unwrap();
        times.push(started.elapsed().as_secs_f64());
    }
    (median(times), count)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let n: usize = std::env::var("HISTORY_BENCH_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        // Long chain: 10 payments a block among n / 50 keys, so that each key is in about
        // 1,000 transactions (it receives in one, spends in the next).
        let keys = (n * PAYMENTS * 2 / 1000).max(2);
        eprintln!("building a chain of {n} blocks ({keys} keys) ...");
        let long = build_chain(n, |h, j| (h * PAYMENTS + j) % keys).await;
        // Short chain: every payment of 100 blocks between key 0 and itself.
        eprintln!("building a chain of 100 blocks, all to key 0 ...");
        let short = build_chain(100, |_, _| 0).await;

        let (mut with, mut with_cpu) = (Vec::new(), Vec::new());
        let (mut without, mut without_cpu) = (Vec::new(), Vec::new());
        let mut indexed = None;
        for run in 0..3 {
            eprintln!("sync run {run}: with the index, then without ...");
            let (chain, seconds, cpu) =
                connect_all(sql_store(&dir, &format!("with{run}")).await, &long).await;
            with.push(seconds);
            with_cpu.push(cpu);
            indexed = Some(chain);
            let (_, seconds, cpu) = connect_all(
                NoHistory(sql_store(&dir, &format!("without{run}")).await),
                &long,
            )
            .await;
            without.push(seconds);
            without_cpu.push(cpu);
        }
        let long_chain = indexed.unwrap();
        let (short_chain, _, _) = connect_all(sql_store(&dir, "short").await, &short).await;

        let who_long = key(1).public_key().pubkey_hash();
        let who_short = key(0).public_key().pubkey_hash();
        let (long_s, long_txs) = read_history(&long_chain, &who_long, 51).await;
        let (short_s, short_txs) = read_history(&short_chain, &who_short, 51).await;

        let (with, without) = (median(with), median(without));
        let (with_cpu, without_cpu) = (median(with_cpu), median(without_cpu));
        println!(
            "blocks={n} sync_with_index_s={with:.2} sync_without_index_s={without:.2} \
             sync_ratio={:.3} sync_with_index_cpu_s={with_cpu:.2} \
             sync_without_index_cpu_s={without_cpu:.2} sync_cpu_ratio={:.3} history_txs_long={long_txs} history_long_ms={:.3} \
             history_txs_short={short_txs} history_short_ms={:.3} history_ratio={:.3}",
            without / with,
            without_cpu / with_cpu,
            long_s * 1e3,
            short_s * 1e3,
            long_s / short_s,
        );
    });
}
