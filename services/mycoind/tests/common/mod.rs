//! A real `mycoind` process on loopback for the end-to-end tests: its own data directory and
//! ports, a log file (at debug level, which the walkthrough searches for leaked secrets), the
//! stack's API token, and JSON calls to its four services. It can be stopped and started again
//! on the same data.
#![allow(dead_code)]

use mycoin_api::paths;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mycoin_api::peer::ChainInfo;
use serde_json::{Value, json};

pub const PEER: usize = 0;
pub const KEYS: usize = 1;
pub const WALLET: usize = 2;
pub const MINER: usize = 3;

/// Sync period of the nodes under test.
pub const SYNC_MS: &str = "200";
/// Longest wait for nodes to agree.
pub const CONVERGE: Duration = Duration::from_secs(60);

/// A running `mycoind` with its ports, data directory and log file.
pub struct Stack {
    pub child: Option<Child>,
    pub network: &'static str,
    pub sync_ms: &'static str,
    pub ports: [u16; 4], // peer, keys, wallet, miner
    /// The explorer's port (0: any free one, for the tests that do not look at it).
    pub explorer_port: u16,
    /// More command-line arguments, e.g. `--mine`.
    pub extra_args: Vec<String>,
    pub data_dir: tempfile::TempDir,
    /// When set, the data directory is this path under `data_dir` (which keeps the log), made
    /// by `mycoind` itself.
    pub data_subdir: Option<&'static str>,
    pub client: reqwest::Client,
    pub token: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Four free ports for a stack's services, none handed out before in this test process. The
/// listeners are held until all four are found: bound and dropped one at a time, the system may
/// give the same port twice.
pub fn free_ports() -> [u16; 4] {
    static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    let mut held = Vec::new();
    let mut ports = Vec::new();
    while ports.len() < 4 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if !handed_out.contains(&port) {
            handed_out.push(port);
            ports.push(port);
        }
        held.push(listener);
    }
    [ports[0], ports[1], ports[2], ports[3]]
}

pub fn peer_url(ports: &[u16; 4]) -> String {
    format!("http://127.0.0.1:{}", ports[PEER])
}

impl Stack {
    /// Starts a stack on `ports` with `peers`.
    pub async fn start(network: &'static str, ports: [u16; 4], peers: &[String]) -> Stack {
        Stack::start_syncing_every(network, SYNC_MS, ports, peers).await
    }

    /// Starts a stack on `ports` with `peers`, syncing every `sync_ms` milliseconds.
    pub async fn start_syncing_every(
        network: &'static str,
        sync_ms: &'static str,
        ports: [u16; 4],
        peers: &[String],
    ) -> Stack {
        Stack::start_with(network, sync_ms, ports, peers, Vec::new()).await
    }

    /// Starts a stack with more command-line arguments.
    pub async fn start_with(
        network: &'static str,
        sync_ms: &'static str,
        ports: [u16; 4],
        peers: &[String],
        extra_args: Vec<String>,
    ) -> Stack {
        Stack::start_in(network, sync_ms, ports, peers, extra_args, None).await
    }

    /// Starts a stack whose data directory is `subdir` of a new temporary directory (`None`:
    /// the temporary directory itself), with more command-line arguments.
    pub async fn start_in(
        network: &'static str,
        sync_ms: &'static str,
        ports: [u16; 4],
        peers: &[String],
        extra_args: Vec<String>,
        subdir: Option<&'static str>,
    ) -> Stack {
        let mut stack = Stack {
            child: None,
            network,
            sync_ms,
            ports,
            explorer_port: 0,
            extra_args,
            data_dir: tempfile::tempdir().unwrap(),
            data_subdir: None,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .no_proxy()
                .build()
                .unwrap(),
            token: String::new(),
        };
        stack.data_subdir = subdir;
        stack.spawn(peers).await;
        stack
    }

