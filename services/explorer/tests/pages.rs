//! The explorer over a real peer service, seen from a plain HTTP client (the pages read without
//! JavaScript): each page in both languages, the language chosen by `Accept-Language`, the
//! switch and its cookie, everything from a peer escaped, the search, the live relay of the
//! peer's events, and bad input answered 4xx. The keys, wallet and miner services are absent
//! here: the pages that show them say so (the browser test runs them all, in `mycoind`).

use std::time::Duration;

use mycoin_api::client::PeerClient;
use mycoin_api::events::SseDecoder;
use mycoin_api::paths;
use mycoin_api::peer::{BlockStatus, decode_hex};
use mycoin_core::validation::check_proof_of_work;
use mycoin_core::{
    Address, Amount, Block, BlockHash, Network, OutPoint, PrivateKey, Signature, Transaction, TxIn,
    TxOut,
};

const NETWORK: Network = Network::Regtest;
const TOKEN: &str = "explorer-test-token-0123456789abcdef";

struct Stack {
    peer: PeerClient,
    peer_url: String,
    explorer: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start() -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/peer.sqlite", dir.path().display());
    let mut settings = mycoin_peer::Settings::new(NETWORK, "127.0.0.1", 0, url);
    settings.server = settings
        .server
        .with_api_token(mycoin_web::ApiToken::new(TOKEN).unwrap());
    let peer = mycoin_peer::build(settings).await.unwrap();
    let peer_url = format!("http://127.0.0.1:{}", peer.port());
    tokio::spawn(peer.run_until_stopped());
    let explorer_url = start_explorer(&peer_url).await;
    let rest = mycoin_api::client::RestClient::new(&peer_url, Duration::from_secs(10))
        .unwrap()
        .with_token(mycoin_web::ApiToken::new(TOKEN).unwrap());
    Stack {
        peer: PeerClient::new(rest),
        peer_url,
        explorer: explorer_url,
        http: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _dir: dir,
    }
}

/// Starts an explorer of the peer at `peer_url` (the other services absent); its URL.
async fn start_explorer(peer_url: &str) -> String {
    let absent = "http://127.0.0.1:9";
    let explorer = mycoin_explorer::build(mycoin_explorer::Settings::new(
        NETWORK, 0, peer_url, absent, absent, absent,
    ))
    .await
    .unwrap();
    let explorer_url = format!("http://127.0.0.1:{}", explorer.port());
    tokio::spawn(explorer.run_until_stopped());
    explorer_url
}

fn key(i: u8) -> PrivateKey {
    let mut bytes = [0x44u8; 32];
    bytes[31] = i + 1;
    PrivateKey::from_bytes(&bytes).unwrap()
}

fn address(i: u8) -> Address {
    Address::new(NETWORK, key(i).public_key().pubkey_hash())
}

impl Stack {
    async fn mine(&self, to: &Address) -> Block {
        let template = self.peer.template(to).await.unwrap();
        let mut block: Block = decode_hex(&template.hex).unwrap();
        while check_proof_of_work(&block, &NETWORK.params()).is_err() {
            block.header.nonce = block.header.nonce.wrapping_add(1);
        }
        let answer = self.peer.submit_block(&block).await.unwrap();
        assert_eq!(answer.status, BlockStatus::NewTip);
        block
    }

    /// `GET path` with these headers: status, `Set-Cookie`, body.
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, Option<String>, String) {
        let mut request = self.http.get(format!("{}{path}", self.explorer));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let cookie = response
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned());
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        (status, cookie.or(location), body)
    }

    /// Mines a block at `height` on `parent`, off the tip.
    async fn mine_on(&self, parent: BlockHash, height: u32, to: &Address) -> Block {
        let template = self.peer.template(to).await.unwrap();
        let mut block: Block = decode_hex(&template.hex).unwrap();
        block.header.prev_hash = parent;
        let outputs = block.transactions[0].outputs.clone();
        block.transactions[0] = Transaction::coinbase(height, 7, outputs);
        block.header.merkle_root = block.compute_merkle_root().0;
        while check_proof_of_work(&block, &NETWORK.params()).is_err() {
            block.header.nonce = block.header.nonce.wrapping_add(1);
        }
        self.peer.submit_block(&block).await.unwrap();
        block
    }

    async fn page(&self, path: &str) -> String {
        let (status, _, body) = self.get(path, &[]).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.starts_with("<!DOCTYPE html>"), "{path}");
        body
    }
}

