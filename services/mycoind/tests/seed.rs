//! Wallet backup and restore on real `mycoind` processes (regtest), on SQLite and PostgreSQL.
//!
//! A node `B` keeps the chain. Stack `A` (peered with `B`) takes its mnemonic once, receives on
//! derived keys with gaps below 20, spends (change goes to the change chain), and its payments
//! are mined. Then `A` stops and its data directory is deleted; a fresh stack restores from the
//! mnemonic after syncing from `B`: balance, unspent keys, unused keys and history are the lost
//! stack's. A coinbase paid to receiving key 28 (21 past the last used key 7) is on the chain but
//! not found (the gap limit, docs/WALLET.md). The mnemonic and the seed appear in no log and in
//! no file of the data directory; a wrong BIP39 passphrase gives another, empty wallet.

use mycoin_api::paths;
use std::path::Path;
use std::time::{Duration, Instant};

use mycoin_core::{Address, Network, PrivateKey};
use mycoin_keys::seed::Phrase;
use serde_json::{Value, json};

mod common;

use common::*;

/// The lost stack's wallet, as compared after the restore.
#[derive(Debug, PartialEq)]
struct Seen {
    balance: Value,
    unspent_keys: Vec<Value>,
    unused_keys: Vec<Value>,
    history: Vec<Value>,
}

async fn seen(stack: &Stack) -> Seen {
    let wallet = stack.get(WALLET, paths::wallet::WALLET).await;
    let sorted = |list: &Value| {
        let mut list = list.as_array().unwrap().clone();
        list.sort_by_key(|entry| entry["address"].as_str().unwrap().to_owned());
        list
    };
    let mut history = stack
        .get(WALLET, paths::wallet::HISTORY)
        .await
        .as_array()
        .unwrap()
        .clone();
    history.sort_by_key(|entry| entry["txid"].as_str().unwrap().to_owned());
    Seen {
        balance: wallet["balance"].clone(),
        unspent_keys: sorted(&wallet["unspent_keys"]),
        unused_keys: sorted(&wallet["unused_keys"]),
        history,
    }
}

