//! The peer service seen from a real HTTP client: each test starts its own service on a free
//! port with its own SQLite file (or PostgreSQL database), and calls it with reqwest.

use mycoin_api::paths;
use std::sync::atomic::{AtomicU64, Ordering};

use mycoin_api::peer::{
    AddressInfo, AddressTxView, Balance, BlockStatus, BlockTemplate, BlockView, ChainInfo,
    ChainTipStatus, ChainTipView, MempoolView, MerkleProofView, OutspendView, PeerSource, PeerView,
    SubmitBlockResponse, SubmitTransactionResponse, TransactionInfo, TxInputView, TxState,
    TxStatus, UtxoView, VerifyResponse, decode_hex, encode_hex,
};
use mycoin_core::validation::check_proof_of_work;
use mycoin_core::{
    Address, Amount, Block, BlockHash, COIN, Header, HeaderChain, Network, OutPoint, PrivateKey,
    PubKeyHash, Signature, Transaction, TxIn, TxOut, Txid, verify_merkle_proof,
};
use mycoin_peer::{ApiDoc, Application, Settings};
use mycoin_web::metrics::{Sample, UNMATCHED_ROUTE, parse_text, sample_value};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use utoipa::OpenApi;

const NETWORK: Network = Network::Regtest;

// ---------------------------------------------------------------------------------------------
// Fixtures

struct TestApp {
    base: String,
    http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

/// The API token of the peers under test: `POST /peers` demands it.
const TOKEN: &str = "peer-test-token-0123456789abcdef";

async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/peer.sqlite", dir.path().display());
    spawn_app_on(url, Some(dir)).await
}

async fn spawn_app_on(database_url: String, dir: Option<tempfile::TempDir>) -> TestApp {
    let mut settings = Settings::new(NETWORK, "127.0.0.1", 0, database_url);
    settings.server = settings
        .server
        .with_api_token(mycoin_web::ApiToken::new(TOKEN).unwrap());
    let app = Application::build(settings)
        .await
        .expect("the service starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        _dir: dir,
    }
}

/// A fresh database on the throwaway PostgreSQL server of `MYCOIN_TEST_DATABASE_URL`.
async fn fresh_postgres_url() -> Option<String> {
    use sqlx::Executor;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let admin = std::env::var("MYCOIN_TEST_DATABASE_URL").ok()?;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&admin)
        .await
        .expect("connect to the test PostgreSQL");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!(
        "mycoin_peer_test_{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    // sqlx wants a 'static statement; a test may leak a few bytes.
    let statement: &'static str = format!("CREATE DATABASE {name}").leak();
    pool.execute(statement).await.unwrap();
    pool.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(format!("{base}/{name}"))
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// A POST with the stack's API token (the peer-to-peer endpoints ignore it).
    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn post_raw(&self, path: &str, content_type: &str, body: String) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn get_ok<T: DeserializeOwned>(&self, path: &str) -> T {
        ok(self.get(path).await).await
    }

    async fn post_ok<T: DeserializeOwned>(&self, path: &str, body: &Value) -> T {
        ok(self.post(path, body).await).await
    }

    async fn chain(&self) -> ChainInfo {
        self.get_ok(paths::peer::CHAIN).await
    }

    async fn template(&self, address: &Address) -> BlockTemplate {
        self.get_ok(&format!("{}?address={address}", paths::peer::TEMPLATE))
            .await
    }

    /// A solved block on the tip paying `address`, not submitted.
    async fn solved_block(&self, address: &Address) -> Block {
        let template = self.template(address).await;
        let mut block: Block = decode_hex(&template.hex).unwrap();
        solve(&mut block);
        block
    }

    async fn submit_block(&self, block: &Block) -> reqwest::Response {
        self.post(paths::peer::BLOCKS, &json!({ "hex": encode_hex(block) }))
            .await
    }

    /// Mines one block on the tip paying `address`, as the miner service would.
    async fn mine(&self, address: &Address) -> SubmitBlockResponse {
        let block = self.solved_block(address).await;
        let accepted: SubmitBlockResponse = ok(self.submit_block(&block).await).await;
        assert_eq!(accepted.status, BlockStatus::NewTip);
        accepted
    }

    async fn submit_tx(&self, tx: &Transaction) -> reqwest::Response {
        self.post(paths::peer::TRANSACTIONS, &json!({ "hex": encode_hex(tx) }))
            .await
    }

    async fn verify_tx(&self, tx: &Transaction) -> VerifyResponse {
        self.post_ok(paths::peer::VERIFY, &json!({ "hex": encode_hex(tx) }))
            .await
    }

    async fn mempool(&self) -> MempoolView {
        self.get_ok(paths::peer::MEMPOOL).await
    }

    /// The chain and the mempool, without the tip's age (which grows by itself).
    async fn snapshot(&self) -> (ChainInfo, MempoolView) {
        (self.chain_state().await, self.mempool().await)
    }

    /// `GET /chain` with `tip_age_ms` zeroed: what a refused request must leave as it was.
    async fn chain_state(&self) -> ChainInfo {
        ChainInfo {
            tip_age_ms: 0,
            ..self.chain().await
        }
    }

    /// The service still answers, and neither the chain nor the mempool moved.
    async fn assert_unchanged(&self, before: &(ChainInfo, MempoolView)) {
        let health: Value = self.get_ok("/healthz").await;
        assert_eq!(health["status"], "ok");
        assert_eq!(&self.snapshot().await, before);
    }
}

async fn ok<T: DeserializeOwned>(response: reqwest::Response) -> T {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"))
}

/// Asserts an error answer: its status, its `error` code, and a message.
async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(actual.as_u16(), status, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"));
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

fn key(i: u8) -> PrivateKey {
    let mut bytes = [0x22u8; 32];
    bytes[31] = i.wrapping_add(1);
    PrivateKey::from_bytes(&bytes).unwrap()
}

fn pkh(i: u8) -> PubKeyHash {
    key(i).public_key().pubkey_hash()
}

fn address(i: u8) -> Address {
    Address::new(NETWORK, pkh(i))
}

fn amount(units: u64) -> Amount {
    Amount::from_units(units).unwrap()
}

fn solve(block: &mut Block) {
    let params = NETWORK.params();
    while check_proof_of_work(block, &params).is_err() {
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
}

fn unsolve(block: &mut Block) {
    let params = NETWORK.params();
    while check_proof_of_work(block, &params).is_ok() {
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
}

fn reseal(block: &mut Block) {
    block.header.merkle_root = block.compute_merkle_root().0;
    solve(block);
}

/// A transaction spending `coins` with `signer`'s key to `outputs`, signed.
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
                amount: amount(*units),
                pubkey_hash: *pubkey_hash,
            })
            .collect(),
    };
    let signer = signer.clone();
    tx.sign_with(|pk| (*pk == signer.public_key()).then(|| signer.clone()));
    tx
}

/// The coinbase output of the block `accepted`.
async fn coinbase_of(app: &TestApp, accepted: &SubmitBlockResponse) -> OutPoint {
    let block: BlockView = app
        .get_ok(&paths::peer::block_raw(&accepted.hash.to_string()))
        .await;
    OutPoint::new(block.transactions[0].txid, 0)
}

/// A service whose key 0 owns one mature coinbase of 1 coin (block 1), with block 2 on top.
async fn funded_app() -> (TestApp, OutPoint) {
    let app = spawn_app().await;
    let first = app.mine(&address(0)).await;
    app.mine(&address(9)).await;
    let coin = coinbase_of(&app, &first).await;
    (app, coin)
}

// ---------------------------------------------------------------------------------------------
// Happy paths