#[tokio::test]
async fn every_page_reads_without_javascript_in_both_languages() {
    let stack = start().await;
    let first = stack.mine(&address(0)).await;
    stack.mine(&address(1)).await;
    let hash = first.block_hash();
    let coinbase = first.transactions[0].txid();
    let pages = [
        paths::explorer::RACE.to_owned(),
        paths::explorer::block(&hash),
        paths::explorer::transaction(&coinbase),
        paths::explorer::address(&address(0)),
        paths::explorer::MEMPOOL.to_owned(),
        paths::explorer::PEERS.to_owned(),
        paths::explorer::CHART.to_owned(),
    ];
    for (lang, word) in [("en", "Mempool"), ("ja", "メモリプール")] {
        for page in &pages {
            let body = stack.page(&format!("{page}?lang={lang}")).await;
            assert!(body.contains(&format!("<html lang=\"{lang}\">")), "{page}");
            assert!(body.contains(word), "{page} in {lang}");
            // The switch to the other language, on every page.
            let other = if lang == "en" { "ja" } else { "en" };
            assert!(body.contains(&format!("id=\"lang-{other}\"")), "{page}");
        }
    }
    // What each page is about is in its HTML.
    let race = stack.page(paths::explorer::RACE).await;
    assert!(race.contains(&hash.to_string()) && race.contains("id=\"fork-tree\""));
    let block = stack.page(&paths::explorer::block(&hash)).await;
    for field in ["prev_hash", "merkle_root", "bits", "target", "nonce"] {
        assert!(block.contains(field), "{field}");
    }
    assert!(block.contains("hash ≤ target: valid proof of work"));
    assert!(block.contains("id=\"merkle-tree\""));
    let tx = stack.page(&paths::explorer::transaction(&coinbase)).await;
    assert!(tx.contains("new coins (block reward)"));
    assert!(tx.contains("The root matches the block header"), "{tx}");
    let chart = stack.page(paths::explorer::CHART).await;
    assert!(chart.contains("<svg"), "plotters drew the chart");
    let addr = stack.page(&paths::explorer::address(&address(0))).await;
    assert!(addr.contains(&coinbase.to_string()));
}

#[tokio::test]
async fn the_language_comes_from_accept_language_then_the_switch_and_its_cookie() {
    let stack = start().await;
    let lang_of = |body: &str| {
        if body.contains("<html lang=\"ja\">") {
            "ja"
        } else {
            "en"
        }
    };
    for (accept, expected) in [
        ("ja,en;q=0.8", "ja"),
        ("en-US,ja;q=0.5", "en"),
        ("fr", "en"),
        ("ja-JP", "ja"),
    ] {
        let (status, cookie, body) = stack
            .get(paths::explorer::MEMPOOL, &[("accept-language", accept)])
            .await;
        assert_eq!(status, 200);
        assert_eq!(lang_of(&body), expected, "{accept}");
        assert_eq!(cookie, None, "nothing remembered without the switch");
    }
    // The switch wins over the header, and is remembered.
    let (_, cookie, body) = stack
        .get(
            &format!("{}?lang=ja", paths::explorer::MEMPOOL),
            &[("accept-language", "en")],
        )
        .await;
    assert_eq!(lang_of(&body), "ja");
    let cookie = cookie.expect("the choice is remembered");
    assert!(cookie.starts_with("lang=ja;"), "{cookie}");
    let (_, _, body) = stack
        .get(
            paths::explorer::PEERS,
            &[("accept-language", "en"), ("cookie", "lang=ja")],
        )
        .await;
    assert_eq!(lang_of(&body), "ja");
}

#[tokio::test]
async fn a_peer_url_with_markup_shows_as_text() {
    let stack = start().await;
    let hostile = "http://127.0.0.1:9/<script>alert(1)</script>\"'&";
    stack.peer.add_peer(hostile).await.unwrap();
    for page in [paths::explorer::PEERS, paths::explorer::RACE] {
        let body = stack.page(page).await;
        assert!(!body.contains("<script>alert(1)"), "{page}");
        assert!(
            body.contains("http://127.0.0.1:9/&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;"),
            "{page}"
        );
    }
}