/// A request's status and JSON body, whatever the status.
async fn call(
    stack: &Stack,
    service: usize,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: bool,
) -> (u16, Value) {
    let url = stack.url(service, path);
    let mut request = match method {
        "GET" => stack.client.get(url),
        _ => stack.client.post(url),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    if token {
        request = request.bearer_auth(&stack.token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A POST with the token that must fail with `status` and error code `code`; returns the body.
async fn refused(
    stack: &Stack,
    service: usize,
    path: &str,
    body: Value,
    status: u16,
    code: &str,
) -> Value {
    let (got, answer) = call(stack, service, "POST", path, Some(body), true).await;
    assert_eq!(
        (got, answer["error"].as_str()),
        (status, Some(code)),
        "{path}: {answer}"
    );
    answer
}

async fn wait_for_tip(stack: &Stack, height: u32, hash: &str) {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let chain = stack.chain().await;
        if chain.height == height && chain.tip.to_string() == hash {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no sync to {height} {hash}: at {chain:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn external_address() -> String {
    let key = PrivateKey::generate();
    Address::new(Network::Regtest, key.public_key().pubkey_hash()).to_string()
}

/// Every byte of every file under `dir`.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

async fn start(extra: &[String], peers: &[String]) -> Stack {
    Stack::start_with("regtest", SYNC_MS, free_ports(), peers, extra.to_vec()).await
}

async fn backup_and_restore(database: impl Fn() -> Vec<String>) {
    let node = start(&database(), &[]).await;
    let peers = [node.peer_url()];
    let mut lost = start(&database(), &peers).await;

    // The mnemonic, shown once.
    let shown = lost.post(KEYS, paths::keys::MNEMONIC, json!({})).await;
    let mnemonic = shown["mnemonic"].as_str().unwrap().to_owned();
    assert_eq!(mnemonic.split(' ').count(), 24, "{}", shown["language"]);
    let (status, again) = call(&lost, KEYS, "POST", paths::keys::MNEMONIC, None, true).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (410, Some("mnemonic_gone"))
    );

    // Receiving keys 0 to 7; paid: 0 and 3 (coinbases), 7 (a payment); 1, 2, 4, 5, 6 stay unused.
    let mut receive = Vec::new();
    for _ in 0..8 {
        receive.push(lost.new_address().await);
    }
    let derived = lost
        .get(
            KEYS,
            &format!("{}?chain=receive&from=0&count=8", paths::keys::DERIVED),
        )
        .await;
    assert_eq!(
        derived["addresses"],
        json!(receive),
        "POST /keys hands out indexes 0, 1, …"
    );
    let other = external_address();
    lost.mine(&receive[0]).await;
    lost.mine(&receive[3]).await;
    let paid_out = lost
        .post(
            WALLET,
            paths::wallet::SEND,
            json!({ "to": other, "amount": 30_000_000, "fee": 1_000 }),
        )
        .await;
    lost.mine(&other).await;
    let to_self = lost
        .post(
            WALLET,
            paths::wallet::SEND,
            json!({ "to": receive[7], "amount": 20_000_000, "fee": 1_000 }),
        )
        .await;
    // The change went to the change chain, indexes 0 and 1.
    let change = lost
        .get(
            KEYS,
            &format!("{}?chain=change&from=0&count=2", paths::keys::DERIVED),
        )
        .await;
    assert_eq!(
        json!([paid_out["change_address"], to_self["change_address"]]),
        change["addresses"]
    );
    // Beyond the gap: receiving key 28, never handed out, paid by a coinbase.
    let beyond = lost
        .get(
            KEYS,
            &format!("{}?chain=receive&from=28&count=1", paths::keys::DERIVED),
        )
        .await;
    let beyond = beyond["addresses"][0].as_str().unwrap().to_owned();
    lost.mine(&beyond).await;
    let tip = lost.mine(&other).await;
    let (height, hash) = (
        tip["height"].as_u64().unwrap() as u32,
        tip["hash"].as_str().unwrap().to_owned(),
    );
    wait_for_tip(&node, height, &hash).await;
    assert!(lost.mempool_txids().await.is_empty());
    let before = seen(&lost).await;
    assert_eq!(before.unused_keys.len(), 5, "{before:?}");
    assert!(
        before.balance["confirmed"].as_u64().unwrap() > 0,
        "{before:?}"
    );

    // Lost: stop, delete the data directory. No log line, no file held the secrets.
    lost.stop();
    let phrase = Phrase::parse(&mnemonic).unwrap();
    let seed = phrase.to_seed("");
    let entropy = phrase.entropy();
    let log = lost.log();
    assert!(
        log.contains("made a new wallet seed"),
        "the log was captured"
    );
    let words: Vec<&str> = mnemonic.split(' ').collect();
    for secret in [
        mnemonic.clone(),
        words[..3].join(" "),
        words[21..].join(" "),
        hex::encode(seed.expose_secret()),
        hex::encode(&*entropy),
    ] {
        assert!(!log.contains(&secret), "a secret was logged");
    }
    for (file, bytes) in files_under(&lost.data_path()) {
        for secret in [
            mnemonic.as_bytes(),
            &seed.expose_secret()[..],
            &entropy[..],
            hex::encode(seed.expose_secret()).as_bytes(),
        ] {
            assert!(!contains(&bytes, secret), "a secret in plain in {file}");
        }
    }
    std::fs::remove_dir_all(lost.data_path()).unwrap();
    drop(lost);

    // A fresh stack, synced from the node, restores from the mnemonic.
    let restored = start(&database(), &peers).await;
    wait_for_tip(&restored, height, &hash).await;
    let found = restored
        .post(
            WALLET,
            paths::wallet::RESTORE,
            json!({ "mnemonic": mnemonic }),
        )
        .await;
    assert_eq!(
        found,
        json!({ "receive_keys": 8, "change_keys": 2, "gap_limit": 20 })
    );
    assert_eq!(seen(&restored).await, before);
    let keys = restored.get_public(KEYS, paths::keys::KEYS).await;
    assert!(
        !keys.to_string().contains(&beyond),
        "key 28 is beyond the gap: not found"
    );
    let at_beyond = restored
        .get_public(PEER, &paths::peer::address_raw(&beyond))
        .await;
    assert!(at_beyond["chain_stats"]["funded_txo_sum"].as_u64().unwrap() > 0);
    // The next receiving key is one past the last used; restoring twice is refused.
    assert_eq!(
        restored.get_public(KEYS, paths::keys::SEED).await["next_receive"],
        8
    );
    let again = json!({ "mnemonic": mnemonic });
    refused(
        &restored,
        WALLET,
        paths::wallet::RESTORE,
        again,
        409,
        "wallet_not_empty",
    )
    .await;
    assert!(
        !restored.log().contains(&mnemonic),
        "the restore's mnemonic was logged"
    );

    // The same words with another BIP39 passphrase: another wallet, empty.
    let stranger = start(&database(), &peers).await;
    wait_for_tip(&stranger, height, &hash).await;
    let found = stranger
        .post(
            WALLET,
            paths::wallet::RESTORE,
            json!({ "mnemonic": mnemonic, "passphrase": "wrong" }),
        )
        .await;
    assert_eq!(
        found,
        json!({ "receive_keys": 0, "change_keys": 0, "gap_limit": 20 })
    );
    let empty = seen(&stranger).await;
    assert_eq!(
        empty.balance,
        json!({ "confirmed": 0, "pending": 0, "immature": 0 })
    );
    assert!(empty.unspent_keys.is_empty() && empty.history.is_empty());
    assert_ne!(stranger.new_address().await, receive[0]);
}

#[tokio::test]
async fn backup_and_restore_on_sqlite() {
    backup_and_restore(Vec::new).await;
}

#[tokio::test]
async fn backup_and_restore_on_postgres() {
    let Ok(admin) = std::env::var("MYCOIN_TEST_DATABASE_URL") else {
        eprintln!(
            "skipped: MYCOIN_TEST_DATABASE_URL is not set (the README's test command sets it)"
        );
        return;
    };
    sqlx::any::install_default_drivers();
    let admin = std::sync::Arc::new(admin);
    let counter = std::sync::atomic::AtomicU32::new(0);
    let urls: Vec<String> = {
        let mut urls = Vec::new();
        for _ in 0..4 {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            urls.push(
                fresh_database(&admin, &format!("mycoind_seed_{}_{n}", std::process::id())).await,
            );
        }
        urls
    };
    let next = std::sync::Mutex::new(urls.into_iter());
    backup_and_restore(|| {
        let url = next.lock().unwrap().next().expect("a database per stack");
        vec!["--database-url".to_owned(), url]
    })
    .await;
}

/// Bad input to the seed's endpoints: a clear 4xx, nothing changed.
#[tokio::test]
async fn the_seed_endpoints_refuse_bad_input() {
    let stack = start(&[], &[]).await;
    for (service, path, body) in [
        (KEYS, paths::keys::MNEMONIC, json!({})),
        (KEYS, paths::keys::RESTORE, json!({ "mnemonic": "abandon" })),
        (
            KEYS,
            paths::keys::STORE_UP_TO,
            json!({ "chain": "receive", "next": 1 }),
        ),
        (KEYS, paths::keys::CHANGE, json!({})),
        (
            WALLET,
            paths::wallet::RESTORE,
            json!({ "mnemonic": "abandon" }),
        ),
    ] {
        let (status, _) = call(&stack, service, "POST", path, Some(body), false).await;
        assert_eq!(status, 401, "{path} without the token");
    }
    let path = &format!("{}?chain=receive", paths::keys::DERIVED);
    assert_eq!(call(&stack, KEYS, "GET", path, None, false).await.0, 401);

    let abandon = ["abandon"; 11].join(" ");
    let typo = format!("{abandon} secretword");
    let bad_checksum = format!("{abandon} abandon");
    for (service, path) in [
        (KEYS, paths::keys::RESTORE),
        (WALLET, paths::wallet::RESTORE),
    ] {
        let body = refused(
            &stack,
            service,
            path,
            json!({ "mnemonic": typo }),
            400,
            "invalid_mnemonic",
        )
        .await;
        assert!(
            !body.to_string().contains("secretword"),
            "the words are not repeated"
        );
        let body = json!({ "mnemonic": bad_checksum });
        refused(&stack, service, path, body, 400, "invalid_mnemonic").await;
        let (status, _) = call(
            &stack,
            service,
            "POST",
            path,
            Some(json!({ "words": typo })),
            true,
        )
        .await;
        assert_eq!(status, 400, "{path}: unknown field");
    }
    for query in [
        "chain=sideways",
        "chain=receive&count=0",
        "chain=receive&count=101",
        "chain=receive&from=-1",
        "from=0",
    ] {
        let path = format!("{}?{query}", paths::keys::DERIVED);
        let (status, body) = call(&stack, KEYS, "GET", &path, None, true).await;
        assert_eq!(status, 400, "{query}: {body}");
    }
    for body in [
        json!({ "chain": "sideways", "next": 1 }),
        json!({ "chain": "receive", "next": 2_147_483_648u64 }),
        json!({ "chain": "receive" }),
    ] {
        let (status, _) = call(
            &stack,
            KEYS,
            "POST",
            paths::keys::STORE_UP_TO,
            Some(body.clone()),
            true,
        )
        .await;
        assert_eq!(status, 400, "{body}");
    }
    // Nothing changed: no key, the mnemonic still there to be shown.
    assert_eq!(
        stack.get_public(KEYS, paths::keys::SEED).await,
        json!({ "next_receive": 0, "next_change": 0, "mnemonic_available": true })
    );
    assert_eq!(stack.get_public(KEYS, paths::keys::KEYS).await, json!([]));

    // A store holding a key, even only an imported one, is not restored into.
    let wif = PrivateKey::generate().to_wif(Network::Regtest);
    stack
        .post(KEYS, paths::keys::IMPORT, json!({ "wif": wif }))
        .await;
    let valid = json!({ "mnemonic": format!("{abandon} about") });
    for (service, path) in [
        (KEYS, paths::keys::RESTORE),
        (WALLET, paths::wallet::RESTORE),
    ] {
        refused(
            &stack,
            service,
            path,
            valid.clone(),
            409,
            "wallet_not_empty",
        )
        .await;
    }
    // The imported key keeps working beside the derived ones.
    let derived = stack.new_address().await;
    assert_eq!(
        stack
            .get_public(KEYS, paths::keys::KEYS)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        stack
            .get(
                KEYS,
                &format!("{}?chain=receive&count=1", paths::keys::DERIVED)
            )
            .await["addresses"][0],
        derived
    );
}