    /// Starts a stack whose explorer listens on `explorer_port`.
    pub async fn start_with_explorer(
        network: &'static str,
        ports: [u16; 4],
        explorer_port: u16,
        peers: &[String],
    ) -> Stack {
        let mut stack = Stack::start_in(network, SYNC_MS, ports, peers, Vec::new(), None).await;
        stack.stop();
        stack.explorer_port = explorer_port;
        stack.spawn(peers).await;
        stack
    }

    /// Starts the process (again) on the same data directory and ports.
    pub async fn spawn(&mut self, peers: &[String]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.path().join("mycoind.log"))
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_mycoind"));
        command
            .args(["--network", self.network, "--threads", "1"])
            .arg("--data-dir")
            .arg(self.data_path())
            .args(["--peer-port", &self.ports[0].to_string()])
            .args(["--keys-port", &self.ports[1].to_string()])
            .args(["--wallet-port", &self.ports[2].to_string()])
            .args(["--miner-port", &self.ports[3].to_string()])
            .args(["--explorer-port", &self.explorer_port.to_string()])
            .args(["--sync-interval-ms", self.sync_ms])
            .args(&self.extra_args)
            .env_remove("MYCOIN_DATABASE_URL")
            .env_remove("MYCOIN_PEERS")
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for peer in peers {
            command.args(["--peer", peer]);
        }
        self.child = Some(command.spawn().expect("start mycoind"));
        self.wait_healthy().await;
        self.token = std::fs::read_to_string(self.data_path().join("api-token"))
            .unwrap()
            .trim()
            .to_owned();
    }

    /// The directory `mycoind` keeps its store, key file and token in.
    pub fn data_path(&self) -> std::path::PathBuf {
        match self.data_subdir {
            Some(subdir) => self.data_dir.path().join(subdir),
            None => self.data_dir.path().to_owned(),
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn wait_healthy(&mut self) {
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
                if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("mycoind.log")).unwrap_or_default()
    }

    pub fn peer_url(&self) -> String {
        peer_url(&self.ports)
    }

    pub fn url(&self, service: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports[service])
    }

    pub async fn get(&self, service: usize, path: &str) -> Value {
        let request = self.client.get(self.url(service, path));
        success("GET", path, request.bearer_auth(&self.token)).await
    }

    /// A GET without the API token: what anyone may read.
    pub async fn get_public(&self, service: usize, path: &str) -> Value {
        success("GET", path, self.client.get(self.url(service, path))).await
    }

    pub async fn post(&self, service: usize, path: &str, body: Value) -> Value {
        let request = self.client.post(self.url(service, path)).json(&body);
        success("POST", path, request.bearer_auth(&self.token)).await
    }

    pub async fn chain(&self) -> ChainInfo {
        serde_json::from_value(self.get(PEER, paths::peer::CHAIN).await).unwrap()
    }

    pub async fn new_address(&self) -> String {
        let key = self.post(KEYS, paths::keys::KEYS, json!({})).await;
        key["address"].as_str().unwrap().to_owned()
    }

    pub async fn mine(&self, address: &str) -> Value {
        self.post(MINER, paths::miner::MINE, json!({ "address": address }))
            .await
    }

    pub async fn mempool_txids(&self) -> Vec<String> {
        self.get(PEER, paths::peer::MEMPOOL).await["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["txid"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn peer_state(&self, url: &str) -> Value {
        let peers = self.get(PEER, paths::peer::PEERS).await;
        peers
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["url"] == url)
            .cloned()
            .unwrap_or_else(|| panic!("{url} is not a peer: {peers}"))
    }
}

/// Sends `request` and returns its JSON body, which must come with a success status.
async fn success(method: &str, path: &str, request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {body}");
    body
}

/// A new empty database `name` on the throwaway PostgreSQL server of `admin` (its URL).
pub async fn fresh_database(admin: &str, name: &str) -> String {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(admin).await.unwrap();
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
