//! Transactions accepted per second over REST (benchmark (e) of docs/BENCHMARKS.md).
//!
//! Spawns the peer service in this process on a temporary SQLite file (regtest), mines a few
//! coinbases to one key, fans each out into 2,500 outputs (one transaction per coinbase, under
//! the 100 kB transaction limit) and mines those, then signs N transactions of one input and
//! two outputs and posts them to `POST /transactions` from `CONCURRENCY` concurrent clients.
//! Only the posting is timed; every transaction must be accepted.
//!
//! ```sh
//! cargo run --release -p mycoin-miner --example rest_tx -- [N, default 10000]
//! ```
//!
//! Prints one line: `rest_tx=<N> rest_seconds=<s> rest_rate=<tx/s>`. The client shares the
//! machine's cores with the service, as a wallet on the same host would.

use mycoin_api::paths;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mycoin_api::peer::{
    BlockTemplate, MempoolView, SubmitBlockResponse, SubmitTransactionResponse, decode_hex,
    encode_hex,
};
use mycoin_core::validation::check_proof_of_work;
use mycoin_core::{
    Address, Amount, Block, Network, OutPoint, PrivateKey, PubKeyHash, Signature, Transaction,
    TxIn, TxOut,
};
use serde_json::json;

const NETWORK: Network = Network::Regtest;
/// Outputs of one fan-out transaction: 2,500 × 28 bytes stays under `max_tx_size`.
const FAN_OUT: usize = 2_500;
/// Requests in flight at once.
const CONCURRENCY: usize = 64;

struct Peer {
    base: String,
    http: reqwest::Client,
}

impl Peer {
    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    async fn post<T: serde::de::DeserializeOwned>(&self, path: &str, hex: String) -> T {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&json!({ "hex": hex }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Mines the template on the tip paying `address`; returns the block.
    async fn mine(&self, address: &Address) -> Block {
        let template: BlockTemplate = self
            .get(&format!("{}?address={address}", paths::peer::TEMPLATE))
            .await;
        let mut block: Block = decode_hex(&template.hex).unwrap();
        let params = NETWORK.params();
        while check_proof_of_work(&block, &params).is_err() {
            block.header.nonce = block.header.nonce.wrapping_add(1);
        }
        let _: SubmitBlockResponse = self.post(paths::peer::BLOCKS, encode_hex(&block)).await;
        block
    }
}

fn key(i: u8) -> PrivateKey {
    let mut bytes = [0x33u8; 32];
    bytes[31] = i;
    PrivateKey::from_bytes(&bytes).unwrap()
}

/// `signer` spends `coins` to `outputs` (units, payee), signed.
fn spend(coins: &[OutPoint], signer: &PrivateKey, outputs: &[(u64, PubKeyHash)]) -> Transaction {
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
    let signer = signer.clone();
    tx.sign_with(|pk| (*pk == signer.public_key()).then(|| signer.clone()));
    tx
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("N is a number of transactions"))
        .unwrap_or(10_000);

    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("peer.sqlite").display()
    );
    let app = mycoin_peer::build(mycoin_peer::Settings::new(NETWORK, "127.0.0.1", 0, url))
        .await
        .expect("the peer service starts");
    let peer = Peer {
        base: format!("http://127.0.0.1:{}", app.port()),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    tokio::spawn(app.run_until_stopped());

    // Coinbases to key 1, one more block so they mature (regtest maturity 1).
    let owner = key(1);
    let owner_address = Address::new(NETWORK, owner.public_key().pubkey_hash());
    let fan_outs = count.div_ceil(FAN_OUT);
    let mut coinbases = Vec::new();
    for _ in 0..fan_outs {
        let block = peer.mine(&owner_address).await;
        coinbases.push((
            OutPoint::new(block.transactions[0].txid(), 0),
            block.transactions[0].outputs[0].amount.units(),
        ));
    }
    let miner_address = Address::new(NETWORK, key(9).public_key().pubkey_hash());
    peer.mine(&miner_address).await;

    // Fan each coinbase out into FAN_OUT coins of key 1, and mine them.
    let mut coins = Vec::new();
    for (coinbase, units) in &coinbases {
        let each = (units - 1_000) / FAN_OUT as u64;
        let outputs = vec![(each, owner.public_key().pubkey_hash()); FAN_OUT];
        let tx = spend(&[*coinbase], &owner, &outputs);
        let _: SubmitTransactionResponse =
            peer.post(paths::peer::TRANSACTIONS, encode_hex(&tx)).await;
        let txid = tx.txid();
        coins.extend((0..FAN_OUT as u32).map(|vout| (OutPoint::new(txid, vout), each)));
    }
    peer.mine(&miner_address).await;
    let mempool: MempoolView = peer.get(paths::peer::MEMPOOL).await;
    assert_eq!(mempool.count, 0, "the fan-out transactions are mined");

    // N signed transactions of one input and two outputs, as JSON bodies ready to post.
    let (payee, change) = (
        key(2).public_key().pubkey_hash(),
        key(3).public_key().pubkey_hash(),
    );
    let bodies: Arc<Vec<String>> = Arc::new(
        coins[..count]
            .iter()
            .map(|(coin, units)| {
                let pay = units / 2;
                let tx = spend(
                    &[*coin],
                    &owner,
                    &[(pay, payee), (units - pay - 100, change)],
                );
                json!({ "hex": encode_hex(&tx) }).to_string()
            })
            .collect(),
    );

    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{}{}", peer.base, paths::peer::TRANSACTIONS);
    let start = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (bodies, next, http, url) =
                (bodies.clone(), next.clone(), peer.http.clone(), url.clone());
            tokio::spawn(async move {
                let mut accepted = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let response = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    let text = response.text().await.unwrap();
                    assert!(status.is_success(), "transaction {i}: {status} {text}");
                    accepted += 1;
                }
                accepted
            })
        })
        .collect();
    let mut accepted = 0;
    for worker in workers {
        accepted += worker.await.unwrap();
    }
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(accepted, count);
    let mempool: MempoolView = peer.get(paths::peer::MEMPOOL).await;
    assert_eq!(mempool.count, count, "every transaction is in the mempool");
    println!(
        "rest_tx={count} rest_seconds={seconds:.3} rest_rate={:.1}",
        count as f64 / seconds
    );
}
