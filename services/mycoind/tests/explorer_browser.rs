//! The explorer in a real headless Chromium (Debian's `chromium`, driven over WebDriver by
//! Debian's `chromedriver`), over two real `mycoind` processes on regtest.
//!
//! Chromium is required: without it this test fails, saying how to install it
//! (`scripts/test.sh` installs `chromium` and `chromium-driver` on a fresh machine). Set
//! `MYCOIN_CHROMEDRIVER` to use another chromedriver, `MYCOIN_CHROMIUM` another browser.
//!
//! The same test takes the screenshots of the README: with `MYCOIN_UPDATE_SCREENSHOTS=1` it
//! writes them to `docs/img/` (else to a temporary directory, so that they are taken anyway).

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{PEER, Stack, WALLET, free_ports};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use mycoin_api::paths;
use mycoin_api::peer::encode_hex;
use mycoin_core::{
    Address, Amount, Network, OutPoint, PrivateKey, Signature, Transaction, TxIn, TxOut, Txid,
};
use serde_json::json;

/// How long a live update may take to show: the issue's bound.
const LIVE: Duration = Duration::from_secs(2);
/// How long the nodes may take to agree, or a page to settle.
const SETTLE: Duration = Duration::from_secs(60);
/// Spends of one address before and after the spend the transaction page must find: more than
/// the ten the explorer once searched.
const OTHER_SPENDS: usize = 11;