/// The book's walkthrough over REST: mine, pay, verify, mine again, look everything up.
async fn happy_path(app: &TestApp) {
    // A new node holds the genesis block only.
    let chain = app.chain().await;
    assert_eq!(chain.network, "regtest");
    assert_eq!(chain.height, 0);
    assert_eq!(chain.tip, chain.genesis);
    assert_eq!(chain.genesis, NETWORK.params().genesis_hash());
    assert_eq!(chain.mempool_size, 0);
    assert_eq!(chain.orphans, 0);
    let work_at_genesis: u128 = chain.total_work.parse().unwrap();

    // Template and block 1.
    let template = app.template(&address(0)).await;
    assert_eq!(template.height, 1);
    assert_eq!(template.prev_hash, chain.genesis);
    assert_eq!(template.reward, COIN);
    assert_eq!(template.fees, 0);
    assert_eq!(template.transactions, 1);
    assert_eq!(template.bits, "207fffff");
    let unsolved: Block = decode_hex(&template.hex).unwrap();
    assert_eq!(unsolved.header.nonce, 0);
    assert_eq!(unsolved.header.time, template.time);

    let first = app.mine(&address(0)).await;
    assert_eq!(first.height, Some(1));
    let chain = app.chain().await;
    assert_eq!(chain.height, 1);
    assert_eq!(chain.tip, first.hash);
    assert!(chain.total_work.parse::<u128>().unwrap() > work_at_genesis);

    // The block by hash, by height and in a range.
    let by_hash: BlockView = app
        .get_ok(&paths::peer::block_raw(&first.hash.to_string()))
        .await;
    let by_height: BlockView = app.get_ok(&paths::peer::block_at(1)).await;
    assert_eq!(by_hash, by_height);
    assert_eq!(by_hash.hash, first.hash);
    assert_eq!(by_hash.height, 1);
    assert_eq!(by_hash.confirmations, 1);
    assert!(by_hash.in_active_chain);
    assert_eq!(by_hash.header.prev_hash, chain.genesis);
    assert_eq!(by_hash.header.bits, "207fffff");
    let block = by_hash.block().unwrap();
    assert_eq!(block.block_hash(), first.hash);
    assert_eq!(by_hash.size, block.size());
    assert_eq!(by_hash.transactions.len(), 1);
    let coinbase = &by_hash.transactions[0];
    assert!(coinbase.coinbase);
    assert!(matches!(
        &coinbase.inputs[0],
        TxInputView::Coinbase { coinbase } if coinbase.height == 1
    ));
    assert_eq!(coinbase.outputs[0].amount, COIN);
    assert_eq!(coinbase.outputs[0].address, address(0).to_string());
    let range: Vec<BlockView> = app
        .get_ok(&format!("{}?from=0&count=10", paths::peer::BLOCKS))
        .await;
    assert_eq!(range.len(), 2);
    assert_eq!(range[0].hash, chain.genesis);
    assert_eq!(range[1], by_hash);
    let default_range: Vec<BlockView> = app.get_ok(paths::peer::BLOCKS).await;
    assert_eq!(default_range, range);
    let genesis: BlockView = app.get_ok(&paths::peer::block_at(0)).await;
    assert_eq!(genesis.confirmations, 2);

    // The coinbase is key 0's, spendable in the next block (regtest maturity 1).
    let utxos: Vec<UtxoView> = app
        .get_ok(&paths::peer::utxos_raw(&(address(0)).to_string()))
        .await;
    assert_eq!(utxos.len(), 1);
    assert_eq!(utxos[0].txid, coinbase.txid);
    assert_eq!(utxos[0].vout, 0);
    assert_eq!(utxos[0].amount, COIN);
    assert_eq!(utxos[0].height, 1);
    assert!(utxos[0].coinbase && utxos[0].mature && !utxos[0].spent_in_mempool);
    let balance: Balance = app
        .get_ok(&paths::peer::balance_raw(&(address(0)).to_string()))
        .await;
    assert_eq!(
        balance,
        Balance {
            address: address(0).to_string(),
            confirmed: COIN,
            immature: 0,
            pending_in: 0,
            pending_out: 0,
        }
    );

    // Key 0 pays 0.6 coin to key 1, 0.3 back to itself, 0.1 fee.
    let coin = OutPoint::new(coinbase.txid, 0);
    let payment = spend(
        &[coin],
        &key(0),
        &[(60_000_000, pkh(1)), (30_000_000, pkh(0))],
    );
    let txid = payment.txid();

    // verify.py: valid, nothing submitted.
    let verdict = app.verify_tx(&payment).await;
    assert_eq!(verdict.txid, txid);
    assert!(verdict.valid, "{verdict:?}");
    assert_eq!(verdict.fee, Some(10_000_000));
    assert_eq!(verdict.error, None);
    assert_eq!(verdict.inputs.len(), 1);
    let input = &verdict.inputs[0];
    assert!(input.valid);
    assert_eq!(input.index, 0);
    assert_eq!(input.prevout, coin.to_string());
    assert_eq!(
        input.address.as_deref(),
        Some(address(0).to_string().as_str())
    );
    assert_eq!(input.amount, Some(COIN));
    assert_eq!(app.mempool().await.count, 0);

    // Submit: in the mempool.
    let accepted: SubmitTransactionResponse = ok(app.submit_tx(&payment).await).await;
    assert_eq!(accepted.txid, txid);
    assert_eq!(accepted.fee, 10_000_000);
    let mempool = app.mempool().await;
    assert_eq!(mempool.count, 1);
    assert_eq!(mempool.transactions[0].txid, txid);
    assert_eq!(mempool.transactions[0].fee, 10_000_000);
    assert_eq!(mempool.transactions[0].size, payment.size());
    assert_eq!(app.chain().await.mempool_size, 1);
    let info: TransactionInfo = app
        .get_ok(&paths::peer::transaction_raw(&txid.to_string()))
        .await;
    assert_eq!(info.txid, txid);
    assert_eq!(info.status.state, TxState::Mempool);
    assert_eq!(info.status.block_hash, None);
    assert_eq!(info.hex, encode_hex(&payment));
    assert!(!info.transaction.coinbase);
    assert_eq!(info.transaction.outputs[0].address, address(1).to_string());
    assert!(matches!(
        &info.transaction.inputs[0],
        TxInputView::Spend { txid, vout: 0, .. } if *txid == coin.txid
    ));

    // Balances see the pending payment.
    let balance: Balance = app
        .get_ok(&paths::peer::balance_raw(&(address(0)).to_string()))
        .await;
    assert_eq!(
        (balance.confirmed, balance.pending_in, balance.pending_out),
        (COIN, 30_000_000, COIN)
    );
    let utxos: Vec<UtxoView> = app
        .get_ok(&paths::peer::utxos_raw(&(address(0)).to_string()))
        .await;
    assert!(utxos[0].spent_in_mempool);
    let balance: Balance = app
        .get_ok(&paths::peer::balance_raw(&(address(1)).to_string()))
        .await;
    assert_eq!((balance.confirmed, balance.pending_in), (0, 60_000_000));

    // The next template carries the payment and its fee.
    let template = app.template(&address(2)).await;
    assert_eq!(template.height, 2);
    assert_eq!(template.transactions, 2);
    assert_eq!(template.fees, 10_000_000);
    assert_eq!(template.reward, COIN + 10_000_000);

    // Mining confirms it.
    let second = app.mine(&address(2)).await;
    assert_eq!(second.height, Some(2));
    assert_eq!(app.mempool().await.count, 0);
    let info: TransactionInfo = app
        .get_ok(&paths::peer::transaction_raw(&txid.to_string()))
        .await;
    assert_eq!(info.status.state, TxState::Confirmed);
    assert_eq!(info.status.block_hash, Some(second.hash));
    assert_eq!(info.status.height, Some(2));
    assert_eq!(info.status.confirmations, Some(1));
    let utxos: Vec<UtxoView> = app
        .get_ok(&paths::peer::utxos_raw(&(address(1)).to_string()))
        .await;
    assert_eq!(utxos.len(), 1);
    assert_eq!((utxos[0].txid, utxos[0].vout), (txid, 0));
    assert_eq!(utxos[0].amount, 60_000_000);
    assert_eq!(utxos[0].height, 2);
    assert!(!utxos[0].coinbase && utxos[0].mature && !utxos[0].spent_in_mempool);
    let balance: Balance = app
        .get_ok(&paths::peer::balance_raw(&(address(0)).to_string()))
        .await;
    assert_eq!(
        (balance.confirmed, balance.pending_in, balance.pending_out),
        (30_000_000, 0, 0)
    );
    let balance: Balance = app
        .get_ok(&paths::peer::balance_raw(&(address(2)).to_string()))
        .await;
    assert_eq!(balance.confirmed, COIN + 10_000_000);

    // One more block: two confirmations; the coinbase of block 1 is looked up too.
    app.mine(&address(0)).await;
    let info: TransactionInfo = app
        .get_ok(&paths::peer::transaction_raw(&txid.to_string()))
        .await;
    assert_eq!(info.status.confirmations, Some(2));
    let info: TransactionInfo = app
        .get_ok(&paths::peer::transaction_raw(&coin.txid.to_string()))
        .await;
    assert_eq!(info.status.height, Some(1));
    assert!(info.transaction.coinbase);
    let range: Vec<BlockView> = app
        .get_ok(&format!("{}?from=1&count=2", paths::peer::BLOCKS))
        .await;
    assert_eq!(range.iter().map(|b| b.height).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(range[1].transactions[1].txid, txid);

    // Submitting a known block again changes nothing.
    let again: SubmitBlockResponse = ok(app
        .post(paths::peer::BLOCKS, &json!({ "hex": by_hash.hex }))
        .await)
    .await;
    assert_eq!(again.status, BlockStatus::Duplicate);
    assert_eq!(again.height, Some(1));
    assert_eq!(app.chain().await.height, 3);
}

#[tokio::test]
async fn the_book_walkthrough_works_over_rest_on_sqlite() {
    let app = spawn_app().await;
    happy_path(&app).await;
}

#[tokio::test]
async fn the_book_walkthrough_works_over_rest_on_postgres() {
    let Some(url) = fresh_postgres_url().await else {
        eprintln!(
            "skipped: MYCOIN_TEST_DATABASE_URL is not set (the README's test command sets it)"
        );
        return;
    };
    let app = spawn_app_on(url, None).await;
    happy_path(&app).await;
}

#[tokio::test]
async fn the_chain_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/peer.sqlite", dir.path().display());
    let first = spawn_app_on(url.clone(), None).await;
    let mined = first.mine(&address(0)).await;
    let second = spawn_app_on(url, None).await;
    let chain = second.chain().await;
    assert_eq!((chain.height, chain.tip), (1, mined.hash));
}

