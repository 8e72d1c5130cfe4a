//! Connecting a block of N one-input transactions (issue 6): the signature checks with a cold
//! cache verified on one core and across the cores, and with a warm cache (every transaction
//! accepted into the mempool first, as a node that heard them before the block).
//!
//! Run with `cargo bench -p mycoin-core --bench connect`. Each size is measured in one run, so
//! the ratios between its lines hold on a loaded machine too; criterion writes the estimates
//! under `target/criterion/connect/`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mycoin_core::sigcache::SigCache;
use mycoin_core::utxo::UtxoOverlay;
use mycoin_core::validation::{SignatureChecks, check_proof_of_work, connect_block};
use mycoin_core::{
    Amount, Block, Chain, MemoryStore, Network, OutPoint, Policy, PrivateKey, Signature,
    Transaction, TxIn, TxOut,
};

const SIZES: [usize; 4] = [4, 16, 100, 1000];
/// Distinct signing keys, cycled through.
const KEYS: u8 = 16;
const FEE: u64 = 1_000;

fn key(i: u8) -> PrivateKey {
    let mut bytes = [0x5au8; 32];
    bytes[31] = i + 1;
    PrivateKey::from_bytes(&bytes).unwrap()
}

fn spend(prevouts: &[OutPoint], owner: &PrivateKey, outputs: Vec<TxOut>) -> Transaction {
    let mut tx = Transaction {
        version: 1,
        inputs: prevouts
            .iter()
            .map(|prevout| TxIn::Spend {
                prevout: *prevout,
                public_key: owner.public_key(),
                signature: Signature([0; 64]),
            })
            .collect(),
        outputs,
    };
    tx.sign_with(|_| Some(owner.clone()));
    tx
}

/// A regtest chain whose mempool holds `n` one-input transactions, and the block template that
/// confirms them all.
async fn chain_with_pending(n: usize) -> (Chain<MemoryStore>, Block) {
    let params = Network::Regtest.params();
    let mut now = params.genesis_time;
    // Relay policy is not what this measures: the fan-out pays a token fee.
    let mut chain = Chain::open_with(params.clone(), Policy::permissive(), MemoryStore::default())
        .await
        .unwrap();
    let miner = key(0);
    let mut mine = async |chain: &mut Chain<MemoryStore>| {
        now += params.target_spacing;
        let mut block = chain.block_template(miner.public_key().pubkey_hash(), now, 0);
        while check_proof_of_work(&block, &params).is_err() {
            block.header.nonce += 1;
        }
        chain.submit_block(block.clone(), now).await.unwrap();
        block
    };
    let funding = mine(&mut chain).await;
    for _ in 0..params.coinbase_maturity {
        mine(&mut chain).await;
    }
    // Split the first coinbase into one output per transaction to come.
    let reward = funding.transactions[0].outputs[0].amount.units();
    let each = (reward - FEE) / n as u64;
    let fan_out = spend(
        &[OutPoint::new(funding.transactions[0].txid(), 0)],
        &miner,
        (0..n)
            .map(|i| TxOut {
                amount: Amount::from_units(each).unwrap(),
                pubkey_hash: key(i as u8 % KEYS).public_key().pubkey_hash(),
            })
            .collect(),
    );
    let fan_out_txid = chain
        .submit_transaction(fan_out, u64::from(params.genesis_time))
        .unwrap()
        .txid;
    mine(&mut chain).await;
    for i in 0..n {
        let tx = spend(
            &[OutPoint::new(fan_out_txid, i as u32)],
            &key(i as u8 % KEYS),
            vec![TxOut {
                amount: Amount::from_units(each - FEE).unwrap(),
                pubkey_hash: miner.public_key().pubkey_hash(),
            }],
        );
        chain
            .submit_transaction(tx, u64::from(params.genesis_time))
            .unwrap();
    }
    now += params.target_spacing;
    let block = chain.block_template(miner.public_key().pubkey_hash(), now, 0);
    assert_eq!(
        block.transactions.len(),
        n + 1,
        "the template holds them all"
    );
    (chain, block)
}

fn connect(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cold = SigCache::new(0);
    let mut group = c.benchmark_group("connect");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let (chain, block) = runtime.block_on(chain_with_pending(n));
        let height = chain.height() + 1;
        let params = chain.params().clone();
        let run = |signatures: SignatureChecks<'_>| {
            let mut view = UtxoOverlay::new(chain.utxos());
            connect_block(black_box(&block), height, &mut view, &params, signatures).unwrap()
        };
        let variants = [
            (
                "cold_sequential",
                SignatureChecks {
                    cache: &cold,
                    parallel_from: usize::MAX,
                },
            ),
            (
                "cold_parallel",
                SignatureChecks {
                    cache: &cold,
                    parallel_from: 0,
                },
            ),
            ("cold_default", SignatureChecks::new(&cold)),
            ("warm", SignatureChecks::new(chain.sigcache())),
        ];
        let misses = chain.sigcache().stats().misses;
        group.throughput(Throughput::Elements(n as u64));
        for (name, signatures) in variants {
            group.bench_function(BenchmarkId::new(name, n), |b| b.iter(|| run(signatures)));
        }
        assert_eq!(
            chain.sigcache().stats().misses,
            misses,
            "the warm cache held every signature"
        );
    }
    group.finish();
}

criterion_group!(benches, connect);
criterion_main!(benches);
