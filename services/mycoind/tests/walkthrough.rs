//! The book's walkthrough, steps 2–6, against a real `mycoind` process on regtest: three keys;
//! mine to the first (the block holds only the coinbase); send from it to the second; verify the
//! pending transaction; mine again to the third. Then the payment is confirmed, the mempool is
//! empty, and the wallet shows exactly what the story implies. No private key (hex or WIF) and
//! no API token appears in anything the process logged.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mycoin_core::{Network, PrivateKey};
use serde_json::{Value, json};

const COIN: u64 = 100_000_000;

/// A running `mycoind` with its ports, data directory and log file.
struct Stack {
    child: Child,
    ports: [u16; 4], // peer, keys, wallet, miner
    data_dir: tempfile::TempDir,
    client: reqwest::Client,
    token: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Stack {
    async fn start(database_url: Option<String>) -> Stack {
        let data_dir = tempfile::tempdir().unwrap();
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let log = std::fs::File::create(data_dir.path().join("mycoind.log")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_mycoind"));
        command
            .args(["--network", "regtest", "--threads", "1"])
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["--peer-port", &ports[0].to_string()])
            .args(["--keys-port", &ports[1].to_string()])
            .args(["--wallet-port", &ports[2].to_string()])
            .args(["--miner-port", &ports[3].to_string()])
            .env_remove("MYCOIN_DATABASE_URL")
            .env_remove("MYCOIN_PEERS")
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(url) = &database_url {
            command.args(["--database-url", url]);
        }
        let child = command.spawn().expect("start mycoind");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut stack = Stack {
            child,
            ports,
            data_dir,
            client,
            token: String::new(),
        };
        stack.wait_healthy().await;
        stack.token = std::fs::read_to_string(stack.data_dir.path().join("api-token"))
            .unwrap()
            .trim()
            .to_owned();
        stack
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        for port in self.ports {
            loop {
                let url = format!("http://127.0.0.1:{port}/healthz");
                if self
                    .client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    break;
                }
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!("mycoind exited early ({status}): {}", self.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "mycoind not healthy: {}",
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("mycoind.log")).unwrap_or_default()
    }

    fn url(&self, service: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports[service])
    }

    async fn get(&self, service: usize, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(service, path))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    async fn get_authorized(&self, service: usize, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(service, path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    async fn post(&self, service: usize, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(self.url(service, path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }
}

const PEER: usize = 0;
const KEYS: usize = 1;
const WALLET: usize = 2;
const MINER: usize = 3;

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
        let key = stack.post(KEYS, "/keys", json!({})).await;
        keys.push(key["address"].as_str().unwrap().to_owned());
    }
    let (first, second, third) = (&keys[0], &keys[1], &keys[2]);

    // Step 3 (mine.py): mine to the first key; the block holds only the coinbase.
    let mined = stack
        .post(MINER, "/mine", json!({ "address": first }))
        .await;
    assert_eq!(mined["height"], 1);
    let block = stack
        .get(
            PEER,
            &format!("/blocks/{}", mined["hash"].as_str().unwrap()),
        )
        .await;
    assert_eq!(block["transactions"].as_array().unwrap().len(), 1);

    // Step 4 (sign.py): send from the first key to the second.
    let amount = 60_000_000u64;
    let fee = 1_000u64;
    let sent = stack
        .post(
            WALLET,
            "/wallet/send",
            json!({ "to": second, "amount": amount, "fee": fee }),
        )
        .await;
    let txid = sent["txid"].as_str().unwrap().to_owned();
    let change = sent["change_address"].as_str().unwrap().to_owned();

    // Step 5 (verify.py): the pending transaction verifies, input by input.
    let pending = stack.get(PEER, &format!("/transactions/{txid}")).await;
    assert_eq!(pending["status"]["state"], "mempool");
    let verdict = stack
        .post(
            PEER,
            "/transactions/verify",
            json!({ "hex": pending["hex"] }),
        )
        .await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert!(
        verdict["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["valid"] == true)
    );
    assert_eq!(stack.get(PEER, "/mempool").await["count"], 1);

    // Step 6 (mine.py, wallet.py): mine again to the third key.
    let mined = stack
        .post(MINER, "/mine", json!({ "address": third }))
        .await;
    assert_eq!(mined["height"], 2);
    let confirmed = stack.get(PEER, &format!("/transactions/{txid}")).await;
    assert_eq!(confirmed["status"]["state"], "confirmed");
    assert_eq!(confirmed["status"]["height"], 2);
    assert_eq!(stack.get(PEER, "/mempool").await["count"], 0);

    // The wallet: the first key is spent; the second, the change and the third hold coins.
    let unused = stack.post(WALLET, "/wallet/addresses", json!({})).await;
    let wallet = stack.get(WALLET, "/wallet").await;
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

    // No secret in the logs: every key's WIF and hex, and the API token.
    let log = stack.log();
    assert!(log.contains("mycoind is up"), "the log was captured");
    let all = stack.get(KEYS, "/keys").await;
    for address in addresses(&all) {
        let wif = stack
            .get_authorized(KEYS, &format!("/keys/{address}/wif"))
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
    let stack = Stack::start(None).await;
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
    let url = fresh_database(&admin).await;
    let stack = Stack::start(Some(url)).await;
    walk(&stack).await;
    assert!(!Path::new(&stack.data_dir.path().join("mycoin.sqlite")).exists());
}

/// A new empty database on the throwaway server.
async fn fresh_database(admin: &str) -> String {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(admin).await.unwrap();
    let name = format!("mycoind_walk_{}", std::process::id());
    pool.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .await
    .unwrap();
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    pool.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    format!("{base}/{name}")
}
