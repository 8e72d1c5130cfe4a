//! Test fixtures: a chain in memory (or on a SQL store), deterministic keys, a virtual clock,
//! and helpers that build, solve and spend.
#![allow(dead_code)]

use std::collections::HashMap;

use mycoin_core::chain::{BlockAccepted, Chain};
use mycoin_core::store::ChainStore;
use mycoin_core::utxo::Coin;
use mycoin_core::validation::check_proof_of_work;
use mycoin_core::{
    Amount, Block, MemoryStore, Network, OutPoint, Params, Policy, PrivateKey, PubKeyHash,
    Signature, Transaction, TxError, TxIn, TxOut, TxRefused, Txid,
};

/// Demo's parameters with the genesis block at the proof-of-work limit, as demo's was before
/// issue 18: the retarget and every other demo rule, but first blocks that cost 2^16 hashes
/// rather than 2^26, for tests that mine their way through the retarget.
pub fn demo_from_the_limit() -> Params {
    let demo = Network::Demo.params();
    Params {
        genesis_bits: demo.pow_limit,
        ..demo
    }
}

/// Key number `i`, the same in every run.
pub fn key(i: u8) -> PrivateKey {
    let mut bytes = [0x11u8; 32];
    bytes[31] = i.wrapping_add(1);
    PrivateKey::from_bytes(&bytes).unwrap()
}

pub fn pkh(i: u8) -> PubKeyHash {
    key(i).public_key().pubkey_hash()
}

