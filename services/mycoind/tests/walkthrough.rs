//! The book's walkthrough, steps 2–6, against a real `mycoind` process on regtest: three keys;
//! mine to the first (the block holds only the coinbase); send from it to the second; verify the
//! pending transaction; mine again to the third. Then the payment is confirmed, the mempool is
//! empty, and the wallet and the history of each address show exactly what the story implies.
//! No private key (hex or WIF) and no API token appears in anything the process logged.

use mycoin_api::paths;
use std::path::Path;

use mycoin_core::{Network, PrivateKey};
use serde_json::{Value, json};

const COIN: u64 = 100_000_000;

mod common;

use common::*;

fn addresses(list: &Value) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["address"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

async fn walk(stack: &Stack) {
    // Step 2 (key.py): three keys.
    let mut keys = vec![];
    for _ in 0..3 {
        let key = stack.post(KEYS, paths::keys::KEYS, json!({})).await;
        keys.push(key["address"].as_str().unwrap().to_owned());
    }
    let (first, second, third) = (&keys[0], &keys[1], &keys[2]);

    // Step 3 (mine.py): mine to the first key; the block holds only the coinbase.
    let mined = stack
        .post(MINER, paths::miner::MINE, json!({ "address": first }))
        .await;
    assert_eq!(mined["height"], 1);
    let block = stack
        .get_public(
            PEER,
            &paths::peer::block_raw(mined["hash"].as_str().unwrap()),
        )
        .await;
    assert_eq!(block["transactions"].as_array().unwrap().len(), 1);

    // Step 4 (sign.py): send from the first key to the second.
    let amount = 60_000_000u64;
    let fee = 1_000u64;
    let sent = stack
        .post(
            WALLET,
            paths::wallet::SEND,
            json!({ "to": second, "amount": amount, "fee": fee }),
        )
        .await;
    let txid = sent["txid"].as_str().unwrap().to_owned();
    let change = sent["change_address"].as_str().unwrap().to_owned();

    // Step 5 (verify.py): the pending transaction verifies, input by input.
    let pending = stack
        .get_public(PEER, &paths::peer::transaction_raw(&txid.to_string()))
        .await;
    assert_eq!(pending["status"]["state"], "mempool");
    let verdict = stack
        .post(PEER, paths::peer::VERIFY, json!({ "hex": pending["hex"] }))
        .await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert!(
        verdict["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["valid"] == true)
    );
    assert_eq!(
        stack.get_public(PEER, paths::peer::MEMPOOL).await["count"],
        1
    );

    // Step 6 (mine.py, wallet.py): mine again to the third key.
    let mined = stack
        .post(MINER, paths::miner::MINE, json!({ "address": third }))
        .await;
    assert_eq!(mined["height"], 2);
    let confirmed = stack
        .get_public(PEER, &paths::peer::transaction_raw(&txid.to_string()))
        .await;
    assert_eq!(confirmed["status"]["state"], "confirmed");
    assert_eq!(confirmed["status"]["height"], 2);
    assert_eq!(
        stack.get_public(PEER, paths::peer::MEMPOOL).await["count"],
        0
    );

    // The wallet: the first key is spent; the second, the change and the third hold coins.
    let unused = stack
        .post(WALLET, paths::wallet::ADDRESSES, json!({}))
        .await;
    let wallet = stack.get_public(WALLET, paths::wallet::WALLET).await;
    let total = COIN + COIN + fee - fee; // two subsidies; the fee moved to the third key
    assert_eq!(wallet["balance"]["confirmed"], total, "{wallet}");
    assert_eq!(wallet["balance"]["pending"], 0, "{wallet}");
    let mut holding = vec![second.clone(), change.clone(), third.clone()];
    holding.sort();
    assert_eq!(addresses(&wallet["unspent_keys"]), holding, "{wallet}");
    assert_eq!(
        addresses(&wallet["unused_keys"]),
        vec![unused["address"].as_str().unwrap().to_owned()],
        "{wallet}"
    );
    let amount_of = |address: &str| {
        wallet["unspent_keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["address"] == address)
            .map(|k| k["amount"].as_u64().unwrap())
            .unwrap()
    };
    assert_eq!(amount_of(second), amount);
    assert_eq!(amount_of(&change), COIN - amount - fee);
    assert_eq!(amount_of(third), COIN + fee);

    // History (issue 13): each address's, newest first, with what each transaction did to it;
    // the first key's coin was spent, and both still show.
    let coinbase_1 = block["transactions"][0]["txid"]
        .as_str()
        .unwrap()
        .to_owned();
    let block_2 = stack
        .get_public(
            PEER,
            &paths::peer::block_raw(mined["hash"].as_str().unwrap()),
        )
        .await;
    let coinbase_2 = block_2["transactions"][0]["txid"]
        .as_str()
        .unwrap()
        .to_owned();
    let history = |address: String| async move {
        let list = stack
            .get_public(
                PEER,
                &paths::peer::address_transactions_raw(&address.to_string()),
            )
            .await;
        list.as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["txid"].as_str().unwrap().to_owned(),
                    t["status"]["height"].as_u64().unwrap(),
                    t["received"].as_u64().unwrap(),
                    t["sent"].as_u64().unwrap(),
                    t["net"].as_i64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let c = COIN as i64;
    assert_eq!(
        history(first.clone()).await,
        vec![
            (txid.clone(), 2, 0, COIN, -c),
            (coinbase_1.clone(), 1, COIN, 0, c)
        ]
    );
    assert_eq!(
        history(second.clone()).await,
        vec![(txid.clone(), 2, amount, 0, amount as i64)]
    );
    let kept = COIN - amount - fee;
    assert_eq!(
        history(change.clone()).await,
        vec![(txid.clone(), 2, kept, 0, kept as i64)]
    );
    assert_eq!(
        history(third.clone()).await,
        vec![(coinbase_2.clone(), 2, COIN + fee, 0, (COIN + fee) as i64)]
    );
    let stats = stack
        .get_public(PEER, &paths::peer::address_raw(&first.to_string()))
        .await;
    assert_eq!(
        stats["chain_stats"],
        json!({"funded_txo_count": 1, "funded_txo_sum": COIN, "spent_txo_count": 1,
               "spent_txo_sum": COIN, "tx_count": 2}),
        "{stats}"
    );
    // The wallet's: the two coinbases it received and its payment to itself (nothing paid to
    // others, the fee), each proven against the wallet's own header chain.
    let wallet_history = stack.get_public(WALLET, paths::wallet::HISTORY).await;
    let mut entries: Vec<(String, u64, u64, u64, u64, bool)> = wallet_history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["txid"].as_str().unwrap().to_owned(),
                e["height"].as_u64().unwrap(),
                e["received"].as_u64().unwrap(),
                e["sent"].as_u64().unwrap(),
                e["fee"].as_u64().unwrap(),
                e["verified"].as_bool().unwrap(),
            )
        })
        .collect();
    entries.sort();
    let mut expected = vec![
        (coinbase_1, 1, COIN, 0, 0, true),
        (coinbase_2, 2, COIN + fee, 0, 0, true),
        (txid.clone(), 2, 0, 0, fee, true),
    ];
    expected.sort();
    assert_eq!(entries, expected, "{wallet_history}");

    // No secret in the logs: every key's WIF and hex, and the API token.
    let log = stack.log();
    assert!(log.contains("mycoind is up"), "the log was captured");
    let all = stack.get_public(KEYS, paths::keys::KEYS).await;
    for address in addresses(&all) {
        let wif = stack
            .get(KEYS, &paths::keys::wif_raw(&address.to_string()))
            .await;
        let wif = wif["wif"].as_str().unwrap().to_owned();
        let secret = hex::encode(
            PrivateKey::from_wif(&wif, Network::Regtest)
                .unwrap()
                .secret_bytes(),
        );
        assert!(!log.contains(&wif), "a WIF was logged");
        assert!(!log.contains(&secret), "a private key was logged");
        assert!(
            !log.to_lowercase()
                .contains(&secret.to_uppercase().to_lowercase())
        );
    }
    assert!(!log.contains(&stack.token), "the API token was logged");
}

#[tokio::test]
async fn the_book_walkthrough_on_sqlite() {
    let stack = Stack::start_with("regtest", SYNC_MS, free_ports(), &[], Vec::new()).await;
    walk(&stack).await;
    assert!(Path::new(&stack.data_dir.path().join("mycoin.sqlite")).exists());
}

#[tokio::test]
async fn the_book_walkthrough_on_postgres() {
    let Ok(admin) = std::env::var("MYCOIN_TEST_DATABASE_URL") else {
        eprintln!(
            "skipped: MYCOIN_TEST_DATABASE_URL is not set (the README's test command sets it)"
        );
        return;
    };
    let url = fresh_database(&admin, &format!("mycoind_walk_{}", std::process::id())).await;
    let stack = Stack::start_with(
        "regtest",
        SYNC_MS,
        free_ports(),
        &[],
        vec!["--database-url".to_owned(), url],
    )
    .await;
    walk(&stack).await;
    assert!(!Path::new(&stack.data_dir.path().join("mycoin.sqlite")).exists());
}
