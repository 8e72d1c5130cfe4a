//! The peer service's settings: from the command line and `MYCOIN_*` variables ([`Cli`]), or
//! built in code ([`Settings`]) by a binary that runs several services, such as `mycoind`.

use std::io;
use std::time::Duration;

use clap::{Args, Parser};
use mycoin_core::policy::DEFAULT_DUST_LIMIT;
use mycoin_core::{Amount, FeeRate, Network, Policy};
use mycoin_web::{CommonArgs, ServerSettings, ServiceKind};

pub use crate::peerbook::{MAX_LEARNT_PEERS, MAX_PEERS};

/// Command line of the `mycoin-peer` binary.
#[derive(Debug, Clone, Parser)]
#[command(name = "mycoin-peer", version, about = "mycoin's peer (node) service")]
pub struct Cli {
    /// The flags every service shares.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The peer service's own flags.
    #[command(flatten)]
    pub peer: PeerArgs,
}

/// The flags of the peer service beyond [`CommonArgs`]; `mycoind` flattens them too.
#[derive(Debug, Clone, Args)]
pub struct PeerArgs {
    /// Another user's peer service, `http://HOST:PORT` (repeatable; the book's peer.txt).
    #[arg(
        long = "peer",
        env = "MYCOIN_PEERS",
        value_name = "URL",
        value_delimiter = ',',
        value_parser = parse_peer_url
    )]
    pub peers: Vec<String>,
    /// How often to compare tips with the peers and sync, in milliseconds.
    #[arg(
        long = "sync-interval-ms",
        env = "MYCOIN_SYNC_INTERVAL_MS",
        value_name = "MS",
        default_value_t = DEFAULT_SYNC_INTERVAL_MS,
        value_parser = clap::value_parser!(u64).range(50..=3_600_000)
    )]
    pub sync_interval_ms: u64,
    /// The URL other peers reach this peer service at, named when it relays blocks and
    /// transactions (default: `http://` and the bound address, 127.0.0.1 when bound to all
    /// interfaces). Set it when peers see this node under another name, e.g. in a container
    /// network: `http://user1-peer:8001`.
    #[arg(
        long = "public-url",
        env = "MYCOIN_PUBLIC_URL",
        value_name = "URL",
        value_parser = parse_peer_url
    )]
    pub public_url: Option<String>,
    /// The relay policy's limits.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Default period of the sync task: 2 seconds.
pub const DEFAULT_SYNC_INTERVAL_MS: u64 = 2_000;

/// How long a peer has to answer each sync request (docs/PROTOCOL.md §12.4). A request that
/// takes longer is dropped and the peer penalised for a stall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncTimeouts {
    /// `GET /chain`: 3 s.
    pub chain: Duration,
    /// One `POST /sync` batch: 20 s.
    pub batch: Duration,
}

impl Default for SyncTimeouts {
    fn default() -> Self {
        SyncTimeouts {
            chain: Duration::from_secs(3),
            batch: Duration::from_secs(20),
        }
    }
}

impl Default for PeerArgs {
    fn default() -> Self {
        PeerArgs {
            peers: Vec::new(),
            sync_interval_ms: DEFAULT_SYNC_INTERVAL_MS,
            public_url: None,
            policy: PolicyArgs::default(),
        }
    }
}

/// Everything the peer service needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where and how to listen.
    pub server: ServerSettings,
    /// Which network's chain to run.
    pub network: Network,
    /// `sqlite://FILE?mode=rwc` or `postgres://...`. May hold a password: never log it.
    pub database_url: String,
    /// Other users' peer services, synced with and gossiped to.
    pub peers: Vec<String>,
    /// How often to compare tips with the peers and sync.
    pub sync_interval: Duration,
    /// The URL peers reach this node at, when not the bound address.
    pub public_url: Option<String>,
    /// What this node keeps and relays beyond what consensus allows.
    pub policy: Policy,
    /// How long a peer has to answer each sync request.
    pub sync_timeouts: SyncTimeouts,
}

