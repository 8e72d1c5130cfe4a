//! Two real `mycoind` stacks on regtest for the `mycoin` binary's tests, and a runner for the
//! binary against them.
//!
//! `mycoind` is another package's binary: it is taken from the same target directory as
//! `mycoin` (`cargo test --workspace` builds both; alone, run `cargo build -p mycoind` first).
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `mycoind` process with its ports (peer, keys, wallet, miner) and data directory.
pub struct Node {
    child: Child,
    pub ports: [u16; 4],
    pub dir: tempfile::TempDir,
    data_dir: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `mycoin` binary under test.
pub fn mycoin_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mycoin"))
}

fn mycoind_bin() -> PathBuf {
    let path = mycoin_bin().with_file_name("mycoind");
    assert!(
        path.exists(),
        "{} is missing: build it first (cargo build -p mycoind)",
        path.display()
    );
    path
}

/// Four ports the system just had free, held together so none repeats.
pub fn free_ports() -> [u16; 4] {
    let held: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = held
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    [ports[0], ports[1], ports[2], ports[3]]
}

/// What one run of `mycoin` did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON it printed.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {self:?}"))
    }
}

impl Node {
    /// Starts a regtest `mycoind` and waits until its four services answer.
    pub fn start() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        Node::start_with(dir, data_dir, free_ports(), &[])
    }

    /// Starts a regtest `mycoind` keeping its data in `data_dir`, its log in `dir`, on
    /// `ports`, with `peers`.
    pub fn start_with(
        dir: tempfile::TempDir,
        data_dir: PathBuf,
        ports: [u16; 4],
        peers: &[String],
    ) -> Node {
        let log = std::fs::File::create(dir.path().join("mycoind.log")).unwrap();
        let child = Command::new(mycoind_bin())
            .args([
                "--network",
                "regtest",
                "--threads",
                "1",
                "--sync-interval-ms",
                "200",
            ])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(peers.iter().flat_map(|peer| ["--peer", peer.as_str()]))
            .args(["--peer-port", &ports[0].to_string()])
            .args(["--keys-port", &ports[1].to_string()])
            .args(["--wallet-port", &ports[2].to_string()])
            .args(["--miner-port", &ports[3].to_string()])
            // The explorer is not under test here: any free port.
            .args(["--explorer-port", "0"])
            .env_remove("MYCOIN_DATABASE_URL")
            .env_remove("MYCOIN_PEERS")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start mycoind");
        let node = Node {
            child,
            ports,
            dir,
            data_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        for probe in [
            &["chain"][..],
            &["key", "list"],
            &["wallet"],
            &["miner", "status"],
        ] {
            while node.mycoin(probe).code != 0 {
                assert!(
                    Instant::now() < deadline,
                    "mycoind did not start: {}",
                    node.log()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        node
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mycoind.log")).unwrap_or_default()
    }

    pub fn url(&self, service: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[service])
    }

    /// The environment that points `mycoin` at this node, as a user would set it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MYCOIN_PEER_URL", self.url(0)),
            ("MYCOIN_KEYS_URL", self.url(1)),
            ("MYCOIN_WALLET_URL", self.url(2)),
            ("MYCOIN_MINER_URL", self.url(3)),
            ("MYCOIN_DATA_DIR", self.data_dir().display().to_string()),
        ]
    }

    /// Runs `mycoin ARGS` against this node.
    pub fn mycoin(&self, args: &[&str]) -> Run {
        run_mycoin(&self.env(), args, None)
    }
}

/// Runs `mycoin ARGS` with `env`, with `stdin` as its input.
pub fn run_mycoin(env: &[(&str, String)], args: &[&str], stdin: Option<&str>) -> Run {
    let mut command = Command::new(mycoin_bin());
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (name, value) in env {
        command.env(name, value);
    }
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run mycoin");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `check` until it holds, for up to 60 seconds.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The repository's root.
pub fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}