#[tokio::test]
async fn sync_serves_the_blocks_after_the_fork_point() {
    let app = spawn_app().await;
    let genesis = app.chain().await.genesis;
    let mut mined = Vec::new();
    for _ in 0..3 {
        mined.push(app.mine(&address(0)).await.hash);
    }
    // From genesis (or an unknown locator): every block after it, lowest first.
    let unknown = BlockHash([0x42; 32]);
    for locator in [json!([genesis]), json!([unknown, genesis]), json!([])] {
        let blocks: Vec<BlockView> = app
            .post_ok(paths::peer::SYNC, &json!({ "locator": locator }))
            .await;
        let hashes: Vec<BlockHash> = blocks.iter().map(|b| b.hash).collect();
        assert_eq!(hashes, mined, "{locator}");
        assert_eq!(blocks[0].block().unwrap().block_hash(), mined[0]);
    }
    // The first known hash is the fork point; `count` bounds the answer.
    let blocks: Vec<BlockView> = app
        .post_ok(
            paths::peer::SYNC,
            &json!({ "locator": [mined[0], genesis], "count": 1 }),
        )
        .await;
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].hash, mined[1]);
    let blocks: Vec<BlockView> = app
        .post_ok(
            paths::peer::SYNC,
            &json!({ "locator": [mined[2], genesis] }),
        )
        .await;
    assert!(blocks.is_empty(), "the asker has the tip");
    // Bounds.
    assert_error(
        app.post(
            paths::peer::SYNC,
            &json!({ "locator": [genesis], "count": 501 }),
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    let long = vec![genesis; 65];
    assert_error(
        app.post(paths::peer::SYNC, &json!({ "locator": long }))
            .await,
        400,
        "invalid_locator",
    )
    .await;
}

#[tokio::test]
async fn side_chains_and_orphans_are_reported() {
    let app = spawn_app().await;
    let tip = app.mine(&address(0)).await;

    // A competitor of block 1 with the same work: side chain.
    let mut rival: Block = app
        .get_ok::<BlockView>(&paths::peer::block_at(1))
        .await
        .block()
        .unwrap();
    rival.transactions[0] = Transaction::coinbase(1, 777, rival.transactions[0].outputs.clone());
    reseal(&mut rival);
    let answer: SubmitBlockResponse = ok(app.submit_block(&rival).await).await;
    assert_eq!(answer.status, BlockStatus::SideChain);
    assert_eq!(answer.height, Some(1));
    assert_eq!(app.chain().await.tip, tip.hash);
    let view: BlockView = app
        .get_ok(&paths::peer::block_raw(&(rival.block_hash()).to_string()))
        .await;
    assert!(!view.in_active_chain);
    assert_eq!(view.confirmations, 0);

    // A block whose parent is unknown: orphan, no height.
    let mut orphan = app.solved_block(&address(0)).await;
    orphan.header.prev_hash = BlockHash([0x42; 32]);
    solve(&mut orphan);
    let answer: SubmitBlockResponse = ok(app.submit_block(&orphan).await).await;
    assert_eq!(answer.status, BlockStatus::Orphan);
    assert_eq!(answer.height, None);
    let chain = app.chain().await;
    assert_eq!((chain.tip, chain.orphans), (tip.hash, 1));
    assert_error(
        app.get(&paths::peer::block_raw(&(orphan.block_hash()).to_string()))
            .await,
        404,
        "unknown_block",
    )
    .await;
}

/// A block whose parent is unknown, relayed by a node this one does not list: the sender
/// (named in `X-Mycoin-Peer`) becomes a peer, to sync the block's ancestors from, once it
/// answers `GET /chain` for this network. A header that is no peer URL, names this node
/// itself, or names a node that does not answer, adds nothing.
#[tokio::test]
async fn the_unlisted_sender_of_an_orphan_becomes_a_peer() {
    let app = spawn_app().await;
    app.mine(&address(0)).await;
    let mut orphan = app.solved_block(&address(0)).await;
    orphan.header.prev_hash = BlockHash([0x42; 32]);
    solve(&mut orphan);
    let relay = |sender: String| {
        app.http
            .post(app.url(paths::peer::BLOCKS))
            .header("X-Mycoin-Peer", sender)
            .json(&json!({ "hex": encode_hex(&orphan) }))
            .send()
    };
    let own = app.url("");
    for sender in [
        "not a url",
        "ftp://127.0.0.1:9",
        own.trim_end_matches('/'),
        "http://127.0.0.1:9",
    ] {
        let answer: SubmitBlockResponse = ok(relay(sender.to_owned()).await.unwrap()).await;
        assert_eq!(answer.status, BlockStatus::Orphan);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let peers: Vec<PeerView> = app.get_ok(paths::peer::PEERS).await;
    assert!(peers.is_empty(), "{peers:?}");

    let sender = spawn_app().await;
    let answer: SubmitBlockResponse = ok(relay(sender.base.clone()).await.unwrap()).await;
    assert_eq!(answer.status, BlockStatus::Orphan);
    let mut peers: Vec<PeerView> = Vec::new();
    for _ in 0..100 {
        peers = app.get_ok(paths::peer::PEERS).await;
        if !peers.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0].url, sender.base);
    assert_eq!(peers[0].source, PeerSource::Learnt);
    assert_eq!(peers[0].penalty, 0);
}

#[tokio::test]
async fn verify_reports_each_input() {
    let (app, coin) = funded_app().await;
    let missing = OutPoint::new(Txid([7; 32]), 3);
    let tx = spend(&[coin, missing], &key(0), &[(50_000_000, pkh(1))]);
    let before = app.snapshot().await;

    let verdict = app.verify_tx(&tx).await;
    assert!(!verdict.valid);
    assert_eq!(verdict.fee, None);
    assert_eq!(verdict.error.as_ref().unwrap().error, "missing_input");
    assert_eq!(verdict.inputs.len(), 2);
    assert!(verdict.inputs[0].valid);
    assert_eq!(verdict.inputs[0].amount, Some(COIN));
    assert!(!verdict.inputs[1].valid);
    assert_eq!(verdict.inputs[1].index, 1);
    assert_eq!(verdict.inputs[1].prevout, missing.to_string());
    assert_eq!(verdict.inputs[1].address, None);
    assert_eq!(
        verdict.inputs[1].error.as_ref().unwrap().error,
        "missing_input"
    );

    // Signed by the wrong key: the input names the rule.
    let stolen = spend(&[coin], &key(5), &[(50_000_000, pkh(5))]);
    let verdict = app.verify_tx(&stolen).await;
    assert!(!verdict.valid);
    assert_eq!(verdict.error.as_ref().unwrap().error, "wrong_key");
    assert_eq!(verdict.inputs[0].error.as_ref().unwrap().error, "wrong_key");
    assert_eq!(
        verdict.inputs[0].address.as_deref(),
        Some(address(0).to_string().as_str())
    );

    // A signature that does not sign this transaction.
    let mut forged = spend(&[coin], &key(0), &[(50_000_000, pkh(5))]);
    let other = spend(&[coin], &key(0), &[(40_000_000, pkh(5))]);
    if let (
        TxIn::Spend { signature, .. },
        TxIn::Spend {
            signature: theirs, ..
        },
    ) = (&mut forged.inputs[0], &other.inputs[0])
    {
        *signature = *theirs;
    }
    let verdict = app.verify_tx(&forged).await;
    assert_eq!(verdict.error.as_ref().unwrap().error, "bad_signature");
    assert_eq!(
        verdict.inputs[0].error.as_ref().unwrap().error,
        "bad_signature"
    );

    // Verifying never submits.
    app.assert_unchanged(&before).await;

    // Once in the mempool, a double spend conflicts.
    let payment = spend(&[coin], &key(0), &[(90_000_000, pkh(1))]);
    ok::<SubmitTransactionResponse>(app.submit_tx(&payment).await).await;
    let double = spend(&[coin], &key(0), &[(80_000_000, pkh(2))]);
    let verdict = app.verify_tx(&double).await;
    assert_eq!(verdict.error.as_ref().unwrap().error, "mempool_conflict");
    assert_eq!(
        verdict.inputs[0].error.as_ref().unwrap().error,
        "mempool_conflict"
    );
    // The pending transaction itself verifies, as the book's verify.py checks pending ones.
    let verdict = app.verify_tx(&payment).await;
    assert!(verdict.valid && verdict.error.is_none(), "{verdict:?}");
    assert_eq!(verdict.fee, Some(10_000_000));
}

#[tokio::test]
async fn peers_can_be_listed_and_added() {
    let app = spawn_app().await;
    let peers: Vec<PeerView> = app.get_ok(paths::peer::PEERS).await;
    assert!(peers.is_empty());
    let peers: Vec<PeerView> = app
        .post_ok(
            paths::peer::PEERS,
            &json!({"url": "http://127.0.0.1:8002/"}),
        )
        .await;
    assert_eq!(
        peers,
        [PeerView::new("http://127.0.0.1:8002", PeerSource::Learnt)]
    );
    // Adding it again changes nothing (its failures and back-off may have moved meanwhile).
    let urls = |peers: &[PeerView]| -> Vec<(String, PeerSource)> {
        peers.iter().map(|p| (p.url.clone(), p.source)).collect()
    };
    let again: Vec<PeerView> = app
        .post_ok(paths::peer::PEERS, &json!({"url": "http://127.0.0.1:8002"}))
        .await;
    assert_eq!(urls(&again), urls(&peers));
    let listed: Vec<PeerView> = app.get_ok(paths::peer::PEERS).await;
    assert_eq!(urls(&listed), urls(&peers));
}

#[tokio::test]
async fn peers_from_the_settings_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/peer.sqlite", dir.path().display());
    let mut settings = Settings::new(NETWORK, "127.0.0.1", 0, url);
    settings.peers = vec!["http://peer2:8002".to_owned()];
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let peers: Vec<PeerView> = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{base}{}", paths::peer::PEERS))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(peers[0].url, "http://peer2:8002");
    assert_eq!(peers[0].source, PeerSource::Configured);
}

