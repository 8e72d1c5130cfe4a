//! `GET /events` seen from a real HTTP client: each test starts its own peer services on free
//! ports with their own SQLite files, changes their chains over REST and reads the Server-Sent
//! Events they stream, through the typed client.

use std::time::Duration;

use mycoin_api::client::{EventStream, PeerClient};
use mycoin_api::events::PeerEvent;
use mycoin_api::paths;
use mycoin_api::peer::{BlockStatus, decode_hex};
use mycoin_core::validation::check_proof_of_work;
use mycoin_core::{
    Address, Amount, Block, BlockHash, Network, OutPoint, PrivateKey, Signature, Transaction, TxIn,
    TxOut,
};
use mycoin_peer::{Application, Settings};

const NETWORK: Network = Network::Regtest;
/// How long a test waits for an event before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

struct Peer {
    client: PeerClient,
    base: String,
    _dir: tempfile::TempDir,
}

async fn spawn_peer() -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/peer.sqlite", dir.path().display());
    let app = Application::build(Settings::new(NETWORK, "127.0.0.1", 0, url))
        .await
        .expect("the service starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Peer {
        client: PeerClient::connect(base.clone()).unwrap(),
        base,
        _dir: dir,
    }
}

fn key(i: u8) -> PrivateKey {
    let mut bytes = [0x33u8; 32];
    bytes[31] = i.wrapping_add(1);
    PrivateKey::from_bytes(&bytes).unwrap()
}

fn address(i: u8) -> Address {
    Address::new(NETWORK, key(i).public_key().pubkey_hash())
}

impl Peer {
    /// A solved block on the tip paying `to`, not submitted.
    async fn solved_block(&self, to: &Address) -> Block {
        let template = self.client.template(to).await.unwrap();
        let mut block: Block = decode_hex(&template.hex).unwrap();
        let params = NETWORK.params();
        while check_proof_of_work(&block, &params).is_err() {
            block.header.nonce = block.header.nonce.wrapping_add(1);
        }
        block
    }

    /// Mines one block on the tip paying `to`; returns it.
    async fn mine(&self, to: &Address) -> Block {
        let block = self.solved_block(to).await;
        let answer = self.client.submit_block(&block).await.unwrap();
        assert_eq!(answer.status, BlockStatus::NewTip);
        block
    }
}

/// The next event, failing the test after [`PATIENCE`].
async fn next(events: &mut EventStream) -> PeerEvent {
    tokio::time::timeout(PATIENCE, events.next_event())
        .await
        .expect("an event within the patience")
        .expect("the stream goes on")
        .expect("a well-formed event")
}

#[tokio::test]
async fn a_mined_block_is_connected_and_becomes_the_tip() {
    let peer = spawn_peer().await;
    let mut events = peer.client.events(None).await.unwrap();
    let block = peer.mine(&address(0)).await;
    let hash = block.block_hash();
    assert_eq!(
        next(&mut events).await,
        PeerEvent::BlockConnected { hash, height: 1 }
    );
    assert_eq!(
        next(&mut events).await,
        PeerEvent::TipChanged { hash, height: 1 }
    );
    // The same block again changes nothing and says nothing: the next event is the next block.
    peer.client.submit_block(&block).await.unwrap();
    let second = peer.mine(&address(0)).await.block_hash();
    assert_eq!(
        next(&mut events).await,
        PeerEvent::BlockConnected {
            hash: second,
            height: 2
        }
    );
}

#[tokio::test]
async fn a_transaction_accepted_into_the_mempool_is_told() {
    let peer = spawn_peer().await;
    let funding = peer.mine(&address(0)).await;
    peer.mine(&address(9)).await;
    let coin = OutPoint::new(funding.transactions[0].txid(), 0);
    let mut tx = Transaction {
        version: 1,
        inputs: vec![TxIn::Spend {
            prevout: coin,
            public_key: key(0).public_key(),
            signature: Signature([0; 64]),
        }],
        outputs: vec![TxOut {
            amount: Amount::from_units(funding.transactions[0].outputs[0].amount.units() - 1_000)
                .unwrap(),
            pubkey_hash: key(1).public_key().pubkey_hash(),
        }],
    };
    let signer = key(0);
    tx.sign_with(|pk| (*pk == signer.public_key()).then(|| signer.clone()));

    let mut events = peer.client.events(Some(&["tx_accepted"])).await.unwrap();
    let accepted = peer.client.submit_transaction(&tx).await.unwrap();
    assert_eq!(
        next(&mut events).await,
        PeerEvent::TxAccepted {
            txid: accepted.txid,
            fee: 1_000
        }
    );
}

