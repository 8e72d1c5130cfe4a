//! Two and three real `mycoind` processes on loopback, syncing and gossiping over REST: user1
//! mines and pays user2; a node joining late syncs hundreds of blocks; a partition heals onto
//! the branch with more work; a node of another network is refused; a peer serving garbage is
//! penalised and changes nothing.

mod common;

use mycoin_api::paths;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use mycoin_api::peer::{BlockView, ChainInfo};
use mycoin_core::{Block, BlockAccepted, Chain, MemoryStore, Network, PubKeyHash};
use mycoin_miner::search::{NONCE_SPACE, Outcome, Target, default_threads, search};
use serde_json::{Value, json};
use std::sync::atomic::AtomicBool;

use common::*;

/// Whether the stacks come to hold one tip within `limit`.
async fn agree_within(stacks: &[&Stack], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let mut tips = Vec::new();
        for stack in stacks {
            tips.push(stack.chain().await.tip);
        }
        if tips.iter().all(|tip| *tip == tips[0]) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Waits until every stack has the same tip as the first; returns that chain.
async fn converge(stacks: &[&Stack]) -> ChainInfo {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let mut chains = Vec::new();
        for stack in stacks {
            chains.push(stack.chain().await);
        }
        if chains.iter().all(|c| c.tip == chains[0].tip) {
            return chains.swap_remove(0);
        }
        assert!(
            Instant::now() < deadline,
            "no convergence: {:?}",
            chains
                .iter()
                .map(|c| (c.height, c.tip.to_string()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `done` holds of the stack's peer state for `url`.
async fn wait_peer(stack: &Stack, url: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let state = stack.peer_state(url).await;
        if done(&state) {
            return state;
        }
        assert!(Instant::now() < deadline, "peer state never right: {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_mempool(stack: &Stack, txid: &str) {
    let deadline = Instant::now() + CONVERGE;
    while !stack.mempool_txids().await.iter().any(|t| t == txid) {
        assert!(
            Instant::now() < deadline,
            "{txid} never reached the mempool"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user1_mines_and_pays_user2_who_follows() {
    let (ports1, ports2) = (free_ports(), free_ports());
    let user1 = Stack::start("regtest", ports1, &[peer_url(&ports2)]).await;
    let user2 = Stack::start("regtest", ports2, &[peer_url(&ports1)]).await;

    let miner1 = user1.new_address().await;
    let mut last = Value::Null;
    for _ in 0..3 {
        last = user1.mine(&miner1).await;
    }
    assert_eq!(last["height"], 3);
    let chain = converge(&[&user1, &user2]).await;
    assert_eq!(chain.height, 3);
    assert_eq!(chain.tip.to_string(), last["hash"].as_str().unwrap());

    // user1 pays user2: the transaction is gossiped to user2's mempool.
    let to = user2.new_address().await;
    let amount = 70_000_000u64;
    let sent = user1
        .post(
            WALLET,
            paths::wallet::SEND,
            json!({ "to": to, "amount": amount, "fee": 1_000 }),
        )
        .await;
    let txid = sent["txid"].as_str().unwrap().to_owned();
    wait_mempool(&user2, &txid).await;

    // The next block confirms it on both; user2's wallet shows the coins.
    let mined = user1.mine(&miner1).await;
    assert_eq!(mined["height"], 4);
    let chain = converge(&[&user1, &user2]).await;
    assert_eq!(chain.height, 4);
    let deadline = Instant::now() + CONVERGE;
    loop {
        let wallet = user2.get(WALLET, paths::wallet::WALLET).await;
        if wallet["balance"]["confirmed"] == amount {
            break;
        }
        assert!(Instant::now() < deadline, "user2's wallet: {wallet}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(user2.mempool_txids().await.is_empty());
    let status = user2
        .get(PEER, &paths::peer::transaction_raw(&txid.to_string()))
        .await;
    assert_eq!(status["status"]["state"], "confirmed");

    // Each knows the other's tip.
    let seen = wait_peer(&user1, &user2.peer_url(), |p| p["height"] == 4).await;
    assert_eq!(seen["penalty"], 0, "{seen}");
    assert!(seen["last_contact"].as_u64().unwrap() > 0);
    assert_eq!(seen["tip"].as_str().unwrap(), chain.tip.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gossiped_block_with_unknown_parent_makes_the_node_fetch_its_ancestors() {
    // B syncs on its own only at start and then once an hour: what follows is gossip.
    let (ports_a, ports_b) = (free_ports(), free_ports());
    let a = Stack::start("regtest", ports_a, &[]).await;
    let b = Stack::start_syncing_every("regtest", "3600000", ports_b, &[peer_url(&ports_a)]).await;
    wait_peer(&b, &a.peer_url(), |p| p["height"] == 0).await;

    // A mines two blocks B does not hear of, then learns of B and mines a third: relayed to B,
    // an orphan there, which makes B sync with A.
    let address = a.new_address().await;
    a.mine(&address).await;
    a.mine(&address).await;
    a.post(PEER, paths::peer::PEERS, json!({ "url": b.peer_url() }))
        .await;
    let third = a.mine(&address).await;
    let chain = converge(&[&a, &b]).await;
    assert_eq!(chain.height, 3);
    assert_eq!(chain.tip.to_string(), third["hash"].as_str().unwrap());
    assert_eq!(b.chain().await.orphans, 0);
    assert!(
        b.log().contains("orphan block: syncing with its sender"),
        "B fetched the ancestors because of the orphan"
    );
    // Then plain gossip: the next block reaches B at once.
    a.mine(&address).await;
    assert_eq!(converge(&[&a, &b]).await.height, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joining_late_syncs_hundreds_of_blocks() {
    let early = Stack::start("regtest", free_ports(), &[]).await;
    let address = early.new_address().await;
    for _ in 0..300 {
        early.mine(&address).await;
    }
    let late = Stack::start("regtest", free_ports(), &[early.peer_url()]).await;
    let chain = converge(&[&early, &late]).await;
    assert_eq!(chain.height, 300);
    assert_eq!(
        late.chain().await.total_work,
        early.chain().await.total_work
    );
    // A third node learns of the late one only, and syncs from it.
    let third = Stack::start("regtest", free_ports(), &[late.peer_url()]).await;
    assert_eq!(converge(&[&early, &late, &third]).await.height, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_heals_onto_the_branch_with_more_work() {
    let (ports_a, ports_b) = (free_ports(), free_ports());
    let mut a = Stack::start("regtest", ports_a, &[peer_url(&ports_b)]).await;
    let mut b = Stack::start("regtest", ports_b, &[peer_url(&ports_a)]).await;

    // A common history: B mines a block to its wallet; A follows.
    let b_miner = b.new_address().await;
    b.mine(&b_miner).await;
    assert_eq!(converge(&[&a, &b]).await.height, 1);

    // Partition: both restart knowing no peer.
    a.stop();
    b.stop();
    a.spawn(&[]).await;
    b.spawn(&[]).await;

    // B pays someone and confirms it on its branch of 2 blocks...
    let payee = a.new_address().await;
    let sent = b
        .post(
            WALLET,
            paths::wallet::SEND,
            json!({ "to": payee, "amount": 30_000_000u64, "fee": 2_000 }),
        )
        .await;
    let txid = sent["txid"].as_str().unwrap().to_owned();
    let b_tip = b.mine(&b_miner).await;
    assert_eq!(b_tip["height"], 2);
    let confirmed = b
        .get(PEER, &paths::peer::transaction_raw(&txid.to_string()))
        .await;
    assert_eq!(confirmed["status"]["state"], "confirmed");
    // ...while A mines a branch of 4 blocks: more work.
    let a_miner = a.new_address().await;
    for _ in 0..3 {
        a.mine(&a_miner).await;
    }
    let a_chain = a.chain().await;
    assert_eq!(a_chain.height, 4);
    assert_ne!(a_chain.tip, b.chain().await.tip);

    // Heal, with only A (more work) learning of B: A announces its tip, B cannot place it,
    // adds A as a peer and syncs with it.
    a.post(PEER, paths::peer::PEERS, json!({ "url": b.peer_url() }))
        .await;
    let chain = converge(&[&a, &b]).await;
    assert_eq!(chain.tip, a_chain.tip, "the branch with more work won");
    assert_eq!(chain.total_work, a_chain.total_work);
    wait_peer(&b, &a.peer_url(), |state| state["tip"].is_string()).await;

    // B's payment left the chain but is still valid: back in B's mempool, and relayed again
    // to A, which never saw it.
    let status = b
        .get(PEER, &paths::peer::transaction_raw(&txid.to_string()))
        .await;
    assert_eq!(status["status"]["state"], "mempool", "{status}");
    assert!(b.mempool_txids().await.contains(&txid));
    wait_mempool(&a, &txid).await;
    // A's next block confirms it on the common chain; every balance agrees.
    a.mine(&a_miner).await;
    let chain = converge(&[&a, &b]).await;
    assert_eq!(chain.height, 5);
    for address in [&payee, &a_miner, &b_miner] {
        let path = paths::peer::balance_raw(&address.to_string());
        assert_eq!(a.get(PEER, &path).await, b.get(PEER, &path).await);
    }
    let paid = a
        .get(PEER, &paths::peer::balance_raw(&payee.to_string()))
        .await;
    assert_eq!(paid["confirmed"], 30_000_000u64, "{paid}");
    // Neither was penalised.
    assert_eq!(a.peer_state(&b.peer_url()).await["penalty"], 0);
    assert_eq!(b.peer_state(&a.peer_url()).await["penalty"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_of_different_networks_refuse_each_other() {
    let (ports_r, ports_d) = (free_ports(), free_ports());
    let regtest = Stack::start("regtest", ports_r, &[peer_url(&ports_d)]).await;
    let demo = Stack::start("demo", ports_d, &[peer_url(&ports_r)]).await;
    let before = regtest.chain().await;
    let demo_before = demo.chain().await;
    assert_ne!(before.genesis, demo_before.genesis);

    let state = wait_peer(&regtest, &demo.peer_url(), |p| p["banned_until"].is_u64()).await;
    assert!(state["penalty"].as_u64().unwrap() >= 100, "{state}");
    assert!(
        state["tip"].is_null(),
        "a refused peer's tip is not recorded"
    );
    wait_peer(&demo, &regtest.peer_url(), |p| p["banned_until"].is_u64()).await;

    // The regtest node mines; the demo node never takes its blocks (nor the reverse).
    let address = regtest.new_address().await;
    regtest.mine(&address).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let after = demo.chain().await;
    assert_eq!(after.tip, demo_before.tip);
    assert_eq!(after.height, 0);
    assert_eq!(regtest.chain().await.genesis, before.genesis);
}

/// What a fake peer serves on `POST /sync`.
#[derive(Clone, Copy)]
enum Garbage {
    /// A block view whose hex is no block.
    Undecodable,
    /// A well-formed block that breaks the rules.
    InvalidBlock,
    /// Nothing, while claiming more work.
    Nothing,
}

/// A fake peer on its own thread: `GET /chain` claims a lot of work on regtest; `POST /sync`
/// serves `garbage`. Returns its URL.
fn fake_peer(garbage: Garbage) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let params = Network::Regtest.params();
    let genesis = params.genesis_block();
    let chain = ChainInfo {
        network: "regtest".into(),
        genesis: params.genesis_hash(),
        height: 1000,
        tip: params.genesis_hash(),
        total_work: "999999999999999".into(),
        mempool_size: 0,
        orphans: 0,
        tip_age_ms: 0,
    };
    // A "block 1" that reuses the genesis coinbase: it breaks the rules.
    let mut bad = Block {
        header: genesis.header,
        transactions: genesis.transactions.clone(),
    };
    bad.header.prev_hash = params.genesis_hash();
    bad.header.time = genesis.header.time + 1;
    let mut view = BlockView::new(&bad, 1, Some(1), Network::Regtest);
    let blocks = match garbage {
        Garbage::Undecodable => {
            view.hex = "00ff00ff".into();
            vec![view]
        }
        Garbage::InvalidBlock => vec![view],
        Garbage::Nothing => vec![],
    };
    let chain = serde_json::to_string(&chain).unwrap();
    let blocks = serde_json::to_string(&blocks).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length.min(1 << 20)];
            let _ = reader.read_exact(&mut body);
            let answer = if first.starts_with("GET /chain ") {
                &chain
            } else if first.starts_with("POST /sync ") {
                &blocks
            } else {
                "{}"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_serving_garbage_are_penalised_and_change_nothing() {
    let fakes = [
        fake_peer(Garbage::Undecodable),
        fake_peer(Garbage::InvalidBlock),
        fake_peer(Garbage::Nothing),
    ];
    let honest = Stack::start("regtest", free_ports(), &fakes).await;
    let address = honest.new_address().await;
    honest.mine(&address).await;
    let before = honest.chain().await;

    for fake in &fakes[..2] {
        let state = wait_peer(&honest, fake, |p| p["banned_until"].is_u64()).await;
        assert!(state["penalty"].as_u64().unwrap() >= 100, "{state}");
    }
    // A false tip costs less each time, and adds up to a ban.
    let state = wait_peer(&honest, &fakes[2], |p| p["banned_until"].is_u64()).await;
    assert!(state["penalty"].as_u64().unwrap() >= 100, "{state}");

    let after = honest.chain().await;
    assert_eq!(after.tip, before.tip);
    assert_eq!(after.height, 1);
    assert_eq!(after.total_work, before.total_work);
    assert_eq!(after.orphans, 0);
    assert!(honest.mempool_txids().await.is_empty());
    // The honest node still works.
    assert_eq!(honest.mine(&address).await["height"], 2);
}

/// The book's mycoind.py race: two users mine at once for a while, then stop. Both hold the
/// same tip, and the coins in both wallets add up to exactly the subsidy of that chain (every
/// block on it was validated by both nodes, and no coin was created or lost in the race).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_race_ends_on_one_tip_holding_exactly_the_subsidy() {
    let ports1 = free_ports();
    let ports2 = free_ports();
    let mining = || vec!["--mine".to_owned()];
    let user1 = Stack::start_with("regtest", SYNC_MS, ports1, &[peer_url(&ports2)], mining()).await;
    let user2 = Stack::start_with("regtest", SYNC_MS, ports2, &[peer_url(&ports1)], mining()).await;
    // Both mine from the start (`mycoind --mine`): wait until each has found blocks.
    let deadline = Instant::now() + CONVERGE;
    for user in [&user1, &user2] {
        loop {
            let status = user.get(MINER, paths::miner::MINER).await;
            assert_eq!(status["running"], true, "{status}");
            if status["blocks_found"].as_u64().unwrap() >= 3 {
                break;
            }
            assert!(Instant::now() < deadline, "{status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for user in [&user1, &user2] {
        let status = user.post(MINER, paths::miner::STOP, json!({})).await;
        assert_eq!(status["running"], false, "{status}");
    }
    // Two blocks of equal work found as the miners stopped keep the nodes split until the
    // next block, as in Bitcoin: then user1 mines it.
    if !agree_within(&[&user1, &user2], Duration::from_secs(10)).await {
        eprintln!("the race ended in a tie: user1 mines the next block");
        let address = user1.new_address().await;
        user1.mine(&address).await;
    }
    let chain = converge(&[&user1, &user2]).await;
    eprintln!("the race ended at height {}", chain.height);
    assert!(chain.height > 0);
    // Regtest: 1 coin a block, halved every 150 blocks.
    let subsidy: u64 = (1..=u64::from(chain.height))
        .map(|h| 100_000_000u64 >> (h / 150))
        .sum();
    let mut total = 0;
    for user in [&user1, &user2] {
        let wallet = user.get(WALLET, paths::wallet::WALLET).await;
        let balance = &wallet["balance"];
        total += balance["confirmed"].as_u64().unwrap()
            + balance["immature"].as_u64().unwrap()
            + balance["pending"].as_u64().unwrap();
    }
    assert_eq!(total, subsidy, "height {}", chain.height);
}

/// Mines `count` demo blocks on `chain` (in this process, with the miner's search on every
/// core), dated `spacing` seconds apart after the tip, and returns them. Close dates raise the
/// difficulty of the next blocks; dates far apart lower it, down to the proof-of-work limit.
async fn mine_demo_branch(
    chain: &mut Chain<MemoryStore>,
    count: usize,
    spacing: u32,
) -> Vec<Block> {
    let mut blocks = Vec::new();
    for i in 0..count {
        let time = chain.tip().header.time + spacing;
        let mut block = chain.block_template(PubKeyHash([7; 20]), time, i as u64);
        let header = block.header;
        let outcome = tokio::task::spawn_blocking(move || {
            let target = Target::from_bits(header.bits).unwrap();
            let stop = AtomicBool::new(false);
            search(&header, target, NONCE_SPACE, default_threads(), &stop, &[])
        })
        .await
        .unwrap();
        let Outcome::Found { nonce, .. } = outcome else {
            panic!("no nonce for block {i}: {outcome:?}");
        };
        block.header.nonce = nonce;
        let accepted = chain.submit_block(block.clone(), time).await.unwrap();
        assert!(
            matches!(accepted, BlockAccepted::NewTip { .. }),
            "{accepted:?}"
        );
        blocks.push(block);
    }
    blocks
}

async fn submit_blocks(stack: &Stack, blocks: &[Block]) {
    for block in blocks {
        let hex = hex::encode(mycoin_core::Encode::to_bytes(block));
        let answer = stack
            .post(PEER, paths::peer::BLOCKS, json!({ "hex": hex }))
            .await;
        assert_eq!(answer["status"], "new_tip", "{answer}");
    }
}

fn work(chain: &ChainInfo) -> u128 {
    chain.total_work.parse().unwrap()
}

/// On the demo network, where the difficulty follows the block dates: a short branch of
/// closely dated (harder) blocks holds more work than a longer branch of blocks dated far
/// apart (easier). Both nodes end on the short one: most work wins, not most blocks.
///
/// The cheapest such pair from demo's genesis (block 1 at the genesis bits, 2^26 hashes): two
/// blocks a second apart (the second four times harder: 5 × 2^26 in all) against three a
/// minute apart (the second and third four times easier: 1.5 × 2^26).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_branch_with_more_work_wins_over_a_longer_one() {
    let (ports_a, ports_b) = (free_ports(), free_ports());
    let a = Stack::start("demo", ports_a, &[]).await;
    let b = Stack::start("demo", ports_b, &[]).await;

    let open = || Chain::open(Network::Demo.params(), MemoryStore::default());
    let (mut short, mut long) = (open().await.unwrap(), open().await.unwrap());
    let heavy = mine_demo_branch(&mut short, 2, 1).await;
    let light = mine_demo_branch(&mut long, 3, 60).await;
    submit_blocks(&a, &heavy).await;
    submit_blocks(&b, &light).await;
    let (a_chain, b_chain) = (a.chain().await, b.chain().await);
    assert!(a_chain.height < b_chain.height, "{a_chain:?} {b_chain:?}");
    assert!(work(&a_chain) > work(&b_chain), "{a_chain:?} {b_chain:?}");

    // Heal: B, on the longer branch, learns of A.
    b.post(PEER, paths::peer::PEERS, json!({ "url": a.peer_url() }))
        .await;
    let chain = converge(&[&a, &b]).await;
    assert_eq!(
        chain.tip, a_chain.tip,
        "the shorter branch with more work won"
    );
    assert_eq!(chain.height, 2);
    assert_eq!(chain.total_work, a_chain.total_work);
    // B keeps the longer branch as a side chain, and did not penalise A.
    let side = b
        .get(PEER, &paths::peer::block_raw(&b_chain.tip.to_string()))
        .await;
    assert_eq!(side["height"], 3, "{side}");
    assert_eq!(side["in_active_chain"], false, "{side}");
    assert_eq!(b.peer_state(&a.peer_url()).await["penalty"], 0);
}
