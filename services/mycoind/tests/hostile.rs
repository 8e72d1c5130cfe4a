//! A real `mycoind` under the requests of hostile neighbours (issue 12): a web page posting
//! forms to it, a page whose name was rebound to 127.0.0.1, and other users of the machine
//! reading its files.

mod common;

use common::*;
use mycoin_api::paths;
use serde_json::{Value, json};

/// Every request that changes state or spends resources, with a body that would succeed.
fn state_changes(key: &str) -> Vec<(usize, String, Value)> {
    vec![
        (KEYS, paths::keys::KEYS.to_owned(), json!({})),
        (
            KEYS,
            paths::keys::IMPORT.to_owned(),
            json!({ "wif": "not checked before the token" }),
        ),
        (
            KEYS,
            paths::keys::sign_raw(key),
            json!({ "digest": "00".repeat(32) }),
        ),
        (WALLET, paths::wallet::ADDRESSES.to_owned(), json!({})),
        (
            WALLET,
            paths::wallet::SEND.to_owned(),
            json!({ "to": key, "amount": 1, "fee": 0 }),
        ),
        (
            MINER,
            paths::miner::MINE.to_owned(),
            json!({ "address": key }),
        ),
        (
            MINER,
            paths::miner::START.to_owned(),
            json!({ "address": key }),
        ),
        (MINER, paths::miner::STOP.to_owned(), json!({})),
        (
            PEER,
            paths::peer::PEERS.to_owned(),
            json!({ "url": "http://127.0.0.1:9" }),
        ),
    ]
}

/// What a refused request must leave as it was.
async fn state(stack: &Stack) -> Value {
    // Everything but the tip's age, which grows by itself.
    let mut chain = stack.get_public(PEER, paths::peer::CHAIN).await;
    chain["tip_age_ms"] = json!(0);
    json!({
        "keys": stack.get_public(KEYS, paths::keys::KEYS).await,
        "chain": chain,
        "mempool": stack.get_public(PEER, paths::peer::MEMPOOL).await,
        "peers": stack.get_public(PEER, paths::peer::PEERS).await,
        "miner_running": stack.get_public(MINER, paths::miner::MINER).await["running"],
        "wallet": stack.get_public(WALLET, paths::wallet::WALLET).await,
    })
}