impl Settings {
    /// Settings for `network` on `host:port` with the database at `database_url`, no peers.
    pub fn new(
        network: Network,
        host: impl Into<String>,
        port: u16,
        database_url: impl Into<String>,
    ) -> Self {
        Settings {
            server: ServerSettings::new(ServiceKind::Peer.as_str(), host, port),
            network,
            database_url: database_url.into(),
            peers: Vec::new(),
            sync_interval: Duration::from_millis(DEFAULT_SYNC_INTERVAL_MS),
            public_url: None,
            policy: Policy::default(),
            sync_timeouts: SyncTimeouts::default(),
        }
    }

    /// The settings the flags and environment ask for. Reads (or creates) the stack's API
    /// token in the data directory unless one is given.
    pub fn from_args(common: &CommonArgs, peer: &PeerArgs) -> io::Result<Self> {
        let network = network_of(common)?;
        Ok(Settings {
            server: common.server_settings(ServiceKind::Peer)?,
            network,
            database_url: common.database_url(),
            peers: dedup(peer.peers.clone()),
            sync_interval: Duration::from_millis(peer.sync_interval_ms),
            public_url: peer.public_url.clone(),
            policy: peer.policy.policy(),
            sync_timeouts: SyncTimeouts::default(),
        })
    }
}

impl Cli {
    /// The settings this command line asks for.
    pub fn settings(&self) -> io::Result<Settings> {
        Settings::from_args(&self.common, &self.peer)
    }
}

/// The core network named by `--network`.
pub fn network_of(common: &CommonArgs) -> io::Result<Network> {
    common
        .network
        .as_str()
        .parse()
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))
}

/// Checks a peer URL: `http://HOST[:PORT][/PREFIX]`, returned without a trailing `/`.
pub fn parse_peer_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim();
    if trimmed.len() > 2048 {
        return Err("a peer URL has at most 2048 characters".to_owned());
    }
    let parsed = reqwest::Url::parse(trimmed).map_err(|err| format!("not a URL: {err}"))?;
    if parsed.scheme() != "http" || parsed.host().is_none() {
        return Err("expected http://HOST:PORT".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a peer URL carries no user name or password".to_owned());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("a peer URL has no query string or fragment".to_owned());
    }
    Ok(trimmed.trim_end_matches('/').to_owned())
}

fn dedup(urls: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(urls.len());
    for url in urls {
        if !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

/// The relay policy's settings (docs/PROTOCOL.md §12.3): limits on what this node keeps and
/// relays, never on what it accepts in a block.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// The lowest fee rate a transaction may pay to enter the mempool, in base units per byte
    /// (decimals allowed, down to 0.001; 0 turns the minimum off).
    #[arg(
        long = "min-relay-fee-rate",
        env = "MYCOIN_MIN_RELAY_FEE_RATE",
        value_name = "UNITS_PER_BYTE",
        default_value = "1",
        value_parser = parse_fee_rate
    )]
    pub min_relay_fee_rate: FeeRate,
    /// An output paying fewer base units than this is dust, and its transaction is refused.
    #[arg(
        long = "dust-limit",
        env = "MYCOIN_DUST_LIMIT",
        value_name = "UNITS",
        default_value_t = DEFAULT_DUST_LIMIT
    )]
    pub dust_limit: u64,
    /// The mempool's cap, in bytes of transactions; when full, the lowest fee rates are
    /// evicted and the minimum fee rate rises.
    #[arg(
        long = "mempool-max-bytes",
        env = "MYCOIN_MEMPOOL_MAX_BYTES",
        value_name = "BYTES",
        default_value_t = Policy::default().mempool_max_bytes as u64,
        value_parser = clap::value_parser!(u64).range(1000..=(1 << 40))
    )]
    pub mempool_max_bytes: u64,
    /// The orphan pool's cap (blocks whose parent has not arrived), in bytes.
    #[arg(
        long = "orphan-max-bytes",
        env = "MYCOIN_ORPHAN_MAX_BYTES",
        value_name = "BYTES",
        default_value_t = Policy::default().orphan_max_bytes as u64,
        value_parser = clap::value_parser!(u64).range(0..=(1 << 40))
    )]
    pub orphan_max_bytes: u64,
}

impl Default for PolicyArgs {
    fn default() -> Self {
        let policy = Policy::default();
        PolicyArgs {
            min_relay_fee_rate: policy.min_relay_fee_rate,
            dust_limit: policy.dust_limit.units(),
            mempool_max_bytes: policy.mempool_max_bytes as u64,
            orphan_max_bytes: policy.orphan_max_bytes as u64,
        }
    }
}