#[tokio::test]
async fn docs_and_health_are_served() {
    let app = spawn_app().await;
    let health: Value = app.get_ok("/healthz").await;
    assert_eq!(health, json!({"status": "ok", "service": "peer"}));
    let served: Value = app.get_ok("/api-docs/openapi.json").await;
    let expected: Value =
        serde_json::from_str(&mycoin_web::docs::openapi_json(ApiDoc::openapi())).unwrap();
    assert_eq!(served, expected);
    for path in [
        paths::peer::CHAIN,
        paths::peer::BLOCKS,
        &paths::peer::block_raw("{hash}"),
        &paths::peer::block_at_raw("{height}"),
        paths::peer::TEMPLATE,
        paths::peer::TRANSACTIONS,
        paths::peer::VERIFY,
        &paths::peer::transaction_raw("{txid}"),
        paths::peer::MEMPOOL,
        &paths::peer::utxos_raw("{address}"),
        &paths::peer::balance_raw("{address}"),
        paths::peer::PEERS,
        paths::peer::SYNC,
        "/metrics",
    ] {
        assert!(
            served["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), StatusCode::OK);
}

impl TestApp {
    /// `GET /metrics`, checked as Prometheus' text format and parsed.
    async fn metrics(&self) -> Vec<Sample> {
        let response = self.get("/metrics").await;
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let text = response.text().await.unwrap();
        parse_text(&text).unwrap_or_else(|err| panic!("{err}\n{text}"))
    }

    /// `mycoin_http_requests_total` of `method route status`, 0 when absent.
    async fn requests(&self, method: &str, route: &str, status: &str) -> f64 {
        let labels = [("method", method), ("route", route), ("status", status)];
        sample_value(&self.metrics().await, "mycoin_http_requests_total", &labels).unwrap_or(0.0)
    }
}

fn gauge(samples: &[Sample], name: &str) -> f64 {
    sample_value(samples, name, &[]).unwrap_or_else(|| panic!("no {name}"))
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_status() {
    let app = spawn_app().await;
    let genesis = app.chain().await.genesis;
    let block_route = paths::peer::block_raw("{hash}");
    assert_eq!(app.requests("GET", &block_route, "200").await, 0.0);

    app.get_ok::<BlockView>(&paths::peer::block_raw(&genesis.to_string()))
        .await;
    app.get_ok::<BlockView>(&paths::peer::block_raw(&genesis.to_string()))
        .await;
    assert_error(
        app.get(&paths::peer::block_raw(&("ab".repeat(32)).to_string()))
            .await,
        404,
        "unknown_block",
    )
    .await;
    assert_error(app.get("/no/such/route/42").await, 404, "not_found").await;
    assert_error(app.get("/no/such/route/43").await, 404, "not_found").await;

    let samples = app.metrics().await;
    let count = |route: &str, status: &str| {
        let labels = [("method", "GET"), ("route", route), ("status", status)];
        sample_value(&samples, "mycoin_http_requests_total", &labels)
    };
    assert_eq!(count(&block_route, "200"), Some(2.0));
    assert_eq!(count(&block_route, "404"), Some(1.0));
    // Unknown paths share one label: the label set stays bounded.
    assert_eq!(count(UNMATCHED_ROUTE, "404"), Some(2.0));
    assert!(
        samples.iter().all(|s| s
            .label("route")
            .is_none_or(|r| !r.contains(&genesis.to_string()))),
        "a raw path became a label"
    );
    let observed = sample_value(
        &samples,
        "mycoin_http_request_duration_seconds_count",
        &[("route", block_route.as_str()), ("status", "200")],
    );
    assert_eq!(observed, Some(2.0));
    let all = sample_value(
        &samples,
        "mycoin_http_request_duration_seconds_bucket",
        &[
            ("route", block_route.as_str()),
            ("status", "200"),
            ("le", "+Inf"),
        ],
    );
    assert_eq!(all, Some(2.0));
    // The scrape itself is counted by the next one, without a token.
    assert!(app.requests("GET", "/metrics", "200").await >= 1.0);
}

#[tokio::test]
async fn metrics_follow_the_chain_the_mempool_and_the_peers() {
    let (app, coin) = funded_app().await;
    let samples = app.metrics().await;
    assert_eq!(gauge(&samples, "mycoin_chain_height"), 2.0);
    assert_eq!(gauge(&samples, "mycoin_mempool_transactions"), 0.0);
    assert_eq!(gauge(&samples, "mycoin_mempool_bytes"), 0.0);
    assert_eq!(gauge(&samples, "mycoin_orphan_blocks"), 0.0);

    app.mine(&address(1)).await;
    let tx = spend(&[coin], &key(0), &[(COIN / 2, pkh(2))]);
    let accepted = app.submit_tx(&tx).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let unreachable = "http://127.0.0.1:9".to_owned();
    app.post_ok::<Vec<PeerView>>(paths::peer::PEERS, &json!({ "url": unreachable }))
        .await;

    let samples = app.metrics().await;
    assert_eq!(
        gauge(&samples, "mycoin_chain_height"),
        3.0,
        "the height follows a mined block"
    );
    assert_eq!(gauge(&samples, "mycoin_mempool_transactions"), 1.0);
    assert_eq!(
        gauge(&samples, "mycoin_mempool_bytes"),
        mycoin_core::Encode::to_bytes(&tx).len() as f64
    );
    let peers = |state: &str| sample_value(&samples, "mycoin_peers", &[("state", state)]);
    assert_eq!(peers("reached"), Some(0.0));
    assert_eq!(peers("unreached"), Some(1.0));
    assert_eq!(peers("banned"), Some(0.0));
}

#[test]
fn committed_openapi_document_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/peer.json");
    mycoin_web::docs::assert_openapi_file(ApiDoc::openapi(), path);
}

// ---------------------------------------------------------------------------------------------
// Bad input: a 4xx naming the problem, nothing changed, the service still serving.

/// Bodies every JSON endpoint must refuse with 400 (or 415), whatever the endpoint.
fn bad_json_bodies() -> Vec<(&'static str, String, u16, &'static str)> {
    vec![
        (
            "application/json",
            "{\"hex\": ".to_owned(),
            400,
            "malformed_json",
        ),
        (
            "application/json",
            "not json".to_owned(),
            400,
            "malformed_json",
        ),
        ("application/json", "".to_owned(), 400, "malformed_json"),
        (
            "application/json",
            "{\"hex\": 5}".to_owned(),
            400,
            "invalid_body",
        ),
        (
            "application/json",
            "{\"hex\": null}".to_owned(),
            400,
            "invalid_body",
        ),
        (
            "application/json",
            "{\"hex\": [\"00\"]}".to_owned(),
            400,
            "invalid_body",
        ),
        ("application/json", "[]".to_owned(), 400, "invalid_body"),
        ("application/json", "{}".to_owned(), 400, "invalid_body"),
        (
            "application/json",
            "{\"hex\": \"00\", \"extra\": 1}".to_owned(),
            400,
            "invalid_body",
        ),
        (
            "text/plain",
            "{\"hex\": \"00\"}".to_owned(),
            415,
            "unsupported_media_type",
        ),
    ]
}

/// Hex strings that are no block and no transaction.
fn bad_hex_values() -> Vec<(String, &'static str)> {
    vec![
        ("zz".to_owned(), "invalid_hex"),
        ("0".to_owned(), "invalid_hex"),
        ("0g".to_owned(), "invalid_hex"),
        ("".to_owned(), "undecodable"),
        ("00".to_owned(), "undecodable"),
        ("ff".repeat(100), "undecodable"),
    ]
}

#[tokio::test]
async fn post_blocks_refuses_bad_input() {
    let (app, _) = funded_app().await;
    let before = app.snapshot().await;

    for (content_type, body, status, code) in bad_json_bodies() {
        let response = app
            .post_raw(paths::peer::BLOCKS, content_type, body.clone())
            .await;
        assert_error(response, status, code).await;
        app.assert_unchanged(&before).await;
    }
    for (hex, code) in bad_hex_values() {
        assert_error(
            app.post(paths::peer::BLOCKS, &json!({ "hex": hex })).await,
            400,
            code,
        )
        .await;
        app.assert_unchanged(&before).await;
    }
    // A block's encoding with a byte too many, or a transaction's instead of a block's.
    let block = app.solved_block(&address(0)).await;
    let trailing = format!("{}00", encode_hex(&block));
    assert_error(
        app.post(paths::peer::BLOCKS, &json!({ "hex": trailing }))
            .await,
        400,
        "undecodable",
    )
    .await;
    let tx_hex = encode_hex(&block.transactions[0]);
    assert_error(
        app.post(paths::peer::BLOCKS, &json!({ "hex": tx_hex }))
            .await,
        400,
        "undecodable",
    )
    .await;
    // Larger than the largest block.
    let huge = json!({ "hex": "00".repeat(1_100_000) }).to_string();
    assert_error(
        app.post_raw(paths::peer::BLOCKS, "application/json", huge)
            .await,
        413,
        "payload_too_large",
    )
    .await;
    app.assert_unchanged(&before).await;
}

#[tokio::test]
async fn post_blocks_rejects_invalid_blocks_with_the_rule_code() {
    let (app, coin) = funded_app().await;
    let before = app.snapshot().await;
    let good = app.solved_block(&address(0)).await;

    let mut cases: Vec<(&str, Block)> = Vec::new();

    let mut high_hash = good.clone();
    unsolve(&mut high_hash);
    cases.push(("high_hash", high_hash));

    let mut merkle = good.clone();
    merkle.header.merkle_root = Default::default();
    solve(&mut merkle);
    cases.push(("merkle_mismatch", merkle));

    let mut greedy = good.clone();
    greedy.transactions[0].outputs[0].amount = amount(2 * COIN);
    reseal(&mut greedy);
    cases.push(("coinbase_too_large", greedy));

    let mut wrong_height = good.clone();
    wrong_height.transactions[0] =
        Transaction::coinbase(7, 0, wrong_height.transactions[0].outputs.clone());
    reseal(&mut wrong_height);
    cases.push(("bad_coinbase_height", wrong_height));

    let mut future = good.clone();
    future.header.time = future.header.time.saturating_add(3 * 60 * 60);
    solve(&mut future);
    cases.push(("time_too_new", future));

    let mut old = good.clone();
    old.header.time = NETWORK.params().genesis_time;
    solve(&mut old);
    cases.push(("time_too_old", old));

    let mut wrong_bits = good.clone();
    wrong_bits.header.bits = mycoin_core::CompactTarget(0x2000_ffff);
    solve(&mut wrong_bits);
    cases.push(("wrong_bits", wrong_bits));

    let mut easy_bits = good.clone();
    // No nonce meets bits easier than the limit: the block is sent unsolved.
    easy_bits.header.bits = mycoin_core::CompactTarget(0x2100_ffff);
    cases.push(("bits_above_limit", easy_bits));

    let mut empty = good.clone();
    empty.transactions.clear();
    reseal(&mut empty);
    cases.push(("no_transactions", empty));

    let mut no_coinbase = good.clone();
    no_coinbase.transactions[0] = spend(&[coin], &key(0), &[(COIN, pkh(0))]);
    reseal(&mut no_coinbase);
    cases.push(("first_not_coinbase", no_coinbase));

    let mut theft = good.clone();
    theft
        .transactions
        .push(spend(&[coin], &key(5), &[(COIN, pkh(5))]));
    reseal(&mut theft);
    cases.push(("wrong_key", theft));

    let mut double = good.clone();
    double
        .transactions
        .push(spend(&[coin], &key(0), &[(COIN, pkh(1))]));
    double
        .transactions
        .push(spend(&[coin], &key(0), &[(COIN, pkh(2))]));
    reseal(&mut double);
    cases.push(("double_spend_in_block", double));

    let mut duplicate = good.clone();
    let payment = spend(&[coin], &key(0), &[(COIN, pkh(1))]);
    duplicate.transactions.push(payment.clone());
    duplicate.transactions.push(payment);
    reseal(&mut duplicate);
    let duplicate_code = "duplicate_txid";
    cases.push((duplicate_code, duplicate));

    for (code, block) in cases {
        let response = app.submit_block(&block).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 422, "{code}: {body}");
        assert_eq!(body["error"], code, "{body}");
        app.assert_unchanged(&before).await;
    }

    // A block found invalid stays refused; its child is refused too.
    let mut greedy = good.clone();
    greedy.transactions[0].outputs[0].amount = amount(3 * COIN);
    reseal(&mut greedy);
    assert_error(app.submit_block(&greedy).await, 422, "coinbase_too_large").await;
    assert_error(app.submit_block(&greedy).await, 422, "known_invalid").await;
    let mut child = good.clone();
    child.header.prev_hash = greedy.block_hash();
    child.transactions[0] = Transaction::coinbase(4, 0, child.transactions[0].outputs.clone());
    reseal(&mut child);
    assert_error(app.submit_block(&child).await, 422, "invalid_parent").await;
    app.assert_unchanged(&before).await;

    // The honest block is still accepted afterwards.
    let accepted: SubmitBlockResponse = ok(app.submit_block(&good).await).await;
    assert_eq!(accepted.status, BlockStatus::NewTip);
}

#[tokio::test]
async fn post_transactions_refuses_bad_input() {
    let (app, _) = funded_app().await;
    let before = app.snapshot().await;
    for path in [paths::peer::TRANSACTIONS, paths::peer::VERIFY] {
        for (content_type, body, status, code) in bad_json_bodies() {
            let response = app.post_raw(path, content_type, body.clone()).await;
            assert_error(response, status, code).await;
            app.assert_unchanged(&before).await;
        }
        for (hex, code) in bad_hex_values() {
            assert_error(app.post(path, &json!({ "hex": hex })).await, 400, code).await;
            app.assert_unchanged(&before).await;
        }
        // A block is no transaction.
        let genesis = encode_hex(&NETWORK.params().genesis_block());
        assert_error(
            app.post(path, &json!({ "hex": genesis })).await,
            400,
            "undecodable",
        )
        .await;
        // Larger than the largest transaction.
        let huge = json!({ "hex": "00".repeat(120_000) }).to_string();
        assert_error(
            app.post_raw(path, "application/json", huge).await,
            413,
            "payload_too_large",
        )
        .await;
        app.assert_unchanged(&before).await;
    }
}

#[tokio::test]
async fn post_transactions_rejects_invalid_transactions_with_the_rule_code() {
    let (app, coin) = funded_app().await;
    let before = app.snapshot().await;
    let missing = OutPoint::new(Txid([7; 32]), 0);

    let mut unsigned = spend(&[coin], &key(0), &[(COIN, pkh(1))]);
    if let TxIn::Spend { signature, .. } = &mut unsigned.inputs[0] {
        *signature = Signature([0; 64]);
    }
    let mut bad_version = spend(&[coin], &key(0), &[(COIN, pkh(1))]);
    bad_version.version = 2;
    let no_outputs = spend(&[coin], &key(0), &[]);
    let mut no_inputs = spend(&[coin], &key(0), &[(COIN, pkh(1))]);
    no_inputs.inputs.clear();

    let cases: Vec<(&str, Transaction)> = vec![
        (
            "missing_input",
            spend(&[missing], &key(0), &[(COIN, pkh(1))]),
        ),
        ("wrong_key", spend(&[coin], &key(5), &[(COIN, pkh(5))])),
        ("malformed_signature", unsigned),
        (
            "outputs_exceed_inputs",
            spend(&[coin], &key(0), &[(COIN + 1, pkh(1))]),
        ),
        ("zero_output", spend(&[coin], &key(0), &[(0, pkh(1))])),
        (
            "duplicate_input",
            spend(&[coin, coin], &key(0), &[(COIN, pkh(1))]),
        ),
        ("unsupported_version", bad_version),
        ("no_outputs", no_outputs),
        ("no_inputs", no_inputs),
        (
            "loose_coinbase",
            Transaction::coinbase(
                3,
                0,
                vec![TxOut {
                    amount: amount(COIN),
                    pubkey_hash: pkh(0),
                }],
            ),
        ),
    ];
    for (code, tx) in &cases {
        let response = app.submit_tx(tx).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 422, "{code}: {body}");
        assert_eq!(body["error"], *code, "{body}");
        app.assert_unchanged(&before).await;
        // verify gives the same verdict with 200.
        let verdict = app.verify_tx(tx).await;
        assert!(!verdict.valid);
        assert_eq!(verdict.error.as_ref().unwrap().error, *code);
        app.assert_unchanged(&before).await;
    }

    // Known, then conflicting.
    let payment = spend(&[coin], &key(0), &[(90_000_000, pkh(1))]);
    ok::<SubmitTransactionResponse>(app.submit_tx(&payment).await).await;
    let after_payment = app.snapshot().await;
    assert_error(app.submit_tx(&payment).await, 422, "already_known").await;
    let double = spend(&[coin], &key(0), &[(80_000_000, pkh(2))]);
    assert_error(app.submit_tx(&double).await, 422, "mempool_conflict").await;
    app.assert_unchanged(&after_payment).await;
}

/// Relay policy (PROTOCOL.md §12.3) is checked after consensus: a valid transaction that pays
/// less than the minimum relay fee rate, or creates dust, is refused with its policy code.
#[tokio::test]
async fn post_transactions_refuses_what_policy_refuses() {
    let (app, coin) = funded_app().await;
    let before = app.snapshot().await;
    let mempool = &before.1;
    assert_eq!(
        mempool.min_fee_rate_per_kb, 1_000,
        "the default is 1 unit per byte"
    );
    assert_eq!(mempool.max_bytes, 32 << 20);
    assert_eq!(mempool.bytes, 0);

    // One input and one output weigh 167 bytes: 166 units is below 1 unit per byte.
    assert_eq!(Transaction::spend_size(1, 1), 167);
    let free = spend(&[coin], &key(0), &[(COIN, pkh(1))]);
    let cheap = spend(&[coin], &key(0), &[(COIN - 166, pkh(1))]);
    assert_eq!(cheap.size(), 167);
    let dust = spend(&[coin], &key(0), &[(COIN - 1_000, pkh(1)), (482, pkh(2))]);
    for (tx, code) in [
        (&free, "fee_too_low"),
        (&cheap, "fee_too_low"),
        (&dust, "dust"),
    ] {
        let body = assert_error(app.submit_tx(tx).await, 422, code).await;
        assert!(
            body["message"].as_str().unwrap().contains("below"),
            "{body}"
        );
        app.assert_unchanged(&before).await;
    }

    // At the limits, both are accepted.
    let paying = spend(
        &[coin],
        &key(0),
        &[(COIN - 195 - 483, pkh(1)), (483, pkh(2))],
    );
    assert_eq!(
        paying.size(),
        195,
        "one input, two outputs: a fee of 195 is 1 unit per byte"
    );
    ok::<SubmitTransactionResponse>(app.submit_tx(&paying).await).await;
    let mempool = app.mempool().await;
    assert_eq!(mempool.count, 1);
    assert_eq!(mempool.bytes, paying.size());
}

/// A light client's reads: every transaction of a block proves its inclusion against the
/// header the node serves, and the headers from genesis check as a header chain.
#[tokio::test]
async fn merkle_proofs_and_headers_check_as_a_light_client_would() {
    let (app, coin) = funded_app().await;
    // A block of a coinbase and three payments, split from one coin.
    let split = spend(
        &[coin],
        &key(0),
        &[(COIN / 4, pkh(0)), (COIN / 4, pkh(0)), (COIN / 4, pkh(0))],
    );
    ok::<SubmitTransactionResponse>(app.submit_tx(&split).await).await;
    app.mine(&address(9)).await;
    let mut txids = Vec::new();
    for vout in 0..3 {
        let payment = spend(
            &[OutPoint::new(split.txid(), vout)],
            &key(0),
            &[(COIN / 4 - 1_000, pkh(vout as u8 + 1))],
        );
        txids.push(payment.txid());
        ok::<SubmitTransactionResponse>(app.submit_tx(&payment).await).await;
    }
    let mined = app.mine(&address(9)).await;
    let block: BlockView = app
        .get_ok(&paths::peer::block_raw(&mined.hash.to_string()))
        .await;
    assert_eq!(block.transactions.len(), 4);

    let header_hex = app
        .get(&paths::peer::block_header_raw(&mined.hash.to_string()))
        .await
        .text()
        .await
        .unwrap();
    let header: Header = decode_hex(&header_hex).unwrap();
    assert_eq!(header.block_hash(), mined.hash);
    for (position, view) in block.transactions.iter().enumerate() {
        let proof: MerkleProofView = app
            .get_ok(&paths::peer::merkle_proof_raw(&view.txid.to_string()))
            .await;
        assert_eq!(proof.block_hash, mined.hash);
        assert_eq!(proof.block_height, 4);
        assert_eq!(proof.pos as usize, position);
        assert_eq!(proof.merkle.len(), 2);
        let info: TransactionInfo = app
            .get_ok(&paths::peer::transaction_raw(&view.txid.to_string()))
            .await;
        let tx: Transaction = decode_hex(&info.hex).unwrap();
        verify_merkle_proof(&tx.wtxid(), &proof.proof(), &header).unwrap();
        // The proof of one transaction shows nothing of another.
        assert!(verify_merkle_proof(&split.wtxid(), &proof.proof(), &header).is_err());
    }

    // Headers from genesis, checked as a chain; a short run, and none past the tip.
    let hexes: Vec<String> = app
        .get_ok(&format!("{}?from=0", paths::peer::HEADERS))
        .await;
    assert_eq!(hexes.len(), 5);
    let headers: Vec<Header> = hexes.iter().map(|h| decode_hex(h).unwrap()).collect();
    let mut light = HeaderChain::new(NETWORK.params());
    light.extend(0, &headers).unwrap();
    assert_eq!(light.tip(), mined.hash);
    assert_eq!(light.header(4), Some(&header));
    let two: Vec<String> = app
        .get_ok(&format!("{}?from=3&count=2", paths::peer::HEADERS))
        .await;
    assert_eq!(two, hexes[3..5]);
    let none: Vec<String> = app
        .get_ok(&format!("{}?from=5", paths::peer::HEADERS))
        .await;
    assert!(none.is_empty());

    // Bad input, each a clear 4xx.
    let before = app.snapshot().await;
    assert_error(
        app.get(&paths::peer::merkle_proof_raw("zz")).await,
        400,
        "invalid_hash",
    )
    .await;
    let unknown = Txid([7; 32]);
    assert_error(
        app.get(&paths::peer::merkle_proof_raw(&unknown.to_string()))
            .await,
        404,
        "unknown_transaction",
    )
    .await;
    let pending = spend(
        &[OutPoint::new(txids[0], 0)],
        &key(1),
        &[(COIN / 4 - 2_000, pkh(5))],
    );
    ok::<SubmitTransactionResponse>(app.submit_tx(&pending).await).await;
    assert_error(
        app.get(&paths::peer::merkle_proof_raw(
            &(pending.txid()).to_string(),
        ))
        .await,
        404,
        "unconfirmed_transaction",
    )
    .await;
    assert_error(
        app.get(&paths::peer::block_header_raw("xyz")).await,
        400,
        "invalid_hash",
    )
    .await;
    let no_block = BlockHash([9; 32]);
    assert_error(
        app.get(&paths::peer::block_header_raw(&no_block.to_string()))
            .await,
        404,
        "unknown_block",
    )
    .await;
    for query in [
        "count=0",
        "count=2001",
        "count=x",
        "from=-1",
        "from=4294967296",
    ] {
        assert_error(
            app.get(&format!("{}?{query}", paths::peer::HEADERS)).await,
            400,
            "invalid_query",
        )
        .await;
    }
    let after = app.snapshot().await;
    assert_eq!(after.0.tip, before.0.tip);
}

/// An address's history: what each transaction did to it, the mempool's first, then the
/// confirmed ones newest first, paged by `after_txid`; and its totals, Esplora's way.
#[tokio::test]
async fn an_address_history_lists_each_payment_once_with_its_effect() {
    let (app, coin) = funded_app().await;
    let a = address(0);
    let change = 30_000_000;
    let pay = spend(
        &[coin],
        &key(0),
        &[(COIN - change - 1_000, pkh(1)), (change, pkh(0))],
    );
    ok::<SubmitTransactionResponse>(app.submit_tx(&pay).await).await;

    // In the mempool: first, unconfirmed.
    let history: Vec<AddressTxView> = app
        .get_ok(&paths::peer::address_transactions_raw(&a.to_string()))
        .await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].txid, pay.txid());
    assert_eq!(history[0].status.state, TxState::Mempool);
    assert_eq!((history[0].received, history[0].sent), (change, COIN));
    assert_eq!(history[0].net, change as i64 - COIN as i64);
    assert_eq!(history[0].fee, 1_000);
    assert_eq!(history[1].status.state, TxState::Confirmed);
    assert_eq!(history[1].status.height, Some(1));
    assert_eq!(history[1].status.confirmations, Some(2));
    assert_eq!((history[1].received, history[1].fee), (COIN, 0));
    let info: AddressInfo = app.get_ok(&paths::peer::address_raw(&a.to_string())).await;
    assert_eq!(info.chain_stats.tx_count, 1);
    assert_eq!(info.chain_stats.funded_txo_sum, COIN);
    assert_eq!(info.mempool_stats.tx_count, 1);
    assert_eq!(info.mempool_stats.spent_txo_sum, COIN);
    assert_eq!(info.mempool_stats.funded_txo_sum, change);

    // Confirmed: newest first, with confirmations; the payee's history has it too.
    let mined = app.mine(&address(9)).await;
    let history: Vec<AddressTxView> = app
        .get_ok(&paths::peer::address_transactions_raw(&a.to_string()))
        .await;
    let txids: Vec<Txid> = history.iter().map(|t| t.txid).collect();
    assert_eq!(txids, vec![pay.txid(), history[1].txid]);
    assert_eq!(history[0].status.block_hash, Some(mined.hash));
    assert_eq!(history[0].status.confirmations, Some(1));
    assert_eq!(history[1].status.confirmations, Some(3));
    let info: AddressInfo = app.get_ok(&paths::peer::address_raw(&a.to_string())).await;
    assert_eq!(info.chain_stats.tx_count, 2);
    assert_eq!(info.chain_stats.funded_txo_count, 2);
    assert_eq!(info.chain_stats.funded_txo_sum, COIN + change);
    assert_eq!(info.chain_stats.spent_txo_count, 1);
    assert_eq!(info.chain_stats.spent_txo_sum, COIN);
    assert_eq!(info.mempool_stats, Default::default());
    let payee: Vec<AddressTxView> = app
        .get_ok(&paths::peer::address_transactions_raw(
            &(address(1)).to_string(),
        ))
        .await;
    assert_eq!(payee.len(), 1);
    assert_eq!(
        (payee[0].received, payee[0].sent),
        (COIN - change - 1_000, 0)
    );

    // Pages of one, each after the last: every transaction once.
    let miner = address(9);
    let all: Vec<AddressTxView> = app
        .get_ok(&format!(
            "{}?limit=100",
            paths::peer::address_transactions(&miner)
        ))
        .await;
    assert_eq!(all.len(), 2);
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let page: Vec<AddressTxView> = app
            .get_ok(&format!(
                "{}?limit=1{after}",
                paths::peer::address_transactions(&miner)
            ))
            .await;
        let Some(last) = page.last() else { break };
        after = format!("&after_txid={}", last.txid);
        paged.extend(page);
    }
    assert_eq!(paged, all);

    // Bad input, each a clear 4xx, nothing changed.
    let before = app.snapshot().await;
    assert_error(
        app.get(&paths::peer::address_raw("nope")).await,
        400,
        "invalid_address",
    )
    .await;
    assert_error(
        app.get(&paths::peer::address_transactions_raw("nope"))
            .await,
        400,
        "invalid_address",
    )
    .await;
    for query in ["limit=0", "limit=101", "limit=x"] {
        assert_error(
            app.get(&format!(
                "{}?{query}",
                paths::peer::address_transactions(&a)
            ))
            .await,
            400,
            "invalid_query",
        )
        .await;
    }
    assert_error(
        app.get(&format!(
            "{}?after_txid=zz",
            paths::peer::address_transactions(&a)
        ))
        .await,
        400,
        "invalid_hash",
    )
    .await;
    assert_error(
        app.get(&format!(
            "{}?after_txid={}",
            paths::peer::address_transactions(&a),
            Txid([3; 32])
        ))
        .await,
        404,
        "unknown_transaction",
    )
    .await;
    app.assert_unchanged(&before).await;
}

