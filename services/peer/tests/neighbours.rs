//! Hostile neighbours: real peer services on loopback, beside tiny HTTP servers that play a
//! slow or lying peer. The book stays bounded and keeps its configured peers; a header cannot
//! add a peer that does not answer; a peer that stalls or lies is penalised while sync from an
//! honest peer goes on at its own pace.

use mycoin_api::paths;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use mycoin_api::peer::{
    BlockStatus, BlockTemplate, ChainInfo, PeerSource, PeerView, SubmitBlockResponse, decode_hex,
    encode_hex,
};
use mycoin_core::validation::check_proof_of_work;
use mycoin_core::{Address, Block, BlockHash, Network, PrivateKey};
use mycoin_peer::configuration::{MAX_LEARNT_PEERS, MAX_PEERS, SyncTimeouts};
use mycoin_peer::{Application, Settings};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const NETWORK: Network = Network::Regtest;
const TOKEN: &str = "neighbours-test-token-0123456789ab";

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A peer service under test, on its own port and SQLite file.
struct Node {
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Short timeouts, so that a stall shows within a test.
fn short_timeouts() -> SyncTimeouts {
    SyncTimeouts {
        chain: Duration::from_millis(1500),
        batch: Duration::from_millis(1500),
    }
}

async fn spawn_node(peers: Vec<String>) -> Node {
    try_spawn_node(peers).await.expect("the service starts")
}

async fn try_spawn_node(peers: Vec<String>) -> std::io::Result<Node> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/peer.sqlite", dir.path().display());
    let mut settings = Settings::new(NETWORK, "127.0.0.1", 0, url);
    settings.server = settings
        .server
        .with_api_token(mycoin_web::ApiToken::new(TOKEN).unwrap());
    settings.peers = peers;
    settings.sync_interval = Duration::from_millis(100);
    settings.sync_timeouts = short_timeouts();
    let app = Application::build(settings).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Ok(Node {
        base,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        _dir: dir,
    })
}