async fn status_and_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Without the token, with a wrong one, and as a cross-site form post (`text/plain`, no token,
/// as a web page sends it), each state change is refused with 401 and nothing changes. The
/// peer-to-peer endpoints stay open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_change_needs_the_token() {
    let stack = Stack::start("regtest", free_ports(), &[]).await;
    let key = stack.new_address().await;
    stack.mine(&key).await;
    let before = state(&stack).await;

    for (service, path, body) in state_changes(&key) {
        let url = stack.url(service, &path);
        let attempts = [
            (stack.client.post(&url).json(&body), "missing_token"),
            (
                stack
                    .client
                    .post(&url)
                    .bearer_auth("not-the-token-0123456789abcdef")
                    .json(&body),
                "invalid_token",
            ),
            (
                stack
                    .client
                    .post(&url)
                    .header("content-type", "text/plain")
                    .header("origin", "http://evil.example")
                    .body(body.to_string()),
                "missing_token",
            ),
        ];
        for (attempt, expected) in attempts {
            let (status, code) = status_and_code(attempt.send().await.unwrap()).await;
            assert_eq!((status, code.as_str()), (401, expected), "POST {path}");
        }
    }
    assert_eq!(
        state(&stack).await,
        before,
        "a refused request changed something"
    );

    // The peer-to-peer endpoints judge the body, not the caller.
    for path in [
        paths::peer::BLOCKS,
        paths::peer::TRANSACTIONS,
        paths::peer::VERIFY,
    ] {
        let response = stack
            .client
            .post(stack.url(PEER, path))
            .json(&json!({ "hex": "00" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "POST {path}");
    }
    let response = stack
        .client
        .post(stack.url(PEER, paths::peer::SYNC))
        .json(&json!({ "locator": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// DNS rebinding: every service answers 421 to a `Host` it does not serve, on a read and on a
/// write, and nothing changes; loopback names with the port and `--allowed-host` names pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_is_refused_by_every_service() {
    let extra = vec!["--allowed-host".to_owned(), "mycoin.test".to_owned()];
    let stack = Stack::start_in("regtest", SYNC_MS, free_ports(), &[], extra, None).await;
    let key = stack.new_address().await;
    let before = state(&stack).await;
    let reads = [
        (PEER, paths::peer::CHAIN),
        (KEYS, paths::keys::KEYS),
        (WALLET, paths::wallet::WALLET),
        (MINER, paths::miner::MINER),
    ];
    for (service, path) in reads {
        let port = stack.ports[service];
        for host in ["evil.example".to_owned(), format!("evil.example:{port}")] {
            let response = stack
                .client
                .get(stack.url(service, path))
                .header("host", &host)
                .send()
                .await
                .unwrap();
            let (status, code) = status_and_code(response).await;
            assert_eq!(
                (status, code.as_str()),
                (421, "misdirected_host"),
                "{host} {path}"
            );
        }
        for host in [
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("mycoin.test:{port}"),
        ] {
            let response = stack
                .client
                .get(stack.url(service, path))
                .header("host", &host)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{host} {path}");
        }
        // Another service's port on a loopback name is not this service.
        let response = stack
            .client
            .get(stack.url(service, path))
            .header("host", format!("localhost:{}", port.wrapping_add(1)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 421, "{path}");
    }
    for (service, path, body) in state_changes(&key) {
        let port = stack.ports[service];
        let response = stack
            .client
            .post(stack.url(service, &path))
            .header("host", format!("evil.example:{port}"))
            .bearer_auth(&stack.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, code) = status_and_code(response).await;
        assert_eq!(
            (status, code.as_str()),
            (421, "misdirected_host"),
            "POST {path}"
        );
    }
    assert_eq!(
        state(&stack).await,
        before,
        "a misdirected request changed something"
    );
}

#[cfg(unix)]
fn modes(dir: &std::path::Path) -> (u32, Vec<(String, u32)>) {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let mut files: Vec<(String, u32)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                mode(&path),
            )
        })
        .collect();
    files.sort();
    (mode(dir), files)
}

/// The data directory is 0700 and every file in it 0600 (the SQLite store with its -wal and
/// -shm files, the key file, the token): made so in a fresh directory, and tightened again at
/// start when someone loosened them.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_files_are_private_in_a_fresh_and_in_an_existing_directory() {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = Stack::start_in(
        "regtest",
        SYNC_MS,
        free_ports(),
        &[],
        Vec::new(),
        Some("fresh/user1"),
    )
    .await;
    let key = stack.new_address().await;
    stack.mine(&key).await;
    let dir = stack.data_path();
    let expected_files = [
        "api-token",
        "keys.key",
        "mycoin.sqlite",
        "mycoin.sqlite-shm",
        "mycoin.sqlite-wal",
    ];
    let check = |when: &str| {
        let (dir_mode, files) = modes(&dir);
        assert_eq!(dir_mode, 0o700, "{when}: data directory");
        let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
        for name in expected_files {
            assert!(names.contains(&name), "{when}: no {name} in {names:?}");
        }
        for (name, mode) in &files {
            assert_eq!(*mode, 0o600, "{when}: {name} is {mode:o}");
        }
    };
    check("fresh");

    // Loosened while stopped (an older version, a copy, a umask of 022): tightened at start.
    stack.stop();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, _) in modes(&dir).1 {
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    assert_eq!(modes(&dir).0, 0o755);
    stack.spawn(&[]).await;
    stack.mine(&key).await;
    check("existing");
}