#[tokio::test]
async fn block_lookups_refuse_bad_hashes_and_heights() {
    let (app, _) = funded_app().await;
    let before = app.snapshot().await;

    for hash in [
        "zz",
        "00",
        &"g".repeat(64),
        &"0".repeat(63),
        &"0".repeat(66),
    ] {
        assert_error(
            app.get(&paths::peer::block_raw(hash)).await,
            400,
            "invalid_hash",
        )
        .await;
    }
    assert_error(
        app.get(&paths::peer::block_raw(&("ab".repeat(32)).to_string()))
            .await,
        404,
        "unknown_block",
    )
    .await;
    for height in ["abc", "-1", "1.5", "99999999999"] {
        assert_error(
            app.get(&paths::peer::block_at_raw(height)).await,
            400,
            "invalid_path",
        )
        .await;
    }
    assert_error(
        app.get(&paths::peer::block_at(3)).await,
        404,
        "unknown_block",
    )
    .await;
    assert_error(
        app.get(&paths::peer::block_at(u32::MAX)).await,
        404,
        "unknown_block",
    )
    .await;

    for query in ["count=501", "count=abc", "from=-1", "from=x", "count=-5"] {
        assert_error(
            app.get(&format!("{}?{query}", paths::peer::BLOCKS)).await,
            400,
            "invalid_query",
        )
        .await;
    }
    let beyond: Vec<BlockView> = app
        .get_ok(&format!("{}?from=100", paths::peer::BLOCKS))
        .await;
    assert!(beyond.is_empty());
    let none: Vec<BlockView> = app
        .get_ok(&format!("{}?from=0&count=0", paths::peer::BLOCKS))
        .await;
    assert!(none.is_empty());
    let huge_from: Vec<BlockView> = app
        .get_ok(&format!(
            "{}?from=4294967295&count=500",
            paths::peer::BLOCKS
        ))
        .await;
    assert!(huge_from.is_empty());

    assert_error(app.get(paths::peer::TEMPLATE).await, 400, "invalid_query").await;
    assert_error(
        app.get(&format!("{}?address=nope", paths::peer::TEMPLATE))
            .await,
        400,
        "invalid_address",
    )
    .await;
    let demo = Address::new(Network::Demo, pkh(0));
    assert_error(
        app.get(&format!("{}?address={demo}", paths::peer::TEMPLATE))
            .await,
        400,
        "wrong_network",
    )
    .await;
    assert_error(app.get("/no/such/route").await, 404, "not_found").await;
    let wrong_method = app
        .http
        .delete(app.url(paths::peer::CHAIN))
        .send()
        .await
        .unwrap();
    assert_error(wrong_method, 405, "method_not_allowed").await;
    app.assert_unchanged(&before).await;
}