impl Node {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> T {
        ok(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    async fn add_peer(&self, url: &str) -> reqwest::Response {
        self.http
            .post(self.url(paths::peer::PEERS))
            .bearer_auth(TOKEN)
            .json(&json!({ "url": url }))
            .send()
            .await
            .unwrap()
    }

    async fn peers(&self) -> Vec<PeerView> {
        self.get(paths::peer::PEERS).await
    }

    async fn peer(&self, url: &str) -> Option<PeerView> {
        self.peers().await.into_iter().find(|p| p.url == url)
    }

    async fn height(&self) -> u32 {
        self.get::<ChainInfo>(paths::peer::CHAIN).await.height
    }

    /// A solved block on this node's tip, not submitted.
    async fn solved_block(&self) -> Block {
        let template: BlockTemplate = self
            .get(&format!("{}?address={}", paths::peer::TEMPLATE, miner()))
            .await;
        let mut block: Block = decode_hex(&template.hex).unwrap();
        solve(&mut block);
        block
    }

    /// Submits `block`, naming `sender` in `X-Mycoin-Peer` when given.
    async fn submit(&self, block: &Block, sender: Option<&str>) -> SubmitBlockResponse {
        let mut request = self
            .http
            .post(self.url(paths::peer::BLOCKS))
            .json(&json!({ "hex": encode_hex(block) }));
        if let Some(sender) = sender {
            request = request.header("X-Mycoin-Peer", sender);
        }
        ok(request.send().await.unwrap()).await
    }

    async fn mine(&self) {
        let block = self.solved_block().await;
        assert_eq!(self.submit(&block, None).await.status, BlockStatus::NewTip);
    }
}

async fn ok<T: DeserializeOwned>(response: reqwest::Response) -> T {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"))
}

fn miner() -> Address {
    let key = PrivateKey::from_bytes(&[0x33; 32]).unwrap();
    Address::new(NETWORK, key.public_key().pubkey_hash())
}

fn solve(block: &mut Block) {
    let params = NETWORK.params();
    while check_proof_of_work(block, &params).is_err() {
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
}

/// Waits up to `limit` for `check` to hold, polling.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    loop {
        if check().await {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A URL on loopback where nothing listens (port 1), made unique by its path prefix.
fn dead_url(name: &str) -> String {
    format!("http://127.0.0.1:1/{name}")
}

/// How a fake peer behaves.
#[derive(Debug, Clone, Copy)]
enum Fake {
    /// `GET /chain` answers after this long.
    SlowChain(Duration),
    /// `GET /chain` claims huge work at once; `POST /sync` answers after this long.
    SlowSync(Duration),
    /// `GET /chain` claims huge work; `POST /sync` answers no blocks.
    EmptyTip,
    /// `GET /chain` claims huge work; `POST /sync` answers a JSON object that is no list.
    Garbage,
}

/// A chain of this network claiming far more work than any test mines.
fn boastful_chain() -> Value {
    let genesis = NETWORK.params().genesis_hash();
    json!({
        "network": NETWORK.name(),
        "genesis": genesis.to_string(),
        "height": 1_000_000,
        "tip": BlockHash([0x5a; 32]).to_string(),
        "total_work": "999999999999999999999999",
        "mempool_size": 0,
        "orphans": 0,
    })
}

async fn fake_chain(fake: web::Data<Fake>) -> HttpResponse {
    if let Fake::SlowChain(delay) = **fake {
        tokio::time::sleep(delay).await;
    }
    HttpResponse::Ok().json(boastful_chain())
}

async fn fake_sync(fake: web::Data<Fake>) -> HttpResponse {
    match **fake {
        Fake::SlowSync(delay) => {
            tokio::time::sleep(delay).await;
            HttpResponse::Ok().json(json!([]))
        }
        Fake::EmptyTip | Fake::SlowChain(_) => HttpResponse::Ok().json(json!([])),
        Fake::Garbage => HttpResponse::Ok().json(json!({ "blocks": "none, sorry" })),
    }
}

/// Starts a tiny HTTP server that plays `fake`; returns its base URL.
fn spawn_fake(fake: Fake) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(web::Data::new(fake))
            .route(paths::peer::CHAIN, web::get().to(fake_chain))
            .route(paths::peer::SYNC, web::post().to(fake_sync))
            .route(
                paths::peer::BLOCKS,
                web::post().to(|| async { HttpResponse::Ok().json(json!({})) }),
            )
            .route(
                paths::peer::TRANSACTIONS,
                web::post().to(|| async { HttpResponse::Ok().json(json!({})) }),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// Mines `blocks` blocks on `honest`, one at a time, and checks after each that `node`
/// follows within `lag`.
async fn follows(node: &Node, honest: &Node, blocks: usize, lag: Duration) {
    for _ in 0..blocks {
        honest.mine().await;
        let target = honest.height().await;
        assert!(
            eventually(lag, || async { node.height().await >= target }).await,
            "the node did not reach height {target} within {lag:?} (at {})",
            node.height().await
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The book

/// More configured peers than the book holds: the service refuses to start, and says why.
#[tokio::test]
async fn more_configured_peers_than_the_book_holds_refuse_to_start() {
    let peers: Vec<String> = (0..=MAX_PEERS)
        .map(|i| dead_url(&format!("c{i}")))
        .collect();
    let err = try_spawn_node(peers).await.err().expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("65 peers are configured"), "{err}");
}

/// A book full of configured peers refuses junk with 409 `peer_book_full`, and keeps every
/// configured peer, failing as they are.
#[tokio::test]
async fn a_book_full_of_configured_peers_refuses_junk() {
    let peers: Vec<String> = (0..MAX_PEERS).map(|i| dead_url(&format!("c{i}"))).collect();
    let node = spawn_node(peers.clone()).await;
    let response = node.add_peer(&dead_url("junk")).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "peer_book_full", "{body}");
    // They fail (nothing listens) and back off, but stay.
    assert!(
        eventually(Duration::from_secs(5), || async {
            node.peers().await.iter().all(|p| p.failures > 0)
        })
        .await
    );
    let listed = node.peers().await;
    assert_eq!(listed.len(), MAX_PEERS);
    assert!(listed.iter().all(|p| p.source == PeerSource::Configured));
    assert!(listed.iter().all(|p| p.retry_at.is_some()));
    assert!(
        listed.iter().all(|p| p.penalty == 0),
        "refused connections are no offence"
    );
}

/// Learnt peers are capped: junk from `POST /peers` fills the learnt half, a real peer named
/// by a relayed block's header evicts failing junk, and the node then syncs from it.
#[tokio::test]
async fn learnt_junk_is_evicted_for_a_real_peer() {
    let honest = spawn_node(Vec::new()).await;
    for _ in 0..3 {
        honest.mine().await;
    }
    let node = spawn_node(vec![dead_url("configured")]).await;
    for i in 0..MAX_LEARNT_PEERS {
        let response = node.add_peer(&dead_url(&format!("junk{i}"))).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(node.peers().await.len(), MAX_LEARNT_PEERS + 1);
    // Once the junk has failed, a block from the honest node names it.
    assert!(
        eventually(Duration::from_secs(5), || async {
            node.peers().await.iter().all(|p| p.failures > 0)
        })
        .await
    );
    let tip = honest.solved_block().await;
    let answer = node.submit(&tip, Some(&honest.base)).await;
    assert_eq!(answer.status, BlockStatus::Orphan);
    assert!(
        eventually(Duration::from_secs(5), || async {
            node.peer(&honest.base).await.is_some()
        })
        .await,
        "the real peer was not learnt"
    );
    let peers = node.peers().await;
    assert_eq!(peers.len(), MAX_LEARNT_PEERS + 1, "the book stays bounded");
    assert!(peers.iter().any(|p| p.url == dead_url("configured")));
    let learnt = node.peer(&honest.base).await.unwrap();
    assert_eq!(learnt.source, PeerSource::Learnt);
    // And the node syncs from it: the orphan connects.
    assert!(
        eventually(Duration::from_secs(5), || async {
            node.height().await == 4
        })
        .await
    );
    // The operator may still add a peer: the oldest or most failing junk goes.
    let response = node.add_peer(&dead_url("operator")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(node.peers().await.len(), MAX_LEARNT_PEERS + 1);
    assert!(
        node.peer(&honest.base).await.is_some(),
        "a peer that behaves stays"
    );
}

/// An orphan block whose header names a node that does not answer adds nothing, nor does a
/// node of another kind (a server that answers `GET /chain` with nonsense).
#[tokio::test]
async fn a_header_naming_a_peer_that_does_not_answer_adds_nothing() {
    let node = spawn_node(Vec::new()).await;
    node.mine().await;
    let mut orphan = node.solved_block().await;
    orphan.header.prev_hash = BlockHash([0x42; 32]);
    solve(&mut orphan);
    let silent = dead_url("silent");
    let slow = spawn_fake(Fake::SlowChain(Duration::from_secs(30)));
    for sender in [&silent, &slow] {
        let answer = node.submit(&orphan, Some(sender)).await;
        assert_eq!(answer.status, BlockStatus::Orphan);
    }
    // Time for the checks to end (the slow one times out).
    tokio::time::sleep(short_timeouts().chain + Duration::from_millis(700)).await;
    let peers = node.peers().await;
    assert!(peers.is_empty(), "{peers:?}");
}

// ---------------------------------------------------------------------------------------------
// Sync

/// A peer that stalls on `GET /chain` or on `POST /sync` is penalised for a stall, while the
/// node keeps up with an honest peer, block after block: no round waits for the staller.
#[tokio::test]
async fn a_stalling_peer_is_penalised_while_sync_goes_on() {
    let honest = spawn_node(Vec::new()).await;
    let slow_chain = spawn_fake(Fake::SlowChain(Duration::from_secs(60)));
    let slow_sync = spawn_fake(Fake::SlowSync(Duration::from_secs(60)));
    let node = spawn_node(vec![
        slow_chain.clone(),
        slow_sync.clone(),
        honest.base.clone(),
    ])
    .await;
    // Each block reaches the node well within one stall timeout.
    follows(&node, &honest, 8, Duration::from_millis(1200)).await;
    for url in [&slow_chain, &slow_sync] {
        assert!(
            eventually(Duration::from_secs(5), || async {
                node.peer(url).await.unwrap().last_offence.as_deref() == Some("stall")
            })
            .await,
            "{url} was not penalised for a stall: {:?}",
            node.peer(url).await
        );
        let view = node.peer(url).await.unwrap();
        assert!(view.penalty >= 20, "{view:?}");
        assert!(view.failures >= 1, "{view:?}");
    }
    follows(&node, &honest, 3, Duration::from_millis(1200)).await;
    let honest_view = node.peer(&honest.base).await.unwrap();
    assert_eq!(
        (
            honest_view.penalty,
            honest_view.failures,
            honest_view.last_offence
        ),
        (0, 0, None)
    );
}

/// A peer that claims huge work and serves no blocks (a false tip), or garbage (a bad
/// answer), is penalised while sync from the honest peer goes on.
#[tokio::test]
async fn a_lying_peer_is_penalised_while_sync_goes_on() {
    let honest = spawn_node(Vec::new()).await;
    let empty = spawn_fake(Fake::EmptyTip);
    let garbage = spawn_fake(Fake::Garbage);
    let node = spawn_node(vec![empty.clone(), garbage.clone(), honest.base.clone()]).await;
    follows(&node, &honest, 6, Duration::from_millis(1200)).await;
    for (url, offence) in [(&empty, "false_tip"), (&garbage, "bad_answer")] {
        assert!(
            eventually(Duration::from_secs(5), || async {
                node.peer(url).await.unwrap().last_offence.as_deref() == Some(offence)
            })
            .await,
            "{url} was not penalised for {offence}: {:?}",
            node.peer(url).await
        );
        assert!(node.peer(url).await.unwrap().penalty > 0);
    }
    follows(&node, &honest, 3, Duration::from_millis(1200)).await;
    let honest_view = node.peer(&honest.base).await.unwrap();
    assert_eq!((honest_view.penalty, honest_view.last_offence), (0, None));
}

/// Two honest peers serving the same chain: whichever gives the blocks first, the other is
/// never penalised for a false tip.
#[tokio::test]
async fn two_honest_peers_of_one_chain_are_never_penalised() {
    let first = spawn_node(Vec::new()).await;
    let second = spawn_node(vec![first.base.clone()]).await;
    let node = spawn_node(vec![first.base.clone(), second.base.clone()]).await;
    for _ in 0..10 {
        first.mine().await;
        let target = first.height().await;
        assert!(
            eventually(Duration::from_secs(3), || async {
                second.height().await >= target && node.height().await >= target
            })
            .await
        );
    }
    // A few more rounds with both.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for view in node.peers().await {
        assert_eq!(
            (view.penalty, view.last_offence.clone()),
            (0, None),
            "{view:?}"
        );
    }
}