impl PolicyArgs {
    /// The policy these settings ask for.
    pub fn policy(&self) -> Policy {
        Policy {
            min_relay_fee_rate: self.min_relay_fee_rate,
            dust_limit: Amount::from_units(self.dust_limit).unwrap_or(Amount::MAX),
            mempool_max_bytes: usize::try_from(self.mempool_max_bytes).unwrap_or(usize::MAX),
            orphan_max_bytes: usize::try_from(self.orphan_max_bytes).unwrap_or(usize::MAX),
            ..Policy::default()
        }
    }
}

/// Reads a fee rate in base units per byte, with up to three decimals: `1`, `0.5`, `2.125`.
pub fn parse_fee_rate(text: &str) -> Result<FeeRate, String> {
    let bad = || format!("`{text}` is not a fee rate in base units per byte, e.g. 1 or 0.25");
    let (whole, fraction) = match text.split_once('.') {
        Some((_, "")) => return Err(bad()),
        Some(parts) => parts,
        None => (text, ""),
    };
    let digits = whole.chars().chain(fraction.chars());
    if whole.is_empty() || fraction.len() > 3 || !digits.clone().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let thousandths: u64 = format!("{fraction:0<3}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(1000)
        .and_then(|w| w.checked_add(thousandths))
        .filter(|rate| *rate <= MAX_FEE_RATE_PER_KB)
        .map(FeeRate::per_kb)
        .ok_or_else(bad)
}

/// The highest minimum fee rate the setting takes: one coin per byte.
const MAX_FEE_RATE_PER_KB: u64 = mycoin_core::COIN * 1000;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        let mut argv = vec!["mycoin-peer"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap()
    }

    #[test]
    fn peers_are_repeatable_and_checked() {
        let cli = parse(&[
            "--peer",
            "http://127.0.0.1:8002/",
            "--peer",
            "http://peer3:8003",
        ]);
        assert_eq!(
            cli.peer.peers,
            ["http://127.0.0.1:8002", "http://peer3:8003"]
        );
        for bad in ["127.0.0.1:8002", "https://x:1", "http://u:p@x:1", "ftp://x"] {
            assert!(
                Cli::try_parse_from(["mycoin-peer", "--peer", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn network_and_database_follow_the_common_flags() {
        let cli = parse(&[
            "--network",
            "regtest",
            "--data-dir",
            "/tmp/x",
            "--user",
            "2",
        ]);
        assert_eq!(network_of(&cli.common).unwrap(), Network::Regtest);
        assert_eq!(cli.common.port(ServiceKind::Peer), 8002);
        assert_eq!(
            cli.common.database_url(),
            "sqlite:///tmp/x/mycoin.sqlite?mode=rwc"
        );
    }

    #[test]
    fn the_public_url_is_a_checked_peer_url() {
        let cli = parse(&["--public-url", "http://user1-peer:8001/"]);
        assert_eq!(
            cli.peer.public_url.as_deref(),
            Some("http://user1-peer:8001")
        );
        assert_eq!(parse(&[]).peer.public_url, None);
        assert!(Cli::try_parse_from(["mycoin-peer", "--public-url", "user1-peer:8001"]).is_err());
    }

    #[test]
    fn peers_are_deduplicated() {
        assert_eq!(
            dedup(vec!["http://a:1".into(), "http://a:1".into()]),
            ["http://a:1"]
        );
    }

    #[test]
    fn fee_rates_are_read_in_units_per_byte_with_three_decimals() {
        assert_eq!(parse_fee_rate("1"), Ok(FeeRate::per_byte(1)));
        assert_eq!(parse_fee_rate("0"), Ok(FeeRate::ZERO));
        assert_eq!(parse_fee_rate("0.25"), Ok(FeeRate::per_kb(250)));
        assert_eq!(parse_fee_rate("2.125"), Ok(FeeRate::per_kb(2125)));
        for bad in ["", ".5", "1.", "1.0001", "-1", "1e3", "x", "100000001"] {
            assert!(parse_fee_rate(bad).is_err(), "{bad:?} was taken");
        }
    }
}