#[tokio::test]
async fn transaction_lookups_refuse_bad_txids() {
    let (app, _) = funded_app().await;
    let before = app.snapshot().await;
    for txid in ["zz", "00", &"g".repeat(64), &"0".repeat(65)] {
        assert_error(
            app.get(&paths::peer::transaction_raw(txid)).await,
            400,
            "invalid_hash",
        )
        .await;
    }
    assert_error(
        app.get(&paths::peer::transaction_raw(
            &("cd".repeat(32)).to_string(),
        ))
        .await,
        404,
        "unknown_transaction",
    )
    .await;
    app.assert_unchanged(&before).await;
}

#[tokio::test]
async fn address_endpoints_refuse_bad_addresses() {
    let (app, _) = funded_app().await;
    let before = app.snapshot().await;
    let valid = address(0).to_string();
    let mut corrupted = valid.clone().into_bytes();
    let last = corrupted.len() - 1;
    corrupted[last] = if corrupted[last] == b'2' { b'3' } else { b'2' };
    let corrupted = String::from_utf8(corrupted).unwrap();
    let demo = Address::new(Network::Demo, pkh(0)).to_string();
    for what in ["utxos", "balance"] {
        for bad in ["nope", "0OIl", &corrupted, &"1".repeat(200)] {
            assert_error(
                app.get(&format!("{}/{what}", paths::peer::address_raw(bad)))
                    .await,
                400,
                "invalid_address",
            )
            .await;
        }
        assert_error(
            app.get(&format!("{}/{what}", paths::peer::address_raw(&demo)))
                .await,
            400,
            "wrong_network",
        )
        .await;
    }
    // A valid address that never received anything.
    let utxos: Vec<UtxoView> = app
        .get_ok(&paths::peer::utxos_raw(&(address(8)).to_string()))
        .await;
    assert!(utxos.is_empty());
    let balance: Balance = app
        .get_ok(&paths::peer::balance_raw(&(address(8)).to_string()))
        .await;
    assert_eq!(
        (
            balance.confirmed,
            balance.immature,
            balance.pending_in,
            balance.pending_out
        ),
        (0, 0, 0, 0)
    );
    app.assert_unchanged(&before).await;
}

#[tokio::test]
async fn post_peers_refuses_bad_input() {
    let app = spawn_app().await;
    for (content_type, body, status, code) in [
        ("application/json", "{\"url\": ", 400, "malformed_json"),
        ("application/json", "{\"url\": 5}", 400, "invalid_body"),
        ("application/json", "{}", 400, "invalid_body"),
        (
            "application/json",
            "{\"url\": \"http://a:1\", \"x\": 1}",
            400,
            "invalid_body",
        ),
        (
            "text/plain",
            "{\"url\": \"http://a:1\"}",
            415,
            "unsupported_media_type",
        ),
    ] {
        let response = app
            .post_raw(paths::peer::PEERS, content_type, body.to_owned())
            .await;
        assert_error(response, status, code).await;
    }
    for url in [
        "peer2:8002",
        "https://peer2:8002",
        "ftp://peer2",
        "http://user:pw@peer2:8002",
        "http://peer2:8002/?x=1",
        "",
    ] {
        assert_error(
            app.post(paths::peer::PEERS, &json!({ "url": url })).await,
            400,
            "invalid_url",
        )
        .await;
    }
    let huge = json!({ "url": format!("http://{}", "a".repeat(10_000)) }).to_string();
    assert_error(
        app.post_raw(paths::peer::PEERS, "application/json", huge)
            .await,
        413,
        "payload_too_large",
    )
    .await;
    let peers: Vec<PeerView> = app.get_ok(paths::peer::PEERS).await;
    assert!(peers.is_empty());

    // The learnt peers are bounded: past the cap, the newest pushes out a learnt one.
    let cap = mycoin_peer::configuration::MAX_LEARNT_PEERS;
    for port in 0..cap + 5 {
        let _: Vec<PeerView> = app
            .post_ok(
                paths::peer::PEERS,
                &json!({ "url": format!("http://10.0.0.1:{}", 9000 + port) }),
            )
            .await;
    }
    let peers: Vec<PeerView> = app.get_ok(paths::peer::PEERS).await;
    assert_eq!(peers.len(), cap);
    assert!(
        peers
            .iter()
            .any(|p| p.url == format!("http://10.0.0.1:{}", 9000 + cap + 4))
    );
}

// ---------------------------------------------------------------------------------------------
// One writer: readers never wait for it

/// A verification hook that, once armed, holds each verification until released, and says when
/// one is held.
struct Gate {
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    entered: tokio::sync::mpsc::UnboundedReceiver<()>,
    release: std::sync::mpsc::Sender<()>,
}

