//! The book's walkthrough, steps 2 to 8, with the `mycoin` binary against two real `mycoind`
//! stacks on regtest: keys; mine; send; verify; mine; wallet; pay the other user; the race.
//! Each answer is checked in human form and with `--json`; then `mycoin proof` accepts the
//! payment's real proof, and the same check refuses a tampered proof and a header from
//! another chain; and the exit codes tell usage, refusal and an unreachable service apart.

mod common;

use common::*;
use mycoin_api::client::PeerClient;
use mycoin_api::peer::{decode_hex, encode_hex};
use mycoin_cli::proof::{ProofCheckError, check_proof};
use mycoin_core::{Block, Header, MerkleNode, Network, Transaction, TxIn, Txid};

const COIN: u64 = 100_000_000;

fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    run
}

fn new_key(node: &Node) -> String {
    let human = ok(node.mycoin(&["key", "new"]));
    assert!(human.stdout.starts_with("address     "), "{human:?}");
    let json = ok(node.mycoin(&["--json", "key", "new"])).json();
    assert_eq!(json["public_key"].as_str().unwrap().len(), 66);
    json["address"].as_str().unwrap().to_owned()
}

fn height(node: &Node) -> u64 {
    ok(node.mycoin(&["--json", "chain"])).json()["height"]
        .as_u64()
        .unwrap()
}