/// A chromedriver process and a headless Chromium session on it.
struct Browser {
    driver: Child,
    client: Client,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The first of `candidates` that exists.
fn find(variable: &str, candidates: &[&str]) -> Option<String> {
    if let Ok(path) = std::env::var(variable) {
        return Some(path);
    }
    candidates
        .iter()
        .find(|path| std::path::Path::new(path).exists())
        .map(|path| (*path).to_owned())
}

async fn browser() -> Browser {
    let chromedriver = find(
        "MYCOIN_CHROMEDRIVER",
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
    )
    .expect(
        "chromedriver not found: install Debian's chromium and chromium-driver \
         (apt-get install chromium chromium-driver; scripts/test.sh does) or set MYCOIN_CHROMEDRIVER",
    );
    let chromium = find(
        "MYCOIN_CHROMIUM",
        &["/usr/bin/chromium", "/usr/lib/chromium/chromium"],
    )
    .expect("chromium not found: apt-get install chromium, or set MYCOIN_CHROMIUM");
    let port = free_port();
    let driver = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1100", "--no-first-run", "--disable-extensions",
                "--lang=en-US"
            ]
        }),
    );
    capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + SETTLE;
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => break client,
            Err(err) => {
                assert!(Instant::now() < deadline, "no WebDriver session: {err}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    Browser { driver, client }
}

/// chromedriver's log of the page's console (`goog:loggingPrefs`): its entries since the last
/// call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

impl Browser {
    /// The console's errors since the last call.
    async fn console_errors(&self) -> Vec<String> {
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("the browser log");
        log.as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Opens `url` and checks it loaded in `lang` with no console error.
    async fn open(&self, url: &str, lang: &str) {
        self.client.goto(url).await.unwrap();
        let html_lang = self
            .client
            .execute("return document.documentElement.lang;", vec![])
            .await
            .unwrap();
        assert_eq!(html_lang, json!(lang), "{url}");
        // Let the live script connect and refresh once, where there is one.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let errors = self.console_errors().await;
        assert!(errors.is_empty(), "{url}: console errors {errors:?}");
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("{css}: {err}"))
            .text()
            .await
            .unwrap()
    }

    /// Waits up to `within` for `check` to hold of the page's `css` element's text.
    async fn wait_text(&self, css: &str, within: Duration, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && check(&text)
            {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} did not change as expected within {within:?}: {:?}",
                self.text(css).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to `within` for an element matching `css`.
    async fn wait_for(&self, css: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while self.client.find(Locator::Css(css)).await.is_err() {
            assert!(Instant::now() < deadline, "no {css} within {within:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn screenshot(&self, name: &str, dir: &std::path::Path) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

/// Where the screenshots go: `docs/img/` when asked to update them.
fn screenshot_dir() -> (std::path::PathBuf, Option<tempfile::TempDir>) {
    if std::env::var_os("MYCOIN_UPDATE_SCREENSHOTS").is_some() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/img");
        std::fs::create_dir_all(&dir).unwrap();
        (dir, None)
    } else {
        let dir = tempfile::tempdir().unwrap();
        (dir.path().to_owned(), Some(dir))
    }
}

async fn wait_explorer(stack: &Stack, explorer: &str) {
    let deadline = Instant::now() + SETTLE;
    while !stack
        .client
        .get(format!("{explorer}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            Instant::now() < deadline,
            "explorer not healthy: {}",
            stack.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn height(stack: &Stack) -> u32 {
    stack.chain().await.height
}

/// A transaction spending output 0 of `coin` (1 coin, `key`'s) to `to`, signed.
fn spend_coinbase(coin: Txid, key: &PrivateKey, to: &Address) -> Transaction {
    let mut tx = Transaction {
        version: 1,
        inputs: vec![TxIn::Spend {
            prevout: OutPoint::new(coin, 0),
            public_key: key.public_key(),
            signature: Signature([0; 64]),
        }],
        outputs: vec![TxOut {
            amount: Amount::from_units(99_000_000).unwrap(),
            pubkey_hash: to.pubkey_hash(),
        }],
    };
    tx.sign_with(|_| Some(key.clone()));
    tx
}

/// Submits `txs` to user 1's peer, then mines them.
async fn confirm(stack: &Stack, txs: &[Transaction], mine_to: &str) {
    for tx in txs {
        stack
            .post(
                PEER,
                paths::peer::TRANSACTIONS,
                json!({ "hex": encode_hex(tx) }),
            )
            .await;
    }
    stack.mine(mine_to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_in_a_real_browser() {
    let (one_port, two_port) = (free_port(), free_port());
    let mut one = Stack::start_with_explorer("regtest", free_ports(), one_port, &[]).await;
    let two = Stack::start_with_explorer("regtest", free_ports(), two_port, &[]).await;
    let explorer = format!("http://127.0.0.1:{one_port}");
    wait_explorer(&one, &explorer).await;
    wait_explorer(&two, &format!("http://127.0.0.1:{two_port}")).await;
    let browser = browser().await;
    let (shots, _keep) = screenshot_dir();

    // User 1's chain: two blocks, then a payment waiting in the mempool, then a block with it.
    let mine_to = one.new_address().await;
    one.mine(&mine_to).await;
    one.mine(&mine_to).await;
    let payee = one.new_address().await;
    let sent = one
        .post(
            WALLET,
            paths::wallet::SEND,
            json!({ "to": payee, "amount": 30_000_000u64, "fee": 2_000u64 }),
        )
        .await;
    let payment = sent["txid"].as_str().unwrap().to_owned();
    let mempool_page = format!("{explorer}{}", paths::explorer::MEMPOOL);
    browser.open(&format!("{mempool_page}?lang=en"), "en").await;
    assert!(
        browser.text("main").await.contains(&payment),
        "the payment waits"
    );
    let mined = one.mine(&mine_to).await;
    let block_hash = mined["hash"].as_str().unwrap().to_owned();
    let coinbase = mined["block"]["transactions"][0]["txid"]
        .as_str()
        .unwrap()
        .to_owned();

    // A peer whose URL is markup: it must show as text.
    let hostile = "http://127.0.0.1:9/<script>window.__pwned=1</script><b>bold</b>";
    one.post(PEER, paths::peer::PEERS, json!({ "url": hostile }))
        .await;

    // Every page, in both languages, loads with no console error.
    let pages = [
        paths::explorer::RACE.to_owned(),
        paths::explorer::block_raw(&block_hash),
        paths::explorer::transaction_raw(&payment),
        paths::explorer::transaction_raw(&coinbase),
        paths::explorer::address_raw(&payee),
        paths::explorer::MEMPOOL.to_owned(),
        paths::explorer::PEERS.to_owned(),
        paths::explorer::CHART.to_owned(),
    ];
    for lang in ["ja", "en"] {
        for page in &pages {
            browser
                .open(&format!("{explorer}{page}?lang={lang}"), lang)
                .await;
        }
        // The switch on every page leads to the other language.
        let other = if lang == "ja" { "en" } else { "ja" };
        browser
            .client
            .find(Locator::Css(&format!("#lang-{other}")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let switched = browser
            .client
            .execute("return document.documentElement.lang;", vec![])
            .await
            .unwrap();
        assert_eq!(switched, json!(other));
    }

    // The peer's URL shows as text, and its script never ran.
    browser
        .open(
            &format!("{explorer}{}?lang=en", paths::explorer::PEERS),
            "en",
        )
        .await;
    assert_eq!(browser.text("#peers td.url").await, hostile);
    let pwned = browser
        .client
        .execute(
            "return window.__pwned === undefined && !document.querySelector('#peers b');",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(pwned, json!(true), "the peer's markup stayed text");

    // The block page: every header field explained, the proof of work, the Merkle tree.
    browser
        .open(
            &format!(
                "{explorer}{}?lang=en",
                paths::explorer::block_raw(&block_hash)
            ),
            "en",
        )
        .await;
    for field in [
        "version",
        "prev_hash",
        "merkle_root",
        "time",
        "bits",
        "target",
        "nonce",
    ] {
        assert!(
            browser.text("table.fields").await.contains(field),
            "{field}"
        );
    }
    assert!(browser.text("#pow").await.contains("valid proof of work"));
    browser.wait_for("#merkle-tree g.root", SETTLE).await;
    browser.screenshot("block-en", &shots).await;
    browser
        .open(
            &format!(
                "{explorer}{}?lang=ja",
                paths::explorer::block_raw(&block_hash)
            ),
            "ja",
        )
        .await;
    browser.screenshot("block-ja", &shots).await;

    // The transaction page: each input's verdict, the Merkle proof up to the header's root.
    for lang in ["en", "ja"] {
        browser
            .open(
                &format!(
                    "{explorer}{}?lang={lang}",
                    paths::explorer::transaction_raw(&payment)
                ),
                lang,
            )
            .await;
        assert!(browser.text("#inputs td.verdict").await.starts_with('✓'));
        assert!(browser.text("#proof").await.contains('✓'));
        browser
            .screenshot(&format!("transaction-{lang}"), &shots)
            .await;
    }

    // Without JavaScript the pages read the same (only the live updates are gone): the HTML
    // the server sends already holds the block, the transaction and, below, the race.
    let http = one.client.clone();
    let plain = |path: String| {
        let client = http.clone();
        let url = format!("{explorer}{path}?lang=en");
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let block = plain(paths::explorer::block_raw(&block_hash)).await;
    assert!(block.contains("id=\"merkle-tree\"") && block.contains("valid proof of work"));
    let tx = plain(paths::explorer::transaction_raw(&payment)).await;
    assert!(tx.contains("signature valid") && tx.contains("The root matches"));

    // Search: by height, by block hash, a transaction and an address.
    let search = |q: &str| format!("{explorer}{}?q={q}", paths::explorer::SEARCH);
    for (query, expected) in [
        ("3".to_owned(), paths::explorer::block_raw(&block_hash)),
        (block_hash.clone(), paths::explorer::block_raw(&block_hash)),
        (payment.clone(), paths::explorer::transaction_raw(&payment)),
        (payee.clone(), paths::explorer::address_raw(&payee)),
    ] {
        browser.client.goto(&search(&query)).await.unwrap();
        let url = browser.client.current_url().await.unwrap();
        assert_eq!(url.path(), expected, "search {query}");
    }
    // The search box itself, as a reader uses it.
    browser.open(&format!("{explorer}/?lang=en"), "en").await;
    let input = browser
        .client
        .find(Locator::Css("form.search input[name=q]"))
        .await
        .unwrap();
    input.send_keys(&payee).await.unwrap();
    browser
        .client
        .find(Locator::Css("form.search button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for("#address", SETTLE).await;
    assert_eq!(browser.text("#address").await, payee);

    // "Spent by", exactly, however far down the address's history: key K's first coinbase is
    // spent after more than ten other spends of K, and more than ten follow.
    let k = PrivateKey::from_bytes(&[0x5a; 32]).unwrap();
    let k_address = Address::new(Network::Regtest, k.public_key().pubkey_hash());
    let mut coinbases = Vec::new();
    for _ in 0..=2 * OTHER_SPENDS {
        let mined = one.mine(&k_address.to_string()).await;
        let txid = mined["block"]["transactions"][0]["txid"].as_str().unwrap();
        coinbases.push(txid.parse::<Txid>().unwrap());
    }
    let elsewhere: Address = mine_to.parse().unwrap();
    let funded = coinbases[0];
    let spends = |coins: &[Txid]| -> Vec<Transaction> {
        coins
            .iter()
            .map(|coin| spend_coinbase(*coin, &k, &elsewhere))
            .collect()
    };
    one.mine(&mine_to).await;
    confirm(&one, &spends(&coinbases[1..=OTHER_SPENDS]), &mine_to).await;
    let spender = spend_coinbase(funded, &k, &elsewhere);
    confirm(&one, std::slice::from_ref(&spender), &mine_to).await;
    confirm(&one, &spends(&coinbases[OTHER_SPENDS + 1..]), &mine_to).await;
    let spender_page = paths::explorer::transaction(&spender.txid());
    browser
        .open(
            &format!(
                "{explorer}{}?lang=en",
                paths::explorer::transaction(&funded)
            ),
            "en",
        )
        .await;
    let link = browser
        .client
        .find(Locator::Css("#outputs a.spent-by"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(link.as_deref(), Some(spender_page.as_str()));
    let funded_html = plain(paths::explorer::transaction(&funded)).await;
    assert!(
        funded_html.contains(&format!("href=\"{spender_page}\"")),
        "the link is in the HTML, without JavaScript"
    );

    // The race: a block mined over REST appears without a reload.
    browser.open(&format!("{explorer}/?lang=en"), "en").await;
    browser
        .wait_text("#live-status", SETTLE, |s| s == "live")
        .await;
    browser
        .client
        .execute("window.__notReloaded = true;", vec![])
        .await
        .unwrap();
    let before = height(&one).await;
    let new_tip = one.mine(&mine_to).await["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    browser
        .wait_text("#tip-height", LIVE, |text| text == (before + 1).to_string())
        .await;
    assert!(browser.text("#tip-hash").await.contains(&new_tip));
    let kept = browser
        .client
        .execute("return window.__notReloaded === true;", vec![])
        .await
        .unwrap();
    assert_eq!(kept, json!(true), "no reload");

    // A reorganisation by the second user: user 2 mines a longer chain of its own, then user 1
    // learns of it; user 1's blocks above the fork lose and are marked so on the tree.
    let their_to = two.new_address().await;
    let target = height(&one).await + 2;
    while height(&two).await < target {
        two.mine(&their_to).await;
    }
    one.post(PEER, paths::peer::PEERS, json!({ "url": two.peer_url() }))
        .await;
    let losing = format!("#fork-tree g.block.side[data-hash='{new_tip}']");
    browser.wait_for(&losing, SETTLE).await;
    let their_tip = two.chain().await.tip.to_string();
    browser
        .wait_text("#tip-hash", SETTLE, |text| text.contains(&their_tip))
        .await;
    let kept = browser
        .client
        .execute("return window.__notReloaded === true;", vec![])
        .await
        .unwrap();
    assert_eq!(
        kept,
        json!(true),
        "the reorganisation redrew the tree without a reload"
    );
    assert!(browser.text("#peer-tips").await.contains(&two.peer_url()));
    assert!(browser.console_errors().await.is_empty());
    browser.screenshot("race-en", &shots).await;
    browser.open(&format!("{explorer}/?lang=ja"), "ja").await;
    browser.wait_for(&losing, SETTLE).await;
    browser.screenshot("race-ja", &shots).await;
    let race = plain(paths::explorer::RACE.to_owned()).await;
    assert!(race.contains(&their_tip) && race.contains("id=\"fork-tree\""));
    assert!(
        race.contains(&format!("data-hash=\"{new_tip}\"")),
        "the losing block"
    );

    // A side branch made before the explorer started is drawn too (the tree asks the peer for
    // the block tree's tips): user 1's stack, explorer included, starts again.
    // (Away from the race first: its live stream would break when the explorer stops.)
    browser.client.goto("about:blank").await.unwrap();
    assert!(browser.console_errors().await.is_empty());
    one.stop();
    one.spawn(&[two.peer_url()]).await;
    wait_explorer(&one, &explorer).await;
    browser.open(&format!("{explorer}/?lang=en"), "en").await;
    browser.wait_for(&losing, SETTLE).await;
    let race = plain(paths::explorer::RACE.to_owned()).await;
    assert!(
        race.contains(&format!("data-hash=\"{new_tip}\"")),
        "the losing block, after a restart"
    );

    browser.client.clone().close().await.unwrap();
}