/// A service whose verifications pass through a [`Gate`].
async fn spawn_gated_app() -> (TestApp, Gate) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/peer.sqlite", dir.path().display());
    let settings = Settings::new(NETWORK, "127.0.0.1", 0, url);
    let app = Application::build(settings).await.unwrap();
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (entered_tx, entered) = tokio::sync::mpsc::unbounded_channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let hook_armed = armed.clone();
    app.node()
        .writer()
        .set_verification_hook(std::sync::Arc::new(move || {
            if hook_armed.load(Ordering::SeqCst) {
                let _ = entered_tx.send(());
                let _ = release_rx.lock().unwrap().recv();
            }
        }));
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let app = TestApp {
        base,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        _dir: Some(dir),
    };
    (
        app,
        Gate {
            armed,
            entered,
            release,
        },
    )
}

impl Gate {
    /// Waits until a verification is held at the gate.
    async fn held(&mut self) {
        tokio::time::timeout(std::time::Duration::from_secs(30), self.entered.recv())
            .await
            .expect("a verification reaches the gate")
            .expect("the hook is alive");
    }

    fn open(&self) {
        self.armed.store(false, Ordering::SeqCst);
        self.release.send(()).unwrap();
    }
}

/// While a transaction's and then a block's verification is held, `GET /chain`, `/healthz`,
/// a block and an address are read: they complete, and see the state before the change. Shown
/// by ordering: the reads finish while the submissions cannot have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_complete_while_a_verification_is_held() {
    let (app, mut gate) = spawn_gated_app().await;
    let first = app.mine(&address(0)).await;
    app.mine(&address(9)).await;
    let coin = coinbase_of(&app, &first).await;
    let before = app.chain_state().await;

    // A transaction held in verification.
    let pay = spend(
        &[coin],
        &key(0),
        &[(60_000_000, pkh(1)), (39_000_000, pkh(0))],
    );
    gate.armed.store(true, Ordering::SeqCst);
    let submit = {
        let (http, url, hex) = (
            app.http.clone(),
            app.url(paths::peer::TRANSACTIONS),
            encode_hex(&pay),
        );
        tokio::spawn(async move {
            http.post(url)
                .json(&json!({ "hex": hex }))
                .send()
                .await
                .unwrap()
        })
    };
    gate.held().await;
    assert_eq!(app.chain_state().await, before);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let utxos: Vec<UtxoView> = app
        .get_ok(&paths::peer::utxos_raw(&(address(0)).to_string()))
        .await;
    assert!(utxos.iter().all(|u| !u.spent_in_mempool));
    assert!(!submit.is_finished(), "the submission waits at the gate");
    gate.open();
    let accepted: SubmitTransactionResponse = ok(submit.await.unwrap()).await;
    assert_eq!(accepted.txid, pay.txid());
    assert_eq!(app.mempool().await.count, 1);

    // A block held in verification.
    let block = app.solved_block(&address(0)).await;
    gate.armed.store(true, Ordering::SeqCst);
    let submit = {
        let (http, url, hex) = (
            app.http.clone(),
            app.url(paths::peer::BLOCKS),
            encode_hex(&block),
        );
        tokio::spawn(async move {
            http.post(url)
                .json(&json!({ "hex": hex }))
                .send()
                .await
                .unwrap()
        })
    };
    gate.held().await;
    let during = app.chain().await;
    assert_eq!((during.height, during.tip), (before.height, before.tip));
    let _: BlockView = app
        .get_ok(&paths::peer::block_at_raw(&before.height.to_string()))
        .await;
    assert!(!submit.is_finished(), "the submission waits at the gate");
    gate.open();
    let accepted: SubmitBlockResponse = ok(submit.await.unwrap()).await;
    assert_eq!(accepted.status, BlockStatus::NewTip);
    assert_eq!(app.chain().await.height, before.height + 1);
}

/// A block whose child waited as an orphan: `POST /blocks` reports the block's own height, and
/// the tip (the child) beside it.
#[tokio::test]
async fn post_blocks_reports_its_own_height_after_connecting_orphans() {
    let app = spawn_app().await;
    let parent = app.solved_block(&address(0)).await;
    // The child, built by hand on the parent (regtest keeps the same bits).
    let mut child = parent.clone();
    child.header.prev_hash = parent.block_hash();
    child.header.time = parent.header.time + 1;
    child.transactions = vec![Transaction::coinbase(
        2,
        7,
        vec![TxOut {
            amount: NETWORK.params().block_subsidy(2),
            pubkey_hash: pkh(1),
        }],
    )];
    reseal(&mut child);
    let orphan: SubmitBlockResponse = ok(app.submit_block(&child).await).await;
    assert_eq!(
        (orphan.status, orphan.height, orphan.tip),
        (BlockStatus::Orphan, None, None)
    );

    let answer: SubmitBlockResponse = ok(app.submit_block(&parent).await).await;
    assert_eq!(answer.hash, parent.block_hash());
    assert_eq!(answer.status, BlockStatus::NewTip);
    assert_eq!(answer.height, Some(1), "the submitted block's own height");
    assert_eq!(
        answer.tip,
        Some(mycoin_api::peer::TipView {
            hash: child.block_hash(),
            height: 2
        })
    );
    // A block that is the tip itself names no other tip.
    let next: SubmitBlockResponse = app.mine(&address(0)).await;
    assert_eq!((next.height, next.tip), (Some(3), None));
}

/// `POST /addresses/utxos` answers, for each address, what the per-address endpoints answer.
#[tokio::test]
async fn the_batch_address_endpoint_agrees_with_the_single_ones() {
    let (app, coin) = funded_app().await;
    let pay = spend(
        &[coin],
        &key(0),
        &[(60_000_000, pkh(1)), (39_000_000, pkh(0))],
    );
    ok::<SubmitTransactionResponse>(app.submit_tx(&pay).await).await;
    app.mine(&address(2)).await;
    let pending = spend(
        &[OutPoint::new(pay.txid(), 0)],
        &key(1),
        &[(50_000_000, pkh(3))],
    );
    ok::<SubmitTransactionResponse>(app.submit_tx(&pending).await).await;
    let addresses: Vec<String> = (0..5).map(|i| address(i).to_string()).collect();
    let answer: Vec<mycoin_api::peer::AddressUtxos> = app
        .post_ok(
            paths::peer::ADDRESSES_UTXOS,
            &json!({ "addresses": addresses }),
        )
        .await;
    assert_eq!(answer.len(), 5);
    for (found, asked) in answer.iter().zip(&addresses) {
        assert_eq!(&found.address, asked);
        let utxos: Vec<UtxoView> = app
            .get_ok(&paths::peer::utxos_raw(&asked.to_string()))
            .await;
        let balance: Balance = app
            .get_ok(&paths::peer::balance_raw(&asked.to_string()))
            .await;
        assert_eq!((&found.utxos, &found.balance), (&utxos, &balance));
        let info: Value = app.get_ok(&paths::peer::address_raw(asked)).await;
        assert_eq!(
            found.used,
            info["chain_stats"]["tx_count"].as_u64().unwrap() > 0,
            "{asked}"
        );
    }
    // Paid in blocks: 0 (the coinbase and change), 1 and 2; 3 only by the mempool, 4 never.
    let used: Vec<bool> = answer.iter().map(|found| found.used).collect();
    assert_eq!(used, [true, true, true, false, false]);
    assert_eq!(answer[3].balance.pending_in, 50_000_000);
    assert!(answer[1].utxos[0].spent_in_mempool);
}

#[tokio::test]
async fn the_batch_address_endpoint_refuses_bad_input() {
    let (app, _) = funded_app().await;
    let before = app.snapshot().await;
    let demo = Address::new(Network::Demo, pkh(0)).to_string();
    let too_many: Vec<String> = (0..10_001).map(|_| address(0).to_string()).collect();
    for (body, code) in [
        (json!({ "addresses": ["nope"] }), "invalid_address"),
        (
            json!({ "addresses": [address(0).to_string(), demo] }),
            "wrong_network",
        ),
        (json!({ "addresses": too_many }), "too_many_addresses"),
        (json!({ "addresses": "x" }), "invalid_body"),
        (json!({}), "invalid_body"),
        (json!([address(0).to_string()]), "invalid_body"),
    ] {
        let response = app.post(paths::peer::ADDRESSES_UTXOS, &body).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], code, "{body}");
    }
    let empty: Vec<mycoin_api::peer::AddressUtxos> = app
        .post_ok(paths::peer::ADDRESSES_UTXOS, &json!({ "addresses": [] }))
        .await;
    assert!(empty.is_empty());
    app.assert_unchanged(&before).await;
}

// ---------------------------------------------------------------------------------------------
// Hostile neighbours: the token, the Host allowlist, JSON that is not an object.

/// `POST /peers` without the token, with a wrong one, or as a cross-site form post
/// (`text/plain`, no token, as a web page sends it) is refused and adds no peer.
#[tokio::test]
async fn adding_a_peer_needs_the_token() {
    let app = spawn_app().await;
    let body = json!({ "url": "http://10.0.0.9:8002" }).to_string();
    let url = app.url(paths::peer::PEERS);
    let attempts = [
        app.http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone()),
        app.http
            .post(&url)
            .bearer_auth("peer-test-token-0123456789abcdeX")
            .header("content-type", "application/json")
            .body(body.clone()),
        app.http
            .post(&url)
            .header("content-type", "text/plain")
            .header("origin", "http://evil.example")
            .body(body.clone()),
    ];
    for (attempt, expected) in
        attempts
            .into_iter()
            .zip(["missing_token", "invalid_token", "missing_token"])
    {
        assert_error(attempt.send().await.unwrap(), 401, expected).await;
    }
    let peers: Vec<PeerView> = app.get_ok(paths::peer::PEERS).await;
    assert!(peers.is_empty(), "{peers:?}");
}