#[tokio::test]
async fn search_finds_heights_hashes_txids_and_addresses() {
    let stack = start().await;
    let block = stack.mine(&address(0)).await;
    let hash = block.block_hash();
    let txid = block.transactions[0].txid();
    for (query, expected) in [
        ("1".to_owned(), paths::explorer::block(&hash)),
        (hash.to_string(), paths::explorer::block(&hash)),
        (txid.to_string(), paths::explorer::transaction(&txid)),
        (
            address(3).to_string(),
            paths::explorer::address(&address(3)),
        ),
        (String::new(), paths::explorer::RACE.to_owned()),
    ] {
        let (status, location, _) = stack
            .get(&format!("{}?q={query}", paths::explorer::SEARCH), &[])
            .await;
        assert_eq!(status, 303, "{query}");
        assert_eq!(location.as_deref(), Some(expected.as_str()), "{query}");
    }
    // Nothing found: 404, the query shown as text.
    for query in ["7", "<b>x</b>", &"ab".repeat(32)] {
        let (status, _, body) = stack
            .get(&format!("{}?q={query}", paths::explorer::SEARCH), &[])
            .await;
        assert_eq!(status, 404, "{query}");
        assert!(!body.contains("<b>x</b>"));
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_a_page_and_changes_nothing() {
    let stack = start().await;
    stack.mine(&address(0)).await;
    let before = stack.peer.chain().await.unwrap();
    let unknown = "00".repeat(32);
    for (path, status) in [
        (paths::explorer::block_raw("xyz"), 400),
        (paths::explorer::block_raw(&unknown), 404),
        (paths::explorer::transaction_raw("12"), 400),
        (paths::explorer::transaction_raw(&unknown), 404),
        (paths::explorer::address_raw("notanaddress"), 400),
        (
            format!("{}?after=zz", paths::explorer::address(&address(0))),
            400,
        ),
        (format!("{}?q=a&q=b", paths::explorer::SEARCH), 400),
        ("/no/such/page".to_owned(), 404),
    ] {
        let (got, _, body) = stack.get(&path, &[]).await;
        assert_eq!(got, status, "{path}: {body}");
    }
    let after = stack.peer.chain().await.unwrap();
    assert_eq!((after.tip, after.height), (before.tip, before.height));
}

#[tokio::test]
async fn the_peers_events_are_relayed_to_the_browser() {
    let stack = start().await;
    let mut live = stack
        .http
        .get(format!("{}{}", stack.explorer, paths::explorer::LIVE))
        .send()
        .await
        .unwrap();
    assert_eq!(live.headers()["content-type"], "text/event-stream");
    // The explorer follows the peer's events from its start: mine until one comes through.
    let mut decoder = SseDecoder::default();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no event relayed");
        let block = stack.mine(&address(0)).await;
        while let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_millis(300), live.chunk())
            .await
            .unwrap_or(Ok(None))
        {
            for data in decoder.feed(std::str::from_utf8(&chunk).unwrap()) {
                if data.contains(&block.block_hash().to_string()) {
                    seen.push(data);
                }
            }
            if !seen.is_empty() {
                break;
            }
        }
    }
    assert!(seen[0].contains("\"type\":"), "{seen:?}");
    // The live fragment of the race is the race's own markup, without the frame.
    let fragment = stack.page_fragment().await;
    assert!(fragment.contains("id=\"tip-height\"") && !fragment.contains("<html"));
}

impl Stack {
    async fn page_fragment(&self) -> String {
        let (status, _, body) = self.get(paths::explorer::RACE_LIVE, &[]).await;
        assert_eq!(status, 200);
        body
    }
}

/// The fork tree draws the side branches the peer knows, also those made before the explorer
/// started; a transaction's outputs link to their spenders, in the mempool and in a block.
#[tokio::test]
async fn side_branches_and_spenders_come_from_the_peer() {
    let stack = start().await;
    let first = stack.mine(&address(0)).await;
    let a2 = stack.mine(&address(1)).await.block_hash();
    let rival = stack.mine_on(first.block_hash(), 2, &address(2)).await;
    let a3 = stack.mine(&address(1)).await.block_hash();
    // As much work as the tip, which keeps its place: a side branch of two blocks.
    let rival_on = stack
        .mine_on(rival.block_hash(), 3, &address(2))
        .await
        .block_hash();
    let tips = stack.peer.chain_tips(None).await.unwrap();
    assert_eq!(
        tips.iter()
            .map(|t| (t.hash, t.branchlen))
            .collect::<Vec<_>>(),
        [(a3, 0), (rival_on, 2)]
    );
    // An explorer started after all that.
    let late = start_explorer(&stack.peer_url).await;
    let race = stack
        .http
        .get(format!("{late}{}", paths::explorer::RACE))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let drawn =
        |hash: BlockHash, class: &str| race.contains(&format!("{class}\" data-hash=\"{hash}\""));
    for hash in [a2, a3] {
        assert!(drawn(hash, "active"), "{hash} active: {race}");
    }
    for hash in [rival.block_hash(), rival_on] {
        assert!(drawn(hash, "side"), "{hash} side: {race}");
    }

    // Key 0's coinbase, spent in the mempool, then in a block.
    let coinbase = first.transactions[0].txid();
    let mut spender = Transaction {
        version: 1,
        inputs: vec![TxIn::Spend {
            prevout: OutPoint::new(coinbase, 0),
            public_key: key(0).public_key(),
            signature: Signature([0; 64]),
        }],
        outputs: vec![TxOut {
            amount: Amount::from_units(99_000_000).unwrap(),
            pubkey_hash: address(3).pubkey_hash(),
        }],
    };
    spender.sign_with(|_| Some(key(0)));
    let spender_id = stack.peer.submit_transaction(&spender).await.unwrap().txid;
    let link = format!("href=\"{}\"", paths::explorer::transaction(&spender_id));
    let page = stack
        .page(&format!(
            "{}?lang=en",
            paths::explorer::transaction(&coinbase)
        ))
        .await;
    assert!(page.contains(&link), "{page}");
    assert!(page.contains("spent by a mempool transaction"), "{page}");
    // The spender's own output: unspent.
    let page = stack
        .page(&format!(
            "{}?lang=en",
            paths::explorer::transaction(&spender_id)
        ))
        .await;
    assert!(page.contains("unspent"));
    stack.mine(&address(1)).await;
    let page = stack
        .page(&format!(
            "{}?lang=en",
            paths::explorer::transaction(&coinbase)
        ))
        .await;
    assert!(page.contains(&link), "{page}");
    assert!(!page.contains("spent by a mempool transaction"), "{page}");
}