fn tip(node: &Node) -> String {
    ok(node.mycoin(&["--json", "chain"])).json()["tip"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn headers(node: &Node, up_to: u32) -> Vec<Header> {
    (0..=up_to)
        .map(|h| {
            let block = ok(node.mycoin(&["--json", "block", &h.to_string()])).json();
            decode_hex::<Block>(block["hex"].as_str().unwrap())
                .unwrap()
                .header
        })
        .collect()
}

#[test]
fn the_books_steps_2_to_8_with_mycoin() {
    let one = Node::start();
    let two = Node::start();

    // Before the users meet, user2 mines a block of its own: a chain that is not user1's.
    let other = ok(two.mycoin(&["--json", "mine"])).json();
    assert_eq!(other[0]["height"], 1);
    let other_headers = headers(&two, 1);

    // Step 2 (key.py): three keys; the list shows them.
    let keys: Vec<String> = (0..3).map(|_| new_key(&one)).collect();
    let (first, second, third) = (&keys[0], &keys[1], &keys[2]);
    let list = ok(one.mycoin(&["key", "list"]));
    assert!(list.stdout.starts_with("6 keys\n"), "{list:?}");
    assert!(keys.iter().all(|k| list.stdout.contains(k.as_str())));
    let shown = ok(one.mycoin(&["--json", "key", "show", first])).json();
    assert_eq!(shown["address"], first.as_str());
    // Export and import: the WIF goes to stdout only, and comes back in through stdin.
    let wif = ok(one.mycoin(&["key", "export", first])).stdout;
    let again = run_mycoin(&one.env(), &["--json", "key", "import"], Some(&wif));
    assert_eq!(ok(again).json()["address"], first.as_str());

    // Step 3 (mine.py): a block paying the first key, holding only the coinbase.
    let mined = ok(one.mycoin(&["mine", "--to", first]));
    assert!(
        mined.stdout.starts_with("block 1 ") && mined.stdout.contains("(new_tip) paying"),
        "{mined:?}"
    );
    let block = ok(one.mycoin(&["--json", "block", "1"])).json();
    assert_eq!(block["transactions"].as_array().unwrap().len(), 1);
    let human_block = ok(one.mycoin(&["block", block["hash"].as_str().unwrap()]));
    assert!(
        human_block.stdout.contains("height         1\n"),
        "{human_block:?}"
    );

    // Step 4 (sign.py): 0.6 coin from the wallet to the second key, fee 0.00001.
    let sent = ok(one.mycoin(&["send", second, "0.6", "--fee", "0.00001"]));
    let txid = sent.stdout.lines().next().unwrap()["txid    ".len()..].to_owned();
    assert!(
        sent.stdout.contains(&format!("paid    0.6 to {second}\n")),
        "{sent:?}"
    );
    assert!(sent.stdout.contains("fee     0.00001\n"), "{sent:?}");
    let tx = ok(one.mycoin(&["--json", "tx", &txid])).json();
    assert_eq!(tx["status"]["state"], "mempool");
    let change = tx["transaction"]["outputs"][1]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(tx["transaction"]["outputs"][0]["amount"], 60_000_000);
    assert_eq!(
        tx["transaction"]["outputs"][1]["amount"],
        COIN - 60_000_000 - 1_000
    );

    // Step 5 (verify.py): the pending transaction verifies, by txid and by its hex.
    let verified = ok(one.mycoin(&["verify", &txid]));
    assert!(verified.stdout.contains("valid  yes\n"), "{verified:?}");
    let hex = tx["hex"].as_str().unwrap();
    let verdict = ok(one.mycoin(&["--json", "verify", hex])).json();
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["fee"], 1_000);
    // A byte of the signature changed: invalid, exit code 5.
    let mut forged: Transaction = decode_hex(hex).unwrap();
    if let TxIn::Spend { signature, .. } = &mut forged.inputs[0] {
        signature.0[5] ^= 1;
    }
    let tampered = encode_hex(&forged);
    let refused = one.mycoin(&["verify", &tampered]);
    assert_eq!(refused.code, 5, "{refused:?}");
    assert!(refused.stdout.contains("valid  no: "), "{refused:?}");
    let mempool = ok(one.mycoin(&["mempool"]));
    assert!(mempool.stdout.starts_with("1 transactions"), "{mempool:?}");
    assert!(mempool.stdout.contains(&txid));

    // Step 6 (mine.py): mine again, to the third key; the payment is confirmed.
    let mined = ok(one.mycoin(&["--json", "mine", "--to", third])).json();
    assert_eq!(mined[0]["height"], 2);
    let tx = ok(one.mycoin(&["tx", &txid]));
    assert!(tx.stdout.contains("state          confirmed\n"), "{tx:?}");
    assert_eq!(ok(one.mycoin(&["--json", "mempool"])).json()["count"], 0);

    // The Merkle proof, checked here against headers checked from genesis.
    let proof = ok(one.mycoin(&["proof", &txid]));
    assert!(proof.stdout.contains("(height 2, position 1)"), "{proof:?}");
    assert!(proof.stdout.contains("  level 0  "), "{proof:?}");
    assert!(proof.stdout.ends_with("proof        valid\n"), "{proof:?}");
    let proof = ok(one.mycoin(&["--json", "proof", &txid])).json();
    assert_eq!(proof["headers_checked"], 3);
    assert_eq!(proof["path"][0]["side"], "right");

    // The same check refuses a tampered proof, and a header from another chain.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let peer = PeerClient::connect(one.url(0)).unwrap();
    let id: Txid = txid.parse().unwrap();
    let merkle = runtime.block_on(peer.merkle_proof(&id)).unwrap();
    let tx_hex = runtime.block_on(peer.transaction(&id)).unwrap().hex;
    let chain = headers(&one, 2);
    assert!(check_proof(Network::Regtest, &id, &tx_hex, &merkle, &chain).is_ok());
    let mut forged = merkle.clone();
    forged.merkle[0] = MerkleNode([7; 32]);
    assert!(matches!(
        check_proof(Network::Regtest, &id, &tx_hex, &forged, &chain),
        Err(ProofCheckError::Proof(_))
    ));
    let mut moved = merkle.clone();
    moved.pos = 0;
    assert!(check_proof(Network::Regtest, &id, &tx_hex, &moved, &chain).is_err());
    let mut spliced = chain.clone();
    spliced[1] = other_headers[1];
    let err = check_proof(Network::Regtest, &id, &tx_hex, &merkle, &spliced).unwrap_err();
    assert!(matches!(err, ProofCheckError::Headers { .. }), "{err}");
    let err = check_proof(Network::Regtest, &id, &tx_hex, &merkle, &other_headers).unwrap_err();
    assert!(matches!(err, ProofCheckError::NotInChain { .. }), "{err}");
    let err = check_proof(Network::Demo, &id, &tx_hex, &merkle, &chain).unwrap_err();
    assert!(matches!(err, ProofCheckError::Headers { .. }), "{err}");

    // wallet.py: balance, unspent keys, unused keys.
    let wallet = ok(one.mycoin(&["wallet"]));
    assert!(
        wallet
            .stdout
            .starts_with("balance  2 (pending 0, immature 0)\n"),
        "{wallet:?}"
    );
    assert!(wallet.stdout.contains("unspent keys (3)\n"), "{wallet:?}");
    assert!(
        wallet.stdout.contains(&format!("  {second}  0.6 ")),
        "{wallet:?}"
    );
    let view = ok(one.mycoin(&["--json", "wallet"])).json();
    assert_eq!(view["balance"]["confirmed"], 2 * COIN);
    let amount_of = |address: &str| {
        view["unspent_keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["address"] == address)
            .map(|k| k["amount"].as_u64().unwrap())
    };
    assert_eq!(amount_of(second), Some(60_000_000));
    assert_eq!(amount_of(&change), Some(COIN - 60_000_000 - 1_000));
    assert_eq!(amount_of(third), Some(COIN + 1_000));
    assert_eq!(amount_of(first), None);
    let history = ok(one.mycoin(&["--json", "history", first])).json();
    assert_eq!(history.as_array().unwrap().len(), 2);
    let wallet_history = ok(one.mycoin(&["history"]));
    assert!(wallet_history.stdout.contains(&txid), "{wallet_history:?}");

    // Step 7: the users meet (peer.txt), and user1 pays user2.
    let peers = ok(one.mycoin(&["--json", "peers", "add", &two.url(0)])).json();
    assert!(
        peers
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["url"] == two.url(0))
    );
    ok(two.mycoin(&["peers", "add", &one.url(0)]));
    eventually("user2 takes user1's longer chain", || {
        tip(&two) == tip(&one)
    });
    let payee = ok(two.mycoin(&["--json", "key", "new"])).json()["address"]
        .as_str()
        .unwrap()
        .to_owned();
    let paid = ok(one.mycoin(&["--json", "send", &payee, "50000000u", "--fee-rate", "2"])).json();
    let payment = paid["txid"].as_str().unwrap().to_owned();
    eventually("the payment reaches user2's mempool", || {
        ok(two.mycoin(&["--json", "mempool"])).json()["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["txid"] == payment.as_str())
    });
    ok(one.mycoin(&["mine"]));
    eventually("user2 sees the block", || tip(&two) == tip(&one));
    let theirs = ok(two.mycoin(&["--json", "wallet"])).json();
    assert_eq!(theirs["balance"]["confirmed"], 50_000_000, "{theirs}");
    let theirs = ok(two.mycoin(&["wallet"]));
    assert!(
        theirs.stdout.contains(&format!("  {payee}  0.5 ")),
        "{theirs:?}"
    );

    // Step 8: the race. Both miners run until both chains grew, then stop; the peers agree.
    let start = height(&one);
    let started = ok(one.mycoin(&["miner", "start"]));
    assert!(
        started.stdout.starts_with("running       yes\n"),
        "{started:?}"
    );
    assert_eq!(
        ok(two.mycoin(&["--json", "miner", "start"])).json()["running"],
        true
    );
    eventually("both chains grow", || {
        height(&one) >= start + 4 && height(&two) >= start + 4
    });
    let stopped = ok(one.mycoin(&["miner", "stop"]));
    assert!(
        stopped.stdout.starts_with("running       no\n"),
        "{stopped:?}"
    );
    assert_eq!(
        ok(two.mycoin(&["--json", "miner", "stop"])).json()["running"],
        false
    );
    // Two chains of the same height stay apart (each peer keeps the tip it saw first): the
    // next block settles it, as in the book.
    eventually("both peers hold the same tip", || {
        tip(&one) == tip(&two) || {
            ok(one.mycoin(&["mine"]));
            false
        }
    });
    let found: u64 = [&one, &two]
        .iter()
        .map(|n| {
            ok(n.mycoin(&["--json", "miner", "status"])).json()["blocks_found"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert!(found >= 4, "{found}");
}

#[test]
fn errors_are_one_line_with_an_exit_code_per_kind() {
    let node = Node::start();
    // Usage: a bad amount, a bad address, an unknown flag (clap's own code, 2).
    let key = ok(node.mycoin(&["--json", "key", "new"])).json()["address"]
        .as_str()
        .unwrap()
        .to_owned();
    for (args, says) in [
        (vec!["send", key.as_str(), "0.123456789"], "8 decimals"),
        (vec!["send", key.as_str(), "-1"], "negative"),
        (vec!["send", key.as_str(), "21000001"], "maximum"),
        (vec!["send", "nowhere", "1"], "not an address"),
        (vec!["block", "xyz"], "neither a height nor a block hash"),
    ] {
        let run = node.mycoin(&args);
        assert_eq!(run.code, 2, "{run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
        assert!(run.stderr.contains(says), "{run:?}");
        assert!(run.stdout.is_empty());
    }
    assert_eq!(node.mycoin(&["--no-such-flag", "chain"]).code, 2);

    // Refused: the wallet has nothing to send; a key the keys service does not hold; no token.
    let run = node.mycoin(&["send", &key, "1"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr
            .starts_with("mycoin: the wallet service refused (HTTP 422 "),
        "{run:?}"
    );
    // A valid regtest address whose key nobody made: the keys service answers 404.
    let stranger = mycoin_core::Address::new(Network::Regtest, mycoin_core::PubKeyHash([7; 20]));
    let run = node.mycoin(&["key", "show", &stranger.to_string()]);
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    let mut env = node.env();
    env.retain(|(name, _)| *name != "MYCOIN_DATA_DIR");
    env.push(("MYCOIN_DATA_DIR", "/nonexistent".into()));
    let run = run_mycoin(&env, &["key", "export", &key], None);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("HTTP 401"), "{run:?}");

    // Unreachable: nothing listens there.
    let mut env = node.env();
    env.push(("MYCOIN_PEER_URL", "http://127.0.0.1:9".into()));
    let run = run_mycoin(&env, &["chain"], None);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains("cannot be reached"), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1);
}

#[test]
fn completions_and_the_man_page_are_generated() {
    let bash = run_mycoin(&[], &["completions", "bash"], None);
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.contains("mycoin") && bash.stdout.contains("proof"));
    let man = run_mycoin(&[], &["man"], None);
    assert_eq!(man.code, 0);
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH mycoin"),
        "{}",
        &man.stdout[..200.min(man.stdout.len())]
    );
}

/// `mycoin seed` shows the mnemonic once; `mycoin restore` reads it on stdin and restores the
/// wallet in another, empty stack, which then hands out the same first key; a stack that has
/// keys already refuses.
#[test]
fn the_mnemonic_is_shown_once_and_restores_the_wallet_elsewhere() {
    let node = Node::start();
    let shown = ok(node.mycoin(&["--json", "seed"])).json();
    let mnemonic = shown["mnemonic"].as_str().unwrap().to_owned();
    assert_eq!(mnemonic.split_whitespace().count(), 24, "{shown}");
    let again = node.mycoin(&["seed"]);
    assert_eq!(again.code, 3, "{again:?}");
    assert!(again.stderr.contains("HTTP 410"), "{again:?}");
    assert_eq!(again.stderr.lines().count(), 1, "{again:?}");

    // The first receiving key of the seed, handed out by the first stack.
    let first = ok(node.mycoin(&["--json", "key", "new"])).json()["address"].clone();
    let refused = run_mycoin(&node.env(), &["restore"], Some(&mnemonic));
    assert_eq!(refused.code, 3, "{refused:?}");
    assert!(refused.stderr.contains("HTTP 409"), "{refused:?}");

    let other = Node::start();
    let restored = ok(run_mycoin(&other.env(), &["restore"], Some(&mnemonic)));
    assert!(restored.stdout.starts_with("restored  "), "{restored:?}");
    // Nothing was paid, so no key is restored, and the next key is the seed's first.
    let key = ok(other.mycoin(&["--json", "key", "new"])).json()["address"].clone();
    assert_eq!(key, first);
}