/// The peer-to-peer endpoints stay open: without a token they judge the body, not the caller.
#[tokio::test]
async fn peer_to_peer_endpoints_need_no_token() {
    let app = spawn_app().await;
    for path in [
        paths::peer::BLOCKS,
        paths::peer::TRANSACTIONS,
        paths::peer::VERIFY,
    ] {
        let response = app
            .http
            .post(app.url(path))
            .json(&json!({ "hex": "00" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
    }
    let response = app
        .http
        .post(app.url(paths::peer::SYNC))
        .json(&json!({ "locator": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// DNS rebinding: a request for a name the node does not serve gets 421, a read as well as a
/// write; the loopback names with the port pass.
#[tokio::test]
async fn a_foreign_host_is_misdirected() {
    let app = spawn_app().await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let foreign = format!("evil.example:{port}");
    let read = app
        .http
        .get(app.url(paths::peer::CHAIN))
        .header("host", &foreign)
        .send()
        .await
        .unwrap();
    assert_error(read, 421, "misdirected_host").await;
    let write = app
        .http
        .post(app.url(paths::peer::PEERS))
        .header("host", &foreign)
        .bearer_auth(TOKEN)
        .json(&json!({ "url": "http://10.0.0.9:8002" }))
        .send()
        .await
        .unwrap();
    assert_error(write, 421, "misdirected_host").await;
    let peers: Vec<PeerView> = app.get_ok(paths::peer::PEERS).await;
    assert!(peers.is_empty(), "{peers:?}");
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let response = app
            .http
            .get(app.url(paths::peer::CHAIN))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{host}");
    }
}

/// A JSON body must be an object where the schema says object: arrays, strings and numbers get
/// 400 `invalid_body`, and nothing changes.
#[tokio::test]
async fn json_bodies_that_are_not_objects_are_refused() {
    let app = spawn_app().await;
    let before = app.chain_state().await;
    for path in [
        paths::peer::PEERS,
        paths::peer::BLOCKS,
        paths::peer::TRANSACTIONS,
        paths::peer::VERIFY,
        paths::peer::SYNC,
    ] {
        for body in ["[]", "\"x\"", "5", "null", "[\"http://10.0.0.9:8002\"]"] {
            let response = app
                .post_raw(path, "application/json", body.to_owned())
                .await;
            assert_error(response, 400, "invalid_body").await;
        }
    }
    let peers: Vec<PeerView> = app.get_ok(paths::peer::PEERS).await;
    assert!(peers.is_empty(), "{peers:?}");
    assert_eq!(app.chain_state().await, before);
}

/// `GET /chain?wait_tip=H` is a long poll: it answers at once when the tip is not `H`, and
/// otherwise as soon as a block moves the tip (here well before its `wait_ms`), with the new
/// tip and how long ago the node took it. Bad queries are 400 and change nothing.
#[tokio::test]
async fn a_long_poll_on_the_chain_answers_when_the_tip_moves() {
    let app = spawn_app().await;
    let genesis = app.chain().await;
    let other = "00".repeat(32);
    let at_once: ChainInfo = app
        .get_ok(&format!("{}?wait_tip={other}", paths::peer::CHAIN))
        .await;
    assert_eq!(at_once.tip, genesis.tip);

    let path = format!(
        "{}?wait_tip={}&wait_ms=30000",
        paths::peer::CHAIN,
        genesis.tip
    );
    let waiting = app.get(&path);
    let mining = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        app.mine(&address(1)).await
    };
    let (answer, mined) = tokio::join!(waiting, mining);
    let moved: ChainInfo = ok(answer).await;
    assert_eq!(moved.tip, mined.hash);
    assert_eq!(moved.height, 1);
    // The same tip again, with no wait: the answer comes after wait_ms with that tip.
    let same: ChainInfo = app
        .get_ok(&format!(
            "{}?wait_tip={}&wait_ms=0",
            paths::peer::CHAIN,
            moved.tip
        ))
        .await;
    assert_eq!(same.tip, moved.tip);
    assert!(same.tip_age_ms >= moved.tip_age_ms, "{same:?} {moved:?}");

    let before = app.snapshot().await;
    for (query, code) in [
        ("wait_tip=xyz", "invalid_hash"),
        ("wait_tip=00", "invalid_hash"),
        ("wait_ms=30001", "invalid_query"),
        ("wait_ms=-1", "invalid_query"),
        ("wait_ms=soon", "invalid_query"),
    ] {
        assert_error(
            app.get(&format!("{}?{query}", paths::peer::CHAIN)).await,
            400,
            code,
        )
        .await;
    }
    app.assert_unchanged(&before).await;
}

// ---------------------------------------------------------------------------------------------
// The block tree's tips, and where outputs went

/// A block at `height` on `parent` (not the tip), built from a template and solved.
async fn block_on_parent(app: &TestApp, parent: BlockHash, height: u32, pay_to: &Address) -> Block {
    let mut block = app.solved_block(pay_to).await;
    block.header.prev_hash = parent;
    let outputs = block.transactions[0].outputs.clone();
    block.transactions[0] = Transaction::coinbase(height, 4242, outputs);
    reseal(&mut block);
    block
}

#[tokio::test]
async fn chain_tips_show_side_branches_and_reorganisations() {
    let app = spawn_app().await;
    let peer = mycoin_api::client::PeerClient::connect(&app.base).unwrap();
    app.mine(&address(0)).await;
    let a2 = app.mine(&address(0)).await.hash;
    let tips: Value = app.get_ok(paths::peer::CHAIN_TIPS).await;
    assert_eq!(
        tips,
        json!([{"height": 2, "hash": a2.to_string(), "branchlen": 0, "status": "active"}])
    );

    // A rival of block 2: a side branch of one block, as much work as the tip.
    let one: BlockView = app.get_ok(&paths::peer::block_at(1)).await;
    let rival = block_on_parent(&app, one.hash, 2, &address(3)).await;
    let answer: SubmitBlockResponse = ok(app.submit_block(&rival).await).await;
    assert_eq!(answer.status, BlockStatus::SideChain);
    let b2 = rival.block_hash();
    let tips = peer.chain_tips(None).await.unwrap();
    let summary = |tips: &[ChainTipView]| -> Vec<(u32, BlockHash, u32, ChainTipStatus)> {
        tips.iter()
            .map(|t| (t.height, t.hash, t.branchlen, t.status))
            .collect()
    };
    assert_eq!(
        summary(&tips),
        [
            (2, a2, 0, ChainTipStatus::Active),
            (2, b2, 1, ChainTipStatus::ValidHeaders)
        ]
    );

    // One block on the rival: the chain reorganises onto it; the old tip was connected once.
    let b3 = block_on_parent(&app, b2, 3, &address(3)).await;
    let answer: SubmitBlockResponse = ok(app.submit_block(&b3).await).await;
    assert_eq!(answer.status, BlockStatus::NewTip);
    let tips: Value = app.get_ok(paths::peer::CHAIN_TIPS).await;
    assert_eq!(
        tips,
        json!([
            {"height": 3, "hash": b3.block_hash().to_string(), "branchlen": 0, "status": "active"},
            {"height": 2, "hash": a2.to_string(), "branchlen": 1, "status": "valid-fork"},
        ])
    );
    // Only the tips at a height or above.
    let high = peer.chain_tips(Some(3)).await.unwrap();
    assert_eq!(
        summary(&high),
        [(3, b3.block_hash(), 0, ChainTipStatus::Active)]
    );
    assert_eq!(peer.chain_tips(Some(2)).await.unwrap().len(), 2);
    assert!(peer.chain_tips(Some(4)).await.unwrap().is_empty());
    assert!(peer.chain_tips(Some(u32::MAX)).await.unwrap().is_empty());

    // Bad heights are refused, and change nothing.
    let before = app.snapshot().await;
    for bad in ["-1", "abc", "4294967296", "", "1.5", "0x10"] {
        assert_error(
            app.get(&format!("{}?min_height={bad}", paths::peer::CHAIN_TIPS))
                .await,
            400,
            "invalid_query",
        )
        .await;
    }
    app.assert_unchanged(&before).await;
    assert_eq!(peer.chain_tips(None).await.unwrap().len(), 2);
}

/// Outspends over REST: unspent, spent in the mempool, spent in a block; Esplora's shape.
async fn outspends_over_rest(app: &TestApp) {
    let peer = mycoin_api::client::PeerClient::connect(&app.base).unwrap();
    let first = app.mine(&address(0)).await;
    let second = app.mine(&address(9)).await;
    let coin = coinbase_of(app, &first).await;
    let other = coinbase_of(app, &second).await;
    let unspent = json!([{"spent": false}]);
    let outspends = |txid: &Txid| paths::peer::outspends(txid);
    let raw: Value = app.get_ok(&outspends(&coin.txid)).await;
    assert_eq!(raw, unspent);

    // Spent in the mempool.
    let payment = spend(
        &[coin],
        &key(0),
        &[(60_000_000, pkh(1)), (39_000_000, pkh(0))],
    );
    let accepted: SubmitTransactionResponse = ok(app.submit_tx(&payment).await).await;
    let raw: Value = app.get_ok(&outspends(&coin.txid)).await;
    assert_eq!(
        raw,
        json!([{"spent": true, "txid": accepted.txid.to_string(), "vin": 0,
                "status": {"state": "mempool"}}])
    );
    // A mempool transaction's outputs are unspent.
    let views = peer.outspends(&accepted.txid).await.unwrap();
    assert_eq!(views, vec![OutspendView::unspent(); 2]);

    // Spent in a block.
    let third = app.mine(&address(9)).await;
    let views = peer.outspends(&coin.txid).await.unwrap();
    assert_eq!(
        views,
        vec![OutspendView {
            spent: true,
            txid: Some(accepted.txid),
            vin: Some(0),
            status: Some(TxStatus {
                state: TxState::Confirmed,
                block_hash: Some(third.hash),
                height: Some(3),
                confirmations: Some(1),
            }),
        }]
    );
    // The status is the one `GET /transactions/{txid}` gives the spender.
    let info: TransactionInfo = app.get_ok(&paths::peer::transaction(&accepted.txid)).await;
    assert_eq!(views[0].status.as_ref(), Some(&info.status));
    // Another coinbase, still unspent; the genesis block's output, never spendable.
    let raw: Value = app.get_ok(&outspends(&other.txid)).await;
    assert_eq!(raw, unspent);
    let genesis: BlockView = app.get_ok(&paths::peer::block_at(0)).await;
    let raw: Value = app.get_ok(&outspends(&genesis.transactions[0].txid)).await;
    assert_eq!(raw, unspent);

    // Bad and unknown txids are refused, and change nothing.
    let before = app.snapshot().await;
    for txid in ["zz", "00", &"g".repeat(64), &"0".repeat(65), "%20"] {
        assert_error(
            app.get(&paths::peer::outspends_raw(txid)).await,
            400,
            "invalid_hash",
        )
        .await;
    }
    assert_error(
        app.get(&paths::peer::outspends_raw(&"cd".repeat(32))).await,
        404,
        "unknown_transaction",
    )
    .await;
    app.assert_unchanged(&before).await;
    assert_eq!(peer.outspends(&coin.txid).await.unwrap(), views);
}

#[tokio::test]
async fn outspends_say_where_each_output_went_on_sqlite() {
    let app = spawn_app().await;
    outspends_over_rest(&app).await;
}

#[tokio::test]
async fn outspends_say_where_each_output_went_on_postgres() {
    let Some(url) = fresh_postgres_url().await else {
        eprintln!(
            "skipped: MYCOIN_TEST_DATABASE_URL is not set (the README's test command sets it)"
        );
        return;
    };
    let app = spawn_app_on(url, None).await;
    outspends_over_rest(&app).await;
}
