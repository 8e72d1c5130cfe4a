//! The wallet service over real HTTP: each test spawns a real peer service (regtest, temporary
//! SQLite file), a real keys service, a real miner service and the wallet, all on free ports.

use mycoin_api::paths;
use std::collections::HashSet;

use mycoin_api::miner::MineResponse;
use mycoin_api::peer::{MempoolView, TransactionInfo, TxState, decode_hex};
use mycoin_api::wallet::{
    HistoryEntry, HistoryStatus, SendResponse, UnspentKey, UnusedKey, WalletAddress, WalletBalance,
    WalletView,
};
use mycoin_core::{Address, COIN, Network, PubKeyHash, Transaction, TxIn};
use mycoin_wallet::{ApiDoc, Settings, build};
use mycoin_web::metrics::{Sample, parse_text, sample_value};
use mycoin_web::{ApiToken, ErrorBody};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use utoipa::OpenApi;

const NETWORK: Network = Network::Regtest;
const REWARD: u64 = COIN;

struct Stack {
    wallet: String,
    peer: String,
    miner: String,
    token: ApiToken,
    http: reqwest::Client,
    _dir: TempDir,
}

impl Stack {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.wallet))
            .send()
            .await
            .unwrap()
    }

    async fn view(&self) -> WalletView {
        let response = self.get(paths::wallet::WALLET).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn history(&self) -> Vec<HistoryEntry> {
        let response = self.get(paths::wallet::HISTORY).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn new_address(&self) -> String {
        let response = self
            .http
            .post(format!("{}{}", self.wallet, paths::wallet::ADDRESSES))
            .bearer_auth(self.token.expose_secret())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let address: WalletAddress = response.json().await.unwrap();
        Address::parse_for(&address.address, NETWORK).unwrap();
        address.address
    }

    /// `POST /wallet/send` with the stack's token.
    async fn send(&self, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{}", self.wallet, paths::wallet::SEND))
            .bearer_auth(self.token.expose_secret())
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn send_ok(&self, to: &str, amount: u64, fee: u64) -> SendResponse {
        let response = self
            .send(json!({ "to": to, "amount": amount, "fee": fee }))
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn mine_to(&self, address: &str) -> MineResponse {
        let response = self
            .http
            .post(format!("{}{}", self.miner, paths::miner::MINE))
            .bearer_auth(self.token.expose_secret())
            .json(&json!({ "address": address }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn peer_get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let response = self
            .http
            .get(format!("{}{path}", self.peer))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.unwrap()
    }

    /// The transaction as the peer holds it, with every signature checked over the txid.
    async fn peer_transaction(&self, txid: &mycoin_core::Txid) -> (TransactionInfo, Transaction) {
        let info: TransactionInfo = self
            .peer_get(&paths::peer::transaction_raw(&txid.to_string()))
            .await;
        let tx: Transaction = decode_hex(&info.hex).unwrap();
        assert_eq!(tx.txid(), *txid);
        for input in &tx.inputs {
            let TxIn::Spend {
                public_key,
                signature,
                ..
            } = input
            else {
                panic!("a payment has no coinbase input");
            };
            public_key.verify(&txid.0, signature).unwrap();
        }
        (info, tx)
    }
}

fn address(byte: u8) -> String {
    Address::new(NETWORK, PubKeyHash([byte; 20])).to_string()
}

/// A URL where nothing listens.
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn sqlite_url(dir: &TempDir, name: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join(name).display())
}

async fn spawn_peer(dir: &TempDir) -> String {
    let peer = mycoin_peer::build(mycoin_peer::Settings::new(
        NETWORK,
        "127.0.0.1",
        0,
        sqlite_url(dir, "peer.sqlite"),
    ))
    .await
    .expect("the peer service starts");
    let base = format!("http://127.0.0.1:{}", peer.port());
    tokio::spawn(peer.run_until_stopped());
    base
}

async fn spawn_keys(dir: &TempDir, token: ApiToken) -> String {
    let keys = mycoin_keys::build(mycoin_keys::Settings::new(
        NETWORK,
        dir.path().join("keys"),
        0,
        token,
    ))
    .await
    .expect("the keys service starts");
    let base = format!("http://127.0.0.1:{}", keys.port());
    tokio::spawn(keys.run_until_stopped());
    base
}

async fn spawn_miner(peer: String, keys: String, token: ApiToken) -> String {
    let settings = mycoin_miner::Settings::new(NETWORK, 0, peer, keys)
        .with_threads(1)
        .with_api_token(token);
    let miner = mycoin_miner::build(settings)
        .await
        .expect("the miner service starts");
    let base = format!("http://127.0.0.1:{}", miner.port());
    tokio::spawn(miner.run_until_stopped());
    base
}

async fn spawn_wallet(dir: &TempDir, peer: String, keys: String, token: ApiToken) -> String {
    let settings = Settings::new(NETWORK, 0, peer, keys, sqlite_url(dir, "wallet.sqlite"))
        .with_api_token(token);
    let wallet = build(settings).await.expect("the wallet service starts");
    let base = format!("http://127.0.0.1:{}", wallet.port());
    tokio::spawn(wallet.run_until_stopped());
    base
}

async fn spawn_stack() -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let token = ApiToken::generate().unwrap();
    let peer = spawn_peer(&dir).await;
    let keys = spawn_keys(&dir, token.clone()).await;
    let miner = spawn_miner(peer.clone(), keys.clone(), token.clone()).await;
    let wallet = spawn_wallet(&dir, peer.clone(), keys, token.clone()).await;
    Stack {
        wallet,
        peer,
        miner,
        token,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        _dir: dir,
    }
}

async fn assert_error(response: reqwest::Response, status: StatusCode, code: &str) -> ErrorBody {
    let actual = response.status();
    let body: ErrorBody = response.json().await.expect("an error in the JSON shape");
    assert_eq!(actual, status, "{body:?}");
    assert_eq!(body.error, code, "{body:?}");
    assert!(!body.message.is_empty());
    body
}

fn unspent(address: &str, amount: u64, outputs: usize) -> UnspentKey {
    UnspentKey {
        address: address.to_owned(),
        amount,
        outputs,
    }
}

fn unused(address: &str) -> UnusedKey {
    UnusedKey {
        address: address.to_owned(),
    }
}

#[tokio::test]
async fn the_books_walkthrough_mine_send_mine_check_the_wallet() {
    let stack = spawn_stack().await;

    // No keys yet: an empty wallet.
    let empty = stack.view().await;
    assert_eq!(empty.balance, WalletBalance::default());
    assert!(empty.unspent_keys.is_empty() && empty.unused_keys.is_empty());
    assert!(stack.history().await.is_empty());

    // key.py: a fresh key is unused.
    let a = stack.new_address().await;
    let view = stack.view().await;
    assert_eq!(view.unused_keys, vec![unused(&a)]);
    assert!(view.unspent_keys.is_empty());

    // mine.py to A: the reward (mature at once on regtest) is A's.
    let mined = stack.mine_to(&a).await;
    assert_eq!(mined.height, 1);
    let coinbase_txid = mined.block.transactions[0].txid;
    let view = stack.view().await;
    assert_eq!(
        view.balance,
        WalletBalance {
            confirmed: REWARD,
            pending: 0,
            immature: 0
        }
    );
    assert_eq!(view.unspent_keys, vec![unspent(&a, REWARD, 1)]);
    assert!(view.unused_keys.is_empty());
    let history = stack.history().await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].txid, coinbase_txid);
    assert_eq!(history[0].received, REWARD);
    assert_eq!(history[0].status, HistoryStatus::Confirmed);
    assert_eq!(history[0].height, Some(1));

    // sign.py: pay B (someone else), with change to a fresh key C.
    let b = address(0xbb);
    let amount = 30_000_000;
    let fee = 1_000;
    let sent = stack.send_ok(&b, amount, fee).await;
    assert_eq!(sent.fee, fee);
    assert_eq!(sent.inputs, vec![format!("{coinbase_txid}:0")]);
    let c = sent.change_address.clone().expect("change");
    assert_ne!(c, a);
    let change = REWARD - amount - fee;

    // In the peer's mempool, signatures valid over the txid.
    let mempool: MempoolView = stack.peer_get(paths::peer::MEMPOOL).await;
    assert_eq!(mempool.count, 1);
    assert_eq!(mempool.transactions[0].txid, sent.txid);
    assert_eq!(mempool.transactions[0].fee, fee);
    let (info, tx) = stack.peer_transaction(&sent.txid).await;
    assert_eq!(info.status.state, TxState::Mempool);
    assert_eq!(tx.outputs.len(), 2);
    assert_eq!(info.transaction.outputs[0].address, b);
    assert_eq!(info.transaction.outputs[0].amount, amount);
    assert_eq!(info.transaction.outputs[1].address, c);
    assert_eq!(info.transaction.outputs[1].amount, change);
    // The peer's own verdict, without submitting again.
    let verdict: Value = stack
        .http
        .post(format!("{}{}", stack.peer, paths::peer::VERIFY))
        .json(&json!({ "hex": info.hex }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for input in verdict["inputs"].as_array().unwrap() {
        assert!(
            input["error"]["error"] != "bad_signature",
            "signature refused: {verdict}"
        );
    }

    // Before a block: nothing spendable, the change on its way, A used, C not unused.
    let view = stack.view().await;
    assert_eq!(
        view.balance,
        WalletBalance {
            confirmed: 0,
            pending: change,
            immature: 0
        }
    );
    assert!(view.unspent_keys.is_empty(), "{view:?}");
    assert!(view.unused_keys.is_empty(), "{view:?}");

    // mine.py again, to someone else: the payment is confirmed.
    let mined = stack.mine_to(&address(0xdd)).await;
    assert_eq!(mined.height, 2);
    assert!(mined.block.transactions.iter().any(|t| t.txid == sent.txid));
    let (info, _) = stack.peer_transaction(&sent.txid).await;
    assert_eq!(info.status.state, TxState::Confirmed);

    // wallet.py: C holds the change; A is spent (neither unspent nor unused).
    let d = stack.new_address().await;
    let view = stack.view().await;
    assert_eq!(
        view.balance,
        WalletBalance {
            confirmed: change,
            pending: 0,
            immature: 0
        }
    );
    assert_eq!(view.unspent_keys, vec![unspent(&c, change, 1)]);
    assert_eq!(view.unused_keys, vec![unused(&d)]);

    // History: the coinbase A received (spent since, still listed), then the payment,
    // confirmed at height 2; each proven against the wallet's own header chain.
    let history = stack.history().await;
    assert_eq!(
        history,
        vec![
            HistoryEntry {
                txid: coinbase_txid,
                received: REWARD,
                sent: 0,
                fee: 0,
                status: HistoryStatus::Confirmed,
                height: Some(1),
                confirmations: Some(2),
                verified: true,
            },
            HistoryEntry {
                txid: sent.txid,
                received: 0,
                sent: amount,
                fee,
                status: HistoryStatus::Confirmed,
                height: Some(2),
                confirmations: Some(1),
                verified: true,
            }
        ]
    );

    // Spending the change works too, exactly, without change.
    let all = stack.send_ok(&b, change - 500, 500).await;
    assert_eq!(all.change_address, None);
    assert_eq!(all.inputs, vec![format!("{}:1", sent.txid)]);
    let view = stack.view().await;
    assert_eq!(view.balance, WalletBalance::default());
    assert!(view.unspent_keys.is_empty());
    assert_eq!(view.unused_keys, vec![unused(&d)]);
    let history = stack.history().await;
    assert_eq!(history.len(), 3);
    assert_eq!(history[2].txid, all.txid);
    assert_eq!(history[2].status, HistoryStatus::Mempool);
    assert_eq!((history[2].sent, history[2].fee), (change - 500, 500));
    assert_eq!(history[2].height, None);
    assert!(!history[2].verified);
}

#[tokio::test]
async fn two_sends_before_a_block_never_spend_the_same_output() {
    let stack = spawn_stack().await;
    let a = stack.new_address().await;
    stack.mine_to(&a).await;
    stack.mine_to(&a).await;
    assert_eq!(
        stack.view().await.unspent_keys,
        vec![unspent(&a, 2 * REWARD, 2)]
    );

    // Two at once, then a third: each needs a whole output.
    let payee = address(0x42);
    let (first, second) = tokio::join!(
        stack.send(json!({ "to": payee, "amount": 60_000_000, "fee": 1_000 })),
        stack.send(json!({ "to": payee, "amount": 60_000_000, "fee": 1_000 })),
    );
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    let first: SendResponse = first.json().await.unwrap();
    let second: SendResponse = second.json().await.unwrap();
    assert_ne!(first.txid, second.txid);
    let inputs: HashSet<&String> = first.inputs.iter().chain(&second.inputs).collect();
    assert_eq!(inputs.len(), 2, "{first:?} {second:?}");

    let mempool: MempoolView = stack.peer_get(paths::peer::MEMPOOL).await;
    assert_eq!(mempool.count, 2);
    stack.peer_transaction(&first.txid).await;
    stack.peer_transaction(&second.txid).await;

    // Nothing left to spend until a block confirms the change.
    let body = assert_error(
        stack
            .send(json!({ "to": payee, "amount": 1_000, "fee": 1_000 }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "insufficient_funds",
    )
    .await;
    assert!(body.message.contains("have 0"), "{}", body.message);
    assert_eq!(stack.view().await.balance.pending, 2 * 39_999_000);

    stack.mine_to(&address(0xdd)).await;
    let view = stack.view().await;
    assert_eq!(view.balance.confirmed, 2 * 39_999_000);
    assert_eq!(view.unspent_keys.len(), 2);
    let third = stack.send_ok(&payee, 50_000_000, 1_000).await;
    assert_eq!(third.inputs.len(), 2);
}

impl Stack {
    /// The wallet's `GET /metrics`, checked as Prometheus' text format and parsed.
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
}

#[tokio::test]
async fn metrics_count_payments_and_requests() {
    let stack = spawn_stack().await;
    let sent = |samples: &[Sample]| sample_value(samples, "mycoin_wallet_payments_sent_total", &[]);
    assert_eq!(sent(&stack.metrics().await), Some(0.0));

    let a = stack.new_address().await;
    stack.mine_to(&a).await;
    stack.view().await;
    stack.send_ok(&address(0xbb), 1_000, 1_000).await;
    let refused = stack
        .send(json!({ "to": address(1), "amount": 100 * REWARD, "fee": 1 }))
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let samples = stack.metrics().await;
    assert_eq!(sent(&samples), Some(1.0));
    let count = |method: &str, route: &str, status: &str| {
        let labels = [("method", method), ("route", route), ("status", status)];
        sample_value(&samples, "mycoin_http_requests_total", &labels)
    };
    assert_eq!(count("GET", paths::wallet::WALLET, "200"), Some(1.0));
    assert_eq!(count("POST", paths::wallet::SEND, "200"), Some(1.0));
    assert_eq!(count("POST", paths::wallet::SEND, "422"), Some(1.0));
}

/// `fee` is never implied: a payment names its fee, or a fee rate the wallet turns into the fee
/// for the size of the transaction it builds; the peer refuses what pays below its minimum.
#[tokio::test]
async fn a_payment_names_its_fee_or_a_fee_rate() {
    let stack = spawn_stack().await;
    let a = stack.new_address().await;
    stack.mine_to(&a).await;
    stack.view().await;
    for (body, code) in [
        (
            json!({ "to": address(1), "amount": 1_000 }),
            "invalid_amount",
        ),
        (
            json!({ "to": address(1), "amount": 1_000, "fee": 1_000, "fee_rate": 2 }),
            "invalid_amount",
        ),
        (
            json!({ "to": address(1), "amount": 1_000, "fee_rate": 0 }),
            "invalid_amount",
        ),
        (
            json!({ "to": address(1), "amount": 1_000, "fee_rate": mycoin_wallet::wallet::MAX_FEE_RATE + 1 }),
            "invalid_amount",
        ),
    ] {
        let error = assert_error(stack.send(body).await, StatusCode::BAD_REQUEST, code).await;
        assert!(error.message.contains("fee"), "{}", error.message);
    }
    // Below the peer's minimum of 1 unit per byte: the peer's verdict, and nothing spent.
    assert_error(
        stack
            .send(json!({ "to": address(1), "amount": 1_000, "fee": 100 }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "fee_too_low",
    )
    .await;
    // Dust: an amount below the peer's dust limit is refused by the peer.
    assert_error(
        stack
            .send(json!({ "to": address(1), "amount": 1, "fee": 1_000 }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "dust",
    )
    .await;
    let mempool: MempoolView = stack.peer_get(paths::peer::MEMPOOL).await;
    assert_eq!(mempool.count, 0);

    // Three units per byte, for one input, a payment and change.
    let response = stack
        .send(json!({ "to": address(1), "amount": 1_000, "fee_rate": 3 }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let sent: SendResponse = response.json().await.unwrap();
    let size = mycoin_core::Transaction::spend_size(1, 2) as u64;
    assert_eq!(sent.fee, 3 * size);
    let mempool: MempoolView = stack.peer_get(paths::peer::MEMPOOL).await;
    assert_eq!(mempool.count, 1);
    assert_eq!(mempool.transactions[0].fee, 3 * size);
    assert_eq!(mempool.bytes as u64, size);
}

#[tokio::test]
async fn insufficient_funds_is_422_naming_have_and_need() {
    let stack = spawn_stack().await;
    let body = assert_error(
        stack
            .send(json!({ "to": address(1), "amount": 5, "fee": 2 }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "insufficient_funds",
    )
    .await;
    assert!(body.message.contains("have 0"), "{}", body.message);
    assert!(body.message.contains("need 7"), "{}", body.message);

    let a = stack.new_address().await;
    stack.mine_to(&a).await;
    let body = assert_error(
        stack
            .send(json!({ "to": address(1), "amount": REWARD, "fee": 1 }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "insufficient_funds",
    )
    .await;
    assert!(
        body.message.contains(&format!("have {REWARD}")),
        "{}",
        body.message
    );
    assert!(
        body.message.contains(&format!("need {}", REWARD + 1)),
        "{}",
        body.message
    );
    // Nothing was sent, no change key made.
    let mempool: MempoolView = stack.peer_get(paths::peer::MEMPOOL).await;
    assert_eq!(mempool.count, 0);
    assert_eq!(stack.view().await.unused_keys, vec![]);
}

#[tokio::test]
async fn bad_input_is_4xx_in_the_error_shape_and_the_service_keeps_serving() {
    let stack = spawn_stack().await;
    let a = stack.new_address().await;
    stack.mine_to(&a).await;
    let send_raw = |body: String, token: Option<&str>| {
        let mut request = stack
            .http
            .post(format!("{}{}", stack.wallet, paths::wallet::SEND))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let token = stack.token.expose_secret();

    // Malformed JSON and wrong types.
    assert_error(
        send_raw("{\"to\": ".into(), Some(token)).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    for body in [
        json!({ "to": address(1), "amount": "ten", "fee": 0 }),
        json!({ "to": address(1), "amount": -1, "fee": 0 }),
        json!({ "to": address(1), "amount": 1.5, "fee": 0 }),
        json!({ "to": 5, "amount": 1, "fee": 0 }),
        json!({ "amount": 1, "fee": 0 }),
        json!({ "to": address(1), "amount": 1, "fee": 0, "extra": true }),
        json!([address(1), 1, 0]),
    ] {
        assert_error(
            stack.send(body).await,
            StatusCode::BAD_REQUEST,
            "invalid_body",
        )
        .await;
    }
    // Bad and other-network addresses.
    for bad in [
        "not an address".to_owned(),
        String::new(),
        Address::new(Network::Demo, PubKeyHash([1; 20])).to_string(),
    ] {
        assert_error(
            stack
                .send(json!({ "to": bad, "amount": 1, "fee": 0 }))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_address",
        )
        .await;
    }
    // Zero and impossible amounts.
    for (amount, fee) in [
        (0, 0),
        (0, 10),
        (u64::MAX, 0),
        (1, u64::MAX),
        (mycoin_core::MAX_MONEY, 1),
    ] {
        assert_error(
            stack
                .send(json!({ "to": address(1), "amount": amount, "fee": fee }))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_amount",
        )
        .await;
    }
    // Oversized body.
    let huge = format!(
        "{{\"to\": \"{}\", \"amount\": 1, \"fee\": 0}}",
        "x".repeat(64 * 1024)
    );
    assert_error(
        send_raw(huge, Some(token)).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    // Missing and wrong tokens, even with a good body.
    let good = json!({ "to": address(1), "amount": 1, "fee": 0 }).to_string();
    assert_error(
        send_raw(good.clone(), None).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    assert_error(
        send_raw(good.clone(), Some("0123456789abcdef0123456789abcdef"))
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // Wrong methods and unknown routes.
    assert_error(
        stack.get(paths::wallet::SEND).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    for (method, path) in [
        (reqwest::Method::POST, paths::wallet::WALLET),
        (reqwest::Method::GET, paths::wallet::ADDRESSES),
        (reqwest::Method::DELETE, paths::wallet::HISTORY),
    ] {
        let response = stack
            .http
            .request(method, format!("{}{path}", stack.wallet))
            .send()
            .await
            .unwrap();
        assert_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
    assert_eq!(
        stack
            .get(&format!("{}/nothing", paths::wallet::WALLET))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // Nothing was sent, and everything still works.
    let mempool: MempoolView = stack.peer_get(paths::peer::MEMPOOL).await;
    assert_eq!(mempool.count, 0);
    assert_eq!(
        stack.view().await.unspent_keys,
        vec![unspent(&a, REWARD, 1)]
    );
    let sent = stack.send_ok(&address(1), 1_000, 1_000).await;
    assert!(sent.change_address.is_some());
}

#[tokio::test]
async fn unreachable_services_are_503() {
    let dir = tempfile::tempdir().unwrap();
    let token = ApiToken::generate().unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    // Neither keys nor peer.
    let wallet = spawn_wallet(&dir, closed_url(), closed_url(), token.clone()).await;
    let send = json!({ "to": address(1), "amount": 1, "fee": 0 });
    for request in [
        http.get(format!("{wallet}{}", paths::wallet::WALLET)),
        http.post(format!("{wallet}{}", paths::wallet::ADDRESSES))
            .bearer_auth(token.expose_secret()),
        http.get(format!("{wallet}{}", paths::wallet::HISTORY)),
        http.post(format!("{wallet}{}", paths::wallet::SEND))
            .bearer_auth(token.expose_secret())
            .json(&send),
    ] {
        assert_error(
            request.send().await.unwrap(),
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
        )
        .await;
    }

    // Keys up, with a key, but the peer down.
    let keys = spawn_keys(&dir, token.clone()).await;
    let wallet = spawn_wallet(&dir, closed_url(), keys, token.clone()).await;
    let response = http
        .post(format!("{wallet}{}", paths::wallet::ADDRESSES))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for request in [
        http.get(format!("{wallet}{}", paths::wallet::WALLET)),
        http.get(format!("{wallet}{}", paths::wallet::HISTORY)),
        http.post(format!("{wallet}{}", paths::wallet::SEND))
            .bearer_auth(token.expose_secret())
            .json(&send),
    ] {
        assert_error(
            request.send().await.unwrap(),
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
        )
        .await;
    }
    // Still serving.
    let health = http.get(format!("{wallet}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_keys_service_with_another_token_is_a_clear_502() {
    let dir = tempfile::tempdir().unwrap();
    let wallet_token = ApiToken::generate().unwrap();
    let keys_token = ApiToken::generate().unwrap();
    let peer = spawn_peer(&dir).await;
    let keys = spawn_keys(&dir, keys_token.clone()).await;
    let miner = spawn_miner(peer.clone(), keys.clone(), keys_token.clone()).await;
    let wallet = spawn_wallet(&dir, peer, keys.clone(), wallet_token.clone()).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    // The wallet's own request for a key is refused by the keys service.
    let response = http
        .post(format!("{wallet}{}", paths::wallet::ADDRESSES))
        .bearer_auth(wallet_token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_GATEWAY, "keys_refused_token").await;
    // A key made at the keys service itself, with its token, still shows in the wallet.
    let a: Value = http
        .post(format!("{keys}{}", paths::keys::KEYS))
        .bearer_auth(keys_token.expose_secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = http
        .post(format!("{miner}{}", paths::miner::MINE))
        .bearer_auth(keys_token.expose_secret())
        .json(&json!({ "address": a["address"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Exactly the reward: no change key is needed, so signing is the first token use.
    let response = http
        .post(format!("{wallet}{}", paths::wallet::SEND))
        .bearer_auth(wallet_token.expose_secret())
        .json(&json!({ "to": address(1), "amount": REWARD - 10, "fee": 10 }))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_GATEWAY, "keys_refused_token").await;
}

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_one() {
    let stack = spawn_stack().await;
    let served: Value = stack
        .get("/api-docs/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/wallet.json");
    mycoin_web::docs::assert_openapi_file(ApiDoc::openapi(), path);
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(served, committed);
    for route in [
        paths::wallet::WALLET,
        paths::wallet::ADDRESSES,
        paths::wallet::SEND,
        paths::wallet::HISTORY,
    ] {
        assert!(served["paths"][route].is_object(), "{route}");
    }
    for route in [paths::wallet::SEND, paths::wallet::ADDRESSES] {
        assert_eq!(
            served["paths"][route]["post"]["security"],
            json!([{ "api_token": [] }]),
            "{route}"
        );
        assert!(served["paths"][route]["post"]["responses"]["401"].is_object());
    }
    assert!(served["paths"][paths::wallet::WALLET]["get"]["security"].is_null());
}

#[tokio::test]
async fn a_restarted_wallet_remembers_its_payments() {
    let dir = tempfile::tempdir().unwrap();
    let token = ApiToken::generate().unwrap();
    let peer = spawn_peer(&dir).await;
    let keys = spawn_keys(&dir, token.clone()).await;
    let miner = spawn_miner(peer.clone(), keys.clone(), token.clone()).await;
    let wallet = spawn_wallet(&dir, peer.clone(), keys.clone(), token.clone()).await;
    let stack = Stack {
        wallet,
        peer: peer.clone(),
        miner,
        token: token.clone(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        _dir: tempfile::tempdir().unwrap(),
    };
    let a = stack.new_address().await;
    stack.mine_to(&a).await;
    // Pay everything to someone else: A ends with no output at all.
    let sent = stack.send_ok(&address(3), REWARD - 1_000, 1_000).await;
    stack.mine_to(&address(4)).await;

    // A second wallet process on the same database.
    let restarted = Stack {
        wallet: spawn_wallet(&dir, peer, keys, token).await,
        ..stack
    };
    let view = restarted.view().await;
    assert_eq!(view.balance, WalletBalance::default());
    assert!(view.unspent_keys.is_empty());
    // A received and spent: it is not "unused", though the peer shows no output for it.
    assert!(view.unused_keys.is_empty(), "{view:?}");
    // The history is the chain's, not the process's: the coinbase A received, then the payment.
    let history = restarted.history().await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].received, REWARD);
    assert_eq!(history[1].txid, sent.txid);
    assert_eq!(history[1].sent, REWARD - 1_000);
    assert_eq!(history[1].status, HistoryStatus::Confirmed);
    assert_eq!(history[1].height, Some(2));
    assert!(history.iter().all(|entry| entry.verified));
}

/// A peer that lies about inclusion: it forwards every request to `peer`, but moves every
/// Merkle proof to the neighbouring position.
async fn spawn_lying_peer(peer: String) -> String {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, http, web};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let peer = peer.clone();
        App::new().default_service(web::to(move |request: HttpRequest, body: web::Bytes| {
            let url = format!("{peer}{}", request.uri());
            async move {
                let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes());
                let answer = reqwest::Client::builder()
                    .no_proxy()
                    .build()
                    .unwrap()
                    .request(method.unwrap(), url)
                    .header("content-type", "application/json")
                    .body(body.to_vec())
                    .send()
                    .await
                    .unwrap();
                let status = http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
                let mut text = answer.text().await.unwrap();
                if request.path().ends_with("/merkle-proof") && status.is_success() {
                    let mut proof: Value = serde_json::from_str(&text).unwrap();
                    proof["pos"] = json!(proof["pos"].as_u64().unwrap() ^ 1);
                    text = proof.to_string();
                }
                HttpResponse::build(status)
                    .content_type("application/json")
                    .body(text)
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// The history's `verified` is the wallet's own check: through a peer whose Merkle proofs do
/// not check, the same transactions are listed, unverified; through the honest peer, verified.
#[tokio::test]
async fn the_history_is_verified_only_when_the_proofs_check() {
    let dir = tempfile::tempdir().unwrap();
    let token = ApiToken::generate().unwrap();
    let peer = spawn_peer(&dir).await;
    let keys = spawn_keys(&dir, token.clone()).await;
    let miner = spawn_miner(peer.clone(), keys.clone(), token.clone()).await;
    let liar = spawn_lying_peer(peer.clone()).await;
    let stack = Stack {
        wallet: spawn_wallet(&dir, liar, keys.clone(), token.clone()).await,
        peer: peer.clone(),
        miner,
        token: token.clone(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        _dir: tempfile::tempdir().unwrap(),
    };
    let a = stack.new_address().await;
    stack.mine_to(&a).await;
    stack.mine_to(&a).await;
    stack.send_ok(&address(3), 10_000_000, 1_000).await;
    stack.mine_to(&address(4)).await;

    let lied_to = stack.history().await;
    assert_eq!(lied_to.len(), 3, "{lied_to:?}");
    assert!(lied_to.iter().all(|e| e.status == HistoryStatus::Confirmed));
    assert!(lied_to.iter().all(|e| !e.verified), "{lied_to:?}");

    let other = tempfile::tempdir().unwrap();
    let honest = Stack {
        wallet: spawn_wallet(&other, peer, keys, token).await,
        ..stack
    };
    let checked = honest.history().await;
    assert!(checked.iter().all(|e| e.verified), "{checked:?}");
    let strip = |entries: &[HistoryEntry]| -> Vec<(String, u64, u64)> {
        entries
            .iter()
            .map(|e| (e.txid.to_string(), e.received, e.sent))
            .collect()
    };
    assert_eq!(strip(&checked), strip(&lied_to));
}

// ---------------------------------------------------------------------------------------------
// Hostile neighbours: the token, the Host allowlist, JSON that is not an object.

/// `POST /wallet/addresses` and `POST /wallet/send` without the token, with a wrong one, or as
/// a cross-site form post (`text/plain`, no token) are refused: no key made, nothing sent.
#[tokio::test]
async fn making_addresses_and_sending_need_the_token() {
    let stack = spawn_stack().await;
    let a = stack.new_address().await;
    stack.mine_to(&a).await;
    stack.mine_to(&address(9)).await;
    let before = stack.view().await;
    let send = json!({ "to": address(1), "amount": 1, "fee": 0 }).to_string();
    for path in [paths::wallet::ADDRESSES, paths::wallet::SEND] {
        let url = format!("{}{path}", stack.wallet);
        let attempts = [
            (
                stack
                    .http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(send.clone()),
                "missing_token",
            ),
            (
                stack
                    .http
                    .post(&url)
                    .bearer_auth("not-the-token-0123456789abcdef")
                    .header("content-type", "application/json")
                    .body(send.clone()),
                "invalid_token",
            ),
            (
                stack
                    .http
                    .post(&url)
                    .header("content-type", "text/plain")
                    .header("origin", "http://evil.example")
                    .body(send.clone()),
                "missing_token",
            ),
        ];
        for (attempt, code) in attempts {
            assert_error(
                attempt.send().await.unwrap(),
                StatusCode::UNAUTHORIZED,
                code,
            )
            .await;
        }
    }
    assert_eq!(stack.view().await, before, "no key made, nothing spent");
    let mempool: MempoolView = stack.peer_get(paths::peer::MEMPOOL).await;
    assert_eq!(mempool.count, 0);
}

/// A page whose name was rebound to 127.0.0.1 reads no balance and sends nothing: 421.
#[tokio::test]
async fn a_foreign_host_is_misdirected() {
    let stack = spawn_stack().await;
    let port = stack.wallet.rsplit(':').next().unwrap().to_owned();
    let read = stack
        .http
        .get(format!("{}{}", stack.wallet, paths::wallet::WALLET))
        .header("host", format!("evil.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_error(read, StatusCode::MISDIRECTED_REQUEST, "misdirected_host").await;
    let write = stack
        .http
        .post(format!("{}{}", stack.wallet, paths::wallet::ADDRESSES))
        .header("host", format!("evil.example:{port}"))
        .bearer_auth(stack.token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_error(write, StatusCode::MISDIRECTED_REQUEST, "misdirected_host").await;
    assert!(stack.view().await.unused_keys.is_empty(), "no key made");
    let ok = stack
        .http
        .get(format!("{}{}", stack.wallet, paths::wallet::WALLET))
        .header("host", format!("localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

/// `["…", 1, 0]` would fill a `SendRequest` field by field; the body must be an object.
#[tokio::test]
async fn a_send_body_that_is_not_an_object_is_refused() {
    let stack = spawn_stack().await;
    for body in [json!([address(1), 1, 0]), json!([]), json!("x"), json!(5)] {
        assert_error(
            stack.send(body).await,
            StatusCode::BAD_REQUEST,
            "invalid_body",
        )
        .await;
    }
    assert!(stack.history().await.is_empty());
}