/// Searches nonces until the header meets its own target.
pub fn solve(block: &mut Block, params: &Params) {
    while check_proof_of_work(block, params).is_err() {
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
}

/// Searches nonces until the header does NOT meet its target.
pub fn unsolve(block: &mut Block, params: &Params) {
    while check_proof_of_work(block, params).is_ok() {
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
}

/// Recomputes the Merkle root and solves again, after the transactions were changed.
pub fn reseal(block: &mut Block, params: &Params) {
    block.header.merkle_root = block.compute_merkle_root().0;
    solve(block, params);
}

/// A transaction spending `coins` (all owned by key `owner`) to `outputs`, signed.
pub fn spend(coins: &[OutPoint], owner: u8, outputs: &[(u64, PubKeyHash)]) -> Transaction {
    let signer = key(owner);
    let mut tx = Transaction {
        version: 1,
        inputs: coins
            .iter()
            .map(|prevout| TxIn::Spend {
                prevout: *prevout,
                public_key: signer.public_key(),
                signature: Signature([0; 64]),
            })
            .collect(),
        outputs: outputs
            .iter()
            .map(|(units, pubkey_hash)| TxOut {
                amount: Amount::from_units(*units).unwrap(),
                pubkey_hash: *pubkey_hash,
            })
            .collect(),
    };
    tx.sign_with(|_| Some(signer.clone()));
    tx
}

/// A chain with a virtual clock, paying every coinbase to key 0.
pub struct Fixture<S = MemoryStore> {
    pub chain: Chain<S>,
    pub params: Params,
    /// The virtual clock: each mined block advances it by one target spacing.
    pub now: u32,
}

impl Fixture<MemoryStore> {
    pub async fn new(params: Params) -> Self {
        Fixture::with_store(params, MemoryStore::default()).await
    }

    /// A chain in memory run with `policy`.
    pub async fn with_policy(params: Params, policy: Policy) -> Self {
        let now = params.genesis_time + 60;
        let chain = Chain::open_with(params.clone(), policy, MemoryStore::default())
            .await
            .unwrap();
        Fixture { chain, params, now }
    }
}

impl<S: ChainStore> Fixture<S> {
    pub async fn with_store(params: Params, store: S) -> Self {
        let now = params.genesis_time + 60;
        // The catalogue builds transactions by hand, many paying no fee: consensus alone
        // decides here, unless a test sets a policy of its own.
        let chain = Chain::open_with(params.clone(), Policy::permissive(), store)
            .await
            .unwrap();
        Fixture { chain, params, now }
    }

    /// Submits `tx` to the mempool at the fixture's clock: the consensus verdict (the
    /// fixture's policy refuses nothing valid).
    pub fn submit(&mut self, tx: Transaction) -> Result<Txid, TxError> {
        match self.chain.submit_transaction(tx, u64::from(self.now)) {
            Ok(admitted) => Ok(admitted.txid),
            Err(TxRefused::Invalid(e)) => Err(e),
            Err(TxRefused::Policy(e)) => panic!("the permissive policy refused: {e}"),
        }
    }

    /// A solved block on the tip paying the subsidy plus `fee` to key 0, holding `txs`.
    pub fn block_with(&self, txs: Vec<Transaction>, fees: u64) -> Block {
        self.block_on(self.chain.tip().hash, txs, fees, pkh(0))
    }

    /// A solved block on `parent` holding `txs`.
    pub fn block_on(
        &self,
        parent: mycoin_core::BlockHash,
        txs: Vec<Transaction>,
        fees: u64,
        pay_to: PubKeyHash,
    ) -> Block {
        let context = self.chain.header_context(&parent).expect("known parent");
        let reward = self.params.block_subsidy(context.height).units() + fees;
        let mut transactions = vec![Transaction::coinbase(
            context.height,
            u64::from(self.now),
            vec![TxOut {
                amount: Amount::from_units(reward).unwrap(),
                pubkey_hash: pay_to,
            }],
        )];
        transactions.extend(txs);
        let mut block = Block {
            header: mycoin_core::Header {
                version: 1,
                prev_hash: parent,
                merkle_root: Default::default(),
                time: self.now.max(context.median_time_past + 1),
                bits: context.expected_bits,
                nonce: 0,
            },
            transactions,
        };
        reseal(&mut block, &self.params);
        block
    }

    /// Mines and connects a block holding `txs` on the tip; returns it.
    pub async fn mine(&mut self, txs: Vec<Transaction>) -> Block {
        self.now += self.params.target_spacing;
        let block = self.block_with(txs, 0);
        let outcome = self
            .chain
            .submit_block(block.clone(), self.now)
            .await
            .unwrap();
        assert!(
            matches!(outcome, BlockAccepted::NewTip { .. }),
            "{outcome:?}"
        );
        block
    }

    /// Mines `n` empty blocks.
    pub async fn mine_empty(&mut self, n: usize) {
        for _ in 0..n {
            self.mine(vec![]).await;
        }
    }

    /// Key 0's coinbase output of the block at `height`.
    pub async fn coinbase_at(&self, height: u32) -> OutPoint {
        let hash = self.chain.hash_at(height).unwrap();
        let block = self.chain.block(&hash).await.unwrap().unwrap();
        OutPoint::new(block.transactions[0].txid(), 0)
    }

    /// Everything a rejection must leave unchanged.
    pub fn state(&self) -> State {
        let mut mempool: Vec<Txid> = self.chain.mempool().by_fee_rate().map(|e| e.txid).collect();
        mempool.sort();
        State {
            tip: self.chain.tip().hash,
            utxos: self.chain.utxos().to_map(),
            mempool,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub tip: mycoin_core::BlockHash,
    pub utxos: HashMap<OutPoint, Coin>,
    pub mempool: Vec<Txid>,
}

/// The unspent outputs rebuilt from scratch along `blocks` (genesis first), independently of
/// the chain's own connect/disconnect code.
pub fn rebuild_utxos(blocks: &[Block]) -> HashMap<OutPoint, Coin> {
    let mut utxos = HashMap::new();
    for (height, block) in blocks.iter().enumerate().skip(1) {
        for tx in &block.transactions {
            for input in &tx.inputs {
                if let TxIn::Spend { prevout, .. } = input {
                    assert!(utxos.remove(prevout).is_some(), "spent a missing output");
                }
            }
            let txid = tx.txid();
            for (i, output) in tx.outputs.iter().enumerate() {
                utxos.insert(
                    OutPoint::new(txid, i as u32),
                    Coin {
                        output: *output,
                        height: height as u32,
                        is_coinbase: tx.is_coinbase(),
                    },
                );
            }
        }
    }
    utxos
}

/// The active chain's blocks, genesis first.
pub async fn active_blocks<S: ChainStore>(chain: &Chain<S>) -> Vec<Block> {
    let mut blocks = Vec::new();
    for height in 0..=chain.height() {
        let hash = chain.hash_at(height).unwrap();
        blocks.push(chain.block(&hash).await.unwrap().unwrap());
    }
    blocks
}

/// A fresh, empty PostgreSQL database on the throwaway server named by
/// `MYCOIN_TEST_DATABASE_URL` (started by the README's test command), or `None` when unset.
pub async fn fresh_postgres_url() -> Option<String> {
    use sqlx::Executor;
    let admin = std::env::var("MYCOIN_TEST_DATABASE_URL").ok()?;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&admin)
        .await
        .expect("connect to the test PostgreSQL");
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).unwrap();
    let name = format!("mycoin_test_{}", hex::encode(suffix));
    // The name is ours (hex digits), so building the statement from it is safe.
    let create = sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"));
    pool.execute(create).await.unwrap();
    pool.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(format!("{base}/{name}"))
}

/// A SQLite URL in a new temporary directory (kept alive by the returned guard).
pub fn fresh_sqlite_url() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/chain.sqlite", dir.path().display());
    (dir, url)
}

/// The blocks from genesis to `tip` among `blocks`, genesis first.
pub fn branch_to(
    blocks: &HashMap<mycoin_core::BlockHash, Block>,
    tip: mycoin_core::BlockHash,
) -> Vec<Block> {
    let mut out = vec![];
    let mut cursor = tip;
    while let Some(block) = blocks.get(&cursor) {
        out.push(block.clone());
        if block.header.prev_hash == mycoin_core::BlockHash::ZERO {
            break;
        }
        cursor = block.header.prev_hash;
    }
    out.reverse();
    out
}
