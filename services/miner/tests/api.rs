//! The miner service over real HTTP: each test spawns a real peer service (regtest, temporary
//! SQLite file), when needed a real keys service, and the miner, all on free ports.

use mycoin_api::paths;
use std::time::{Duration, Instant};

use mycoin_api::miner::{MineResponse, MinerStatus};
use mycoin_api::peer::{BlockStatus, ChainInfo};
use mycoin_core::{Address, Network, PubKeyHash};
use mycoin_miner::{ApiDoc, Settings, build};
use mycoin_web::metrics::{Sample, parse_text, sample_value};
use mycoin_web::{ApiToken, ErrorBody};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use utoipa::OpenApi;

const NETWORK: Network = Network::Regtest;
/// The API token of the stacks under test.
const TOKEN: &str = "miner-test-token-0123456789abcdef";

fn token() -> ApiToken {
    ApiToken::new(TOKEN).unwrap()
}

struct Stack {
    miner: String,
    peer: String,
    http: reqwest::Client,
    _dir: TempDir,
}

impl Stack {
    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.miner))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn post_raw(&self, path: &str, body: &'static str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.miner))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn status(&self) -> MinerStatus {
        let response = self
            .http
            .get(format!("{}{}", self.miner, paths::miner::MINER))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn chain(&self) -> ChainInfo {
        self.http
            .get(format!("{}{}", self.peer, paths::peer::CHAIN))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
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

async fn spawn_peer(dir: &TempDir) -> String {
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("peer.sqlite").display()
    );
    let peer = mycoin_peer::build(mycoin_peer::Settings::new(NETWORK, "127.0.0.1", 0, url))
        .await
        .expect("the peer service starts");
    let base = format!("http://127.0.0.1:{}", peer.port());
    tokio::spawn(peer.run_until_stopped());
    base
}

async fn spawn_keys(dir: &TempDir) -> String {
    let keys = mycoin_keys::build(mycoin_keys::Settings::new(
        NETWORK,
        dir.path().join("keys"),
        0,
        token(),
    ))
    .await
    .expect("the keys service starts");
    let base = format!("http://127.0.0.1:{}", keys.port());
    tokio::spawn(keys.run_until_stopped());
    base
}

async fn spawn_miner(peer: String, keys: String) -> String {
    let settings = Settings::new(NETWORK, 0, peer, keys)
        .with_threads(1)
        .with_api_token(token());
    let miner = build(settings).await.expect("the miner service starts");
    let base = format!("http://127.0.0.1:{}", miner.port());
    tokio::spawn(miner.run_until_stopped());
    base
}

/// Peer and miner; the keys service only when `with_keys`, else its URL is closed.
async fn spawn_stack(with_keys: bool) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer(&dir).await;
    let keys = if with_keys {
        spawn_keys(&dir).await
    } else {
        closed_url()
    };
    let miner = spawn_miner(peer.clone(), keys).await;
    Stack {
        miner,
        peer,
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

#[tokio::test]
async fn mine_with_an_address_extends_the_peers_chain() {
    let stack = spawn_stack(false).await;
    assert_eq!(stack.chain().await.height, 0);

    let payee = address(7);
    let response = stack
        .post(paths::miner::MINE, json!({ "address": payee }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mined: MineResponse = response.json().await.unwrap();
    assert_eq!(mined.height, 1);
    assert_eq!(mined.status, BlockStatus::NewTip);
    assert_eq!(mined.address, payee);
    assert!(mined.attempts >= 1);
    assert_eq!(mined.block.hash, mined.hash);
    assert_eq!(mined.block.height, 1);
    assert!(mined.block.in_active_chain);
    assert_eq!(mined.block.transactions[0].outputs[0].address, payee);
    let block = mined.block.block().unwrap();
    mycoin_core::validation::check_proof_of_work(&block, &NETWORK.params()).unwrap();

    let chain = stack.chain().await;
    assert_eq!(chain.height, 1);
    assert_eq!(chain.tip, mined.hash);

    let again: MineResponse = stack
        .post(paths::miner::MINE, json!({ "address": payee }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again.height, 2);
    assert_eq!(again.block.header.prev_hash, mined.hash);
    assert_eq!(stack.chain().await.height, 2);
    assert_eq!(stack.status().await.blocks_found, 2);
}

/// `GET {base}/metrics`, checked as Prometheus' text format and parsed.
async fn metrics(http: &reqwest::Client, base: &str) -> Vec<Sample> {
    let response = http.get(format!("{base}/metrics")).send().await.unwrap();
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

#[tokio::test]
async fn metrics_count_blocks_found_and_the_peers_height_follows() {
    let stack = spawn_stack(false).await;
    let before = metrics(&stack.http, &stack.miner).await;
    assert_eq!(
        sample_value(&before, "mycoin_miner_blocks_found_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        sample_value(&before, "mycoin_miner_hash_rate", &[]),
        Some(0.0)
    );
    assert_eq!(
        sample_value(&before, "mycoin_miner_running", &[]),
        Some(0.0)
    );
    let peer_before = metrics(&stack.http, &stack.peer).await;
    assert_eq!(
        sample_value(&peer_before, "mycoin_chain_height", &[]),
        Some(0.0)
    );

    let response = stack
        .post(paths::miner::MINE, json!({ "address": address(3) }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let bad = stack.post_raw(paths::miner::MINE, "{").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let after = metrics(&stack.http, &stack.miner).await;
    assert_eq!(
        sample_value(&after, "mycoin_miner_blocks_found_total", &[]),
        Some(1.0)
    );
    let count = |status: &str| {
        let labels = [
            ("method", "POST"),
            ("route", paths::miner::MINE),
            ("status", status),
        ];
        sample_value(&after, "mycoin_http_requests_total", &labels)
    };
    assert_eq!(count("200"), Some(1.0));
    assert_eq!(count("400"), Some(1.0));
    let peer_after = metrics(&stack.http, &stack.peer).await;
    assert_eq!(
        sample_value(&peer_after, "mycoin_chain_height", &[]),
        Some(1.0)
    );
}

#[tokio::test]
async fn mine_without_an_address_pays_a_fresh_key_of_the_keys_service() {
    let stack = spawn_stack(true).await;
    let mined: MineResponse = stack
        .post(paths::miner::MINE, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mined.height, 1);
    Address::parse_for(&mined.address, NETWORK).unwrap();
    assert_eq!(
        mined.block.transactions[0].outputs[0].address,
        mined.address
    );
    assert_eq!(stack.chain().await.height, 1);
}

#[tokio::test]
async fn background_mining_starts_finds_blocks_and_stops() {
    let stack = spawn_stack(false).await;
    let status = stack.status().await;
    assert!(!status.running);
    assert_eq!(status.threads, 1);

    // Stopping a miner that does not run is a clear 409.
    assert_error(
        stack.post(paths::miner::STOP, json!(null)).await,
        StatusCode::CONFLICT,
        "not_running",
    )
    .await;

    let payee = address(9);
    let response = stack
        .post(paths::miner::START, json!({ "address": payee }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let started: MinerStatus = response.json().await.unwrap();
    assert!(started.running);
    assert_eq!(started.address.as_deref(), Some(payee.as_str()));

    // Starting twice is a clear 409 too.
    assert_error(
        stack.post(paths::miner::START, json!({})).await,
        StatusCode::CONFLICT,
        "already_running",
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(30);
    while stack.chain().await.height < 3 {
        assert!(
            Instant::now() < deadline,
            "no blocks mined in the background"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = stack.status().await;
    assert!(status.running);
    assert!(status.blocks_found >= 3, "{status:?}");
    assert_eq!(status.last_error, None);
    // Each block found moved the tip: the miner searched on as many tips at least, and was
    // idle between the searches (submitting, fetching the next template).
    assert!(status.tips >= 3, "{status:?}");
    assert!(status.idle_seconds > 0.0, "{status:?}");
    assert!(status.stale_seconds >= 0.0, "{status:?}");

    let response = stack.post(paths::miner::STOP, json!(null)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let stopped: MinerStatus = response.json().await.unwrap();
    assert!(!stopped.running);
    assert_eq!(stopped.address, None);
    // The counts stay, in GET /miner and in /metrics alike.
    let samples = metrics(&stack.http, &stack.miner).await;
    let stopped = stack.status().await;
    assert!(stopped.tips >= status.tips);
    assert_eq!(
        sample_value(&samples, "mycoin_miner_tips_total", &[]),
        Some(stopped.tips as f64)
    );
    for (name, seconds) in [
        ("mycoin_miner_idle_milliseconds_total", stopped.idle_seconds),
        (
            "mycoin_miner_stale_milliseconds_total",
            stopped.stale_seconds,
        ),
    ] {
        assert_eq!(
            sample_value(&samples, name, &[]),
            Some((seconds * 1e3).floor()),
            "{name}"
        );
    }

    // Nothing mines any more.
    let height = stack.chain().await.height;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(stack.chain().await.height, height);
    assert_error(
        stack.post(paths::miner::STOP, json!(null)).await,
        StatusCode::CONFLICT,
        "not_running",
    )
    .await;
}

#[tokio::test]
async fn bad_requests_are_400_in_the_error_shape() {
    let stack = spawn_stack(false).await;
    assert_error(
        stack.post_raw(paths::miner::MINE, "{\"address\": ").await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    assert_error(
        stack
            .post(paths::miner::MINE, json!({ "address": 5 }))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    assert_error(
        stack
            .post(paths::miner::MINE, json!({ "adress": address(1) }))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    for bad in [
        "not an address".to_owned(),
        Address::new(Network::Demo, PubKeyHash([1; 20])).to_string(),
    ] {
        assert_error(
            stack
                .post(paths::miner::MINE, json!({ "address": bad }))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_address",
        )
        .await;
        assert_error(
            stack
                .post(paths::miner::START, json!({ "address": bad }))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_address",
        )
        .await;
    }
    assert!(!stack.status().await.running);
    let response = stack
        .http
        .get(format!("{}{}", stack.miner, paths::miner::MINE))
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    assert_eq!(stack.chain().await.height, 0);
}

#[tokio::test]
async fn unreachable_services_are_503() {
    let miner = spawn_miner(closed_url(), closed_url()).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for body in [json!({ "address": address(3) }), json!({})] {
        let response = http
            .post(format!("{miner}{}", paths::miner::MINE))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(
            response,
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
        )
        .await;
    }
    // Without an address the keys service is needed at once.
    let response = http
        .post(format!("{miner}{}", paths::miner::START))
        .bearer_auth(TOKEN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "upstream_unavailable",
    )
    .await;

    // With one, background mining runs and reports that the peer cannot be reached.
    let response = http
        .post(format!("{miner}{}", paths::miner::START))
        .bearer_auth(TOKEN)
        .json(&json!({ "address": address(3) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status: MinerStatus = http
            .get(format!("{miner}{}", paths::miner::MINER))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(error) = status.last_error {
            assert!(error.contains("cannot reach"), "{error}");
            break;
        }
        assert!(Instant::now() < deadline, "no error reported");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let response = http
        .post(format!("{miner}{}", paths::miner::STOP))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_one() {
    let stack = spawn_stack(false).await;
    let served: Value = stack
        .http
        .get(format!("{}/api-docs/openapi.json", stack.miner))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/miner.json");
    mycoin_web::docs::assert_openapi_file(ApiDoc::openapi(), path);
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(served, committed);
    for route in [
        paths::miner::MINE,
        paths::miner::MINER,
        paths::miner::START,
        paths::miner::STOP,
    ] {
        assert!(served["paths"][route].is_object(), "{route}");
    }
    for route in [paths::miner::MINE, paths::miner::START, paths::miner::STOP] {
        assert_eq!(
            served["paths"][route]["post"]["security"],
            json!([{ "api_token": [] }]),
            "{route}"
        );
        assert!(served["paths"][route]["post"]["responses"]["401"].is_object());
    }
    assert!(served["paths"][paths::miner::MINER]["get"]["security"].is_null());
    let status = &served["components"]["schemas"]["MinerStatus"];
    for field in ["stale_seconds", "idle_seconds", "tips"] {
        assert!(status["properties"][field].is_object(), "{field}");
        assert!(
            status["required"]
                .as_array()
                .unwrap()
                .contains(&json!(field)),
            "{field}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile neighbours: the token, the Host allowlist, JSON that is not an object.

/// `POST /mine`, `/miner/start` (which would redirect the rewards) and `/miner/stop` without
/// the token, with a wrong one, or as a cross-site form post (`text/plain`, no token, as a
/// web page sends it) are refused: no block mined, the miner neither started nor stopped.
#[tokio::test]
async fn mining_needs_the_token() {
    let stack = spawn_stack(false).await;
    let thief = json!({ "address": address(66) }).to_string();
    let attempts = |path: &str| {
        let url = format!("{}{path}", stack.miner);
        [
            (
                stack
                    .http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(thief.clone()),
                "missing_token",
            ),
            (
                stack
                    .http
                    .post(&url)
                    .bearer_auth("not-the-token-0123456789abcdef")
                    .header("content-type", "application/json")
                    .body(thief.clone()),
                "invalid_token",
            ),
            (
                stack
                    .http
                    .post(&url)
                    .header("content-type", "text/plain")
                    .header("origin", "http://evil.example")
                    .body(thief.clone()),
                "missing_token",
            ),
        ]
    };
    for path in [paths::miner::MINE, paths::miner::START] {
        for (attempt, code) in attempts(path) {
            assert_error(
                attempt.send().await.unwrap(),
                StatusCode::UNAUTHORIZED,
                code,
            )
            .await;
        }
    }
    assert!(!stack.status().await.running);
    assert_eq!(stack.chain().await.height, 0);

    // Running with the owner's address, it cannot be stopped without the token.
    let response = stack
        .post(paths::miner::START, json!({ "address": address(9) }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    for (attempt, code) in attempts(paths::miner::STOP) {
        assert_error(
            attempt.send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            code,
        )
        .await;
    }
    let status = stack.status().await;
    assert!(status.running);
    assert_eq!(status.address, Some(address(9)));
    assert_eq!(
        stack.post(paths::miner::STOP, json!(null)).await.status(),
        StatusCode::OK
    );
}

/// A page whose name was rebound to 127.0.0.1 neither reads the miner nor starts it: 421.
#[tokio::test]
async fn a_foreign_host_is_misdirected() {
    let stack = spawn_stack(false).await;
    let port = stack.miner.rsplit(':').next().unwrap().to_owned();
    let read = stack
        .http
        .get(format!("{}{}", stack.miner, paths::miner::MINER))
        .header("host", format!("evil.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_error(read, StatusCode::MISDIRECTED_REQUEST, "misdirected_host").await;
    let write = stack
        .http
        .post(format!("{}{}", stack.miner, paths::miner::MINE))
        .header("host", format!("evil.example:{port}"))
        .bearer_auth(TOKEN)
        .json(&json!({ "address": address(66) }))
        .send()
        .await
        .unwrap();
    assert_error(write, StatusCode::MISDIRECTED_REQUEST, "misdirected_host").await;
    assert_eq!(stack.chain().await.height, 0);
    assert!(!stack.status().await.running);
}

/// `["address"]` would fill a `MineRequest`; the body must be an object.
#[tokio::test]
async fn mine_bodies_that_are_not_objects_are_refused() {
    let stack = spawn_stack(false).await;
    for path in [paths::miner::MINE, paths::miner::START] {
        for body in [json!([address(66)]), json!([]), json!("x"), json!(null)] {
            assert_error(
                stack.post(path, body).await,
                StatusCode::BAD_REQUEST,
                "invalid_body",
            )
            .await;
        }
    }
    assert_eq!(stack.chain().await.height, 0);
    assert!(!stack.status().await.running);
}
