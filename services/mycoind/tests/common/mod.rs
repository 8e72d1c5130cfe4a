//! A real `mycoind` process on loopback for the end-to-end tests: its own data directory and
//! ports, a log file (at debug level, which the walkthrough searches for leaked secrets), the
//! stack's API token, and JSON calls to its four services. It can be stopped and started again
//! on the same data.
#![allow(dead_code)]

use mycoin_api::paths;
use std::time::Duration;

use mycoin_api::peer::ChainInfo;
use mycoin_test_support::{Launch, Mycoind};
use serde_json::{Value, json};

pub use mycoin_test_support::{KEYS, MINER, PEER, WALLET, free_ports};

/// Sync period of the nodes under test.
pub const SYNC_MS: &str = "200";
/// Longest wait for nodes to agree.
pub const CONVERGE: Duration = Duration::from_secs(60);

/// A running `mycoind` with its ports, data directory and log file.
pub struct Stack {
    pub process: Option<Mycoind>,
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

pub fn peer_url(ports: &[u16; 4]) -> String {
    mycoin_test_support::url(ports[PEER])
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
        let mut stack = Stack::unstarted(network, sync_ms, ports, extra_args);
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
        let mut stack = Stack::unstarted(network, SYNC_MS, ports, Vec::new());
        stack.explorer_port = explorer_port;
        stack.spawn(peers).await;
        stack
    }

    /// A stack not started yet, in a new temporary directory, its explorer on any free port.
    fn unstarted(
        network: &'static str,
        sync_ms: &'static str,
        ports: [u16; 4],
        extra_args: Vec<String>,
    ) -> Stack {
        Stack {
            process: None,
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
        }
    }

    /// Starts the process (again) on the same data directory and ports, and waits until its
    /// four services answer.
    pub async fn spawn(&mut self, peers: &[String]) {
        let mut launch = Launch::new(
            env!("CARGO_BIN_EXE_mycoind"),
            self.network,
            self.ports,
            self.data_path(),
            self.log_path(),
        );
        launch.sync_ms = self.sync_ms.to_owned();
        launch.peers = peers.to_vec();
        launch.extra_args = self.extra_args.clone();
        launch.rust_log = Some("debug".to_owned());
        launch.explorer_port = self.explorer_port;
        let process = tokio::task::spawn_blocking(move || launch.start())
            .await
            .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()));
        self.process = Some(process);
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
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    fn log_path(&self) -> std::path::PathBuf {
        self.data_dir.path().join("mycoind.log")
    }

    pub fn log(&self) -> String {
        mycoin_test_support::read_log(&self.log_path())
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