#[tokio::test]
async fn a_reorganisation_gives_its_depth_and_the_blocks_it_moved() {
    let (node, rival) = (spawn_peer().await, spawn_peer().await);
    // The node's branch: two blocks. The rival's, from the same genesis: three.
    let ours = [node.mine(&address(0)).await, node.mine(&address(0)).await];
    let mut theirs = Vec::new();
    for _ in 0..3 {
        theirs.push(rival.mine(&address(1)).await);
    }
    let mut events = node.client.events(None).await.unwrap();

    // The rival's first two blocks have no more work than the node's branch: side blocks.
    for (height, block) in (1..).zip(&theirs[..2]) {
        let answer = node.client.submit_block(block).await.unwrap();
        assert_eq!(answer.status, BlockStatus::SideChain);
        assert_eq!(
            next(&mut events).await,
            PeerEvent::SideBlock {
                hash: block.block_hash(),
                height,
                parent: block.header.prev_hash,
            }
        );
    }
    // The third has more: the node moves over, two blocks deep.
    let answer = node.client.submit_block(&theirs[2]).await.unwrap();
    assert_eq!(answer.status, BlockStatus::NewTip);
    let hashes =
        |blocks: &[Block]| -> Vec<BlockHash> { blocks.iter().map(Block::block_hash).collect() };
    let (ours, theirs) = (hashes(&ours), hashes(&theirs));
    let genesis_fork = 0;
    assert_eq!(
        next(&mut events).await,
        PeerEvent::Reorganisation {
            old_tip: ours[1],
            new_tip: theirs[2],
            fork_height: genesis_fork,
            depth: 2,
        }
    );
    assert_eq!(
        next(&mut events).await,
        PeerEvent::BlockDisconnected {
            hash: ours[1],
            height: 2
        }
    );
    assert_eq!(
        next(&mut events).await,
        PeerEvent::BlockDisconnected {
            hash: ours[0],
            height: 1
        }
    );
    for (height, hash) in (1..).zip(&theirs) {
        assert_eq!(
            next(&mut events).await,
            PeerEvent::BlockConnected {
                hash: *hash,
                height
            }
        );
    }
    assert_eq!(
        next(&mut events).await,
        PeerEvent::TipChanged {
            hash: theirs[2],
            height: 3
        }
    );
}

#[tokio::test]
async fn a_filter_sends_only_the_kinds_asked_for() {
    let peer = spawn_peer().await;
    let mut tips = peer.client.events(Some(&["tip_changed"])).await.unwrap();
    let first = peer.mine(&address(0)).await.block_hash();
    let second = peer.mine(&address(0)).await.block_hash();
    assert_eq!(
        next(&mut tips).await,
        PeerEvent::TipChanged {
            hash: first,
            height: 1
        }
    );
    assert_eq!(
        next(&mut tips).await,
        PeerEvent::TipChanged {
            hash: second,
            height: 2
        }
    );
}

#[tokio::test]
async fn the_stream_is_server_sent_events() {
    let peer = spawn_peer().await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut response = http
        .get(format!("{}{}", peer.base, paths::peer::EVENTS))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let opening = response.chunk().await.unwrap().unwrap();
    assert!(opening.starts_with(b":"), "a comment opens the stream");
    let hash = peer.mine(&address(0)).await.block_hash();
    let mut text = String::new();
    while !text.contains("event: tip_changed") {
        let chunk = tokio::time::timeout(PATIENCE, response.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(text.starts_with("event: block_connected\ndata: {\"type\":\"block_connected\""));
    assert!(text.contains(&format!(
        "event: tip_changed\ndata: {{\"type\":\"tip_changed\",\"hash\":\"{hash}\",\"height\":1}}\n\n"
    )));
}

#[tokio::test]
async fn bad_queries_are_refused_and_change_nothing() {
    let peer = spawn_peer().await;
    let before = peer.client.chain().await.unwrap();
    for kinds in [
        &["tip_moved"][..],
        &["tip_changed", "<script>"][..],
        &[""][..],
    ] {
        let err = peer.client.events(Some(kinds)).await.unwrap_err();
        assert_eq!(err.status(), Some(400), "{kinds:?}");
        let body = err.error_body().expect("the error body");
        assert_eq!(body.error, "invalid_query", "{kinds:?}");
    }
    // A query that is not even a string of kinds.
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = http
        .get(format!(
            "{}{}?types=a&types=b",
            peer.base,
            paths::peer::EVENTS
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let after = peer.client.chain().await.unwrap();
    assert_eq!((after.tip, after.height), (before.tip, before.height));
}
