//! Starting a real `mycoind` for the end-to-end tests of several crates (a dev-dependency only).
//!
//! One place says how a test stack is started: four free loopback ports, a data directory, a
//! log file taking the process's stdout and stderr, the peers and the sync period, no database
//! URL or peers leaking in from the environment; and it is ready when each of its four services
//! answers `GET /healthz` with 200. The tests of `mycoind` (async, with the stack's token) and
//! of the `mycoin` binary (blocking, through the binary) build their own helpers on this.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Index of the peer service's port in a stack's four.
pub const PEER: usize = 0;
/// Index of the keys service's port.
pub const KEYS: usize = 1;
/// Index of the wallet service's port.
pub const WALLET: usize = 2;
/// Index of the miner service's port.
pub const MINER: usize = 3;

/// Longest wait for a stack to start.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

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

/// The loopback URL of a service on `port`.
pub fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// How to start one `mycoind`.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The `mycoind` binary.
    pub bin: PathBuf,
    /// `--network`.
    pub network: String,
    /// Peer, keys, wallet and miner ports.
    pub ports: [u16; 4],
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// The file stdout and stderr are appended to.
    pub log: PathBuf,
    /// `--sync-interval-ms`.
    pub sync_ms: String,
    /// `--peer`, each.
    pub peers: Vec<String>,
    /// More arguments, e.g. `--mine`.
    pub extra_args: Vec<String>,
    /// `RUST_LOG` of the process, when set.
    pub rust_log: Option<String>,
    /// `--explorer-port` (0, the default: any free port, for the tests that do not look at
    /// it; parallel stacks would otherwise collide on the user's 804N).
    pub explorer_port: u16,
}

impl Launch {
    /// `network` on `ports` with its data in `data_dir` and its log in
    /// `log`, one search thread, syncing every 200 ms, no peers.
    pub fn new(
        bin: impl Into<PathBuf>,
        network: &str,
        ports: [u16; 4],
        data_dir: impl Into<PathBuf>,
        log: impl Into<PathBuf>,
    ) -> Launch {
        Launch {
            bin: bin.into(),
            network: network.to_owned(),
            ports,
            data_dir: data_dir.into(),
            log: log.into(),
            sync_ms: "200".to_owned(),
            peers: Vec::new(),
            extra_args: Vec::new(),
            rust_log: None,
            explorer_port: 0,
        }
    }

    /// The command line.
    pub fn command(&self) -> Command {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|err| panic!("open {}: {err}", self.log.display()));
        let mut command = Command::new(&self.bin);
        command
            .args(["--network", &self.network, "--threads", "1"])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--peer-port", &self.ports[PEER].to_string()])
            .args(["--keys-port", &self.ports[KEYS].to_string()])
            .args(["--wallet-port", &self.ports[WALLET].to_string()])
            .args(["--miner-port", &self.ports[MINER].to_string()])
            .args(["--explorer-port", &self.explorer_port.to_string()])
            .args(["--sync-interval-ms", &self.sync_ms])
            .args(self.peers.iter().flat_map(|peer| ["--peer", peer.as_str()]))
            .args(&self.extra_args)
            .env_remove("MYCOIN_DATABASE_URL")
            .env_remove("MYCOIN_PEERS")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        match &self.rust_log {
            Some(filter) => command.env("RUST_LOG", filter),
            None => command.env_remove("RUST_LOG"),
        };
        command
    }

    /// Starts the process and waits until its four services answer `GET /healthz`; panics,
    /// with the log, when it exits first or takes longer than [`START_TIMEOUT`].
    pub fn start(&self) -> Mycoind {
        let child = self
            .command()
            .spawn()
            .unwrap_or_else(|err| panic!("start {}: {err}", self.bin.display()));
        let mut node = Mycoind {
            child: Some(child),
            log: self.log.clone(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        for port in self.ports {
            while !answers_healthz(port) {
                if let Some(Ok(Some(status))) = node.child.as_mut().map(Child::try_wait) {
                    panic!("mycoind exited early ({status}): {}", node.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "mycoind not healthy: {}",
                    node.log()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        node
    }
}

/// A running `mycoind`; dropping it kills the process.
#[derive(Debug)]
pub struct Mycoind {
    child: Option<Child>,
    log: PathBuf,
}

impl Mycoind {
    /// Kills the process and waits for it (again: nothing).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What it wrote so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }
}

impl Drop for Mycoind {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The text of a log file, empty when there is none yet.
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Whether a service on loopback `port` answers `GET /healthz` with 200 (a real HTTP/1.1
/// request on a new connection).
pub fn answers_healthz(port: u16) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut status = [0u8; 12];
    stream.read_exact(&mut status).is_ok() && &status == b"HTTP/1.1 200"
}

/// Runs `check` until it holds, for up to 60 seconds.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
