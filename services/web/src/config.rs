//! The settings every service binary shares, from flags or `MYCOIN_*` environment variables.
//!
//! A binary flattens [`CommonArgs`] into its own clap parser and adds its own flags:
//!
//! ```
//! use clap::Parser;
//! use mycoin_web::{CommonArgs, ServiceKind};
//!
//! #[derive(Debug, Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     common: CommonArgs,
//!     /// Start mining at once.
//!     #[arg(long, env = "MYCOIN_MINE")]
//!     mine: bool,
//! }
//!
//! let cli = Cli::parse_from(["mycoin-miner", "--user", "2"]);
//! assert_eq!(cli.common.port(ServiceKind::Miner), 8032);
//! assert_eq!(cli.common.base_url(ServiceKind::Peer), "http://127.0.0.1:8002");
//! ```
//!
//! Default ports follow the book's 8001/8002 for user N: peer 800N, keys 801N, wallet 802N,
//! miner 803N; so N is 1 to 9. Each port and each service URL can be set on its own.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::host::HostPattern;
use crate::{ApiToken, SecretString, ServerSettings};

/// Which network a stack runs. The core crate maps it to its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum NetworkName {
    /// A few seconds a block on one laptop core.
    Demo,
    /// Trivial difficulty, for tests.
    Regtest,
}

impl NetworkName {
    /// `demo` or `regtest`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Demo => "demo",
            Self::Regtest => "regtest",
        }
    }
}

impl fmt::Display for NetworkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The five services of a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// Chain, validation, mempool, peers.
    Peer,
    /// Key pairs, encrypted key store, signing.
    Keys,
    /// Balance, unspent and unused keys, payments.
    Wallet,
    /// Block templates, nonce search.
    Miner,
    /// Web pages over the other four: the race, blocks, transactions, addresses.
    Explorer,
}

impl ServiceKind {
    /// All five, in the order of their ports.
    pub const ALL: [Self; 5] = [
        Self::Peer,
        Self::Keys,
        Self::Wallet,
        Self::Miner,
        Self::Explorer,
    ];

    /// `peer`, `keys`, `wallet`, `miner` or `explorer`: the name in `/healthz` and
    /// `openapi/<name>.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Peer => "peer",
            Self::Keys => "keys",
            Self::Wallet => "wallet",
            Self::Miner => "miner",
            Self::Explorer => "explorer",
        }
    }

    /// The default port of this service for user `user` (1 to 9): peer 8000+N, keys 8010+N,
    /// wallet 8020+N, miner 8030+N, explorer 8040+N.
    pub fn default_port(self, user: u16) -> u16 {
        let base: u16 = match self {
            Self::Peer => 8000,
            Self::Keys => 8010,
            Self::Wallet => 8020,
            Self::Miner => 8030,
            Self::Explorer => 8040,
        };
        base.saturating_add(user)
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Flags and environment variables shared by every service binary and `mycoind`.
///
/// `Debug` hides the API token, the passphrase and any password in the database URL.
#[derive(Clone, Args)]
// The doc comment above is for rustdoc, not for the `--help` of the binaries.
#[command(about = None, long_about = None)]
pub struct CommonArgs {
    /// Which user's stack: picks the default ports and data directory.
    #[arg(long, env = "MYCOIN_USER", default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=9))]
    pub user: u16,

    /// Which network to run.
    #[arg(long, env = "MYCOIN_NETWORK", value_enum, default_value_t = NetworkName::Demo)]
    pub network: NetworkName,

    /// Directory for the database, the key file and the API token [default: ./data/userN].
    #[arg(long, env = "MYCOIN_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://...`
    /// [default: sqlite://DIR/mycoin.sqlite?mode=rwc].
    #[arg(
        long,
        env = "MYCOIN_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Address the services listen on; keep 127.0.0.1 unless other machines must reach them.
    #[arg(
        long,
        env = "MYCOIN_BIND",
        value_name = "ADDR",
        default_value = "127.0.0.1"
    )]
    pub bind: String,

    /// Another name the services answer to, `NAME` (any port) or `NAME:PORT` (repeatable;
    /// the environment variable takes a comma-separated list). `localhost`, 127.0.0.1 and
    /// [::1] with the service's port, and the bound address, are always allowed; a request
    /// for any other `Host` gets 421 (against DNS rebinding).
    #[arg(
        long = "allowed-host",
        env = "MYCOIN_ALLOWED_HOSTS",
        value_name = "HOST",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<HostPattern>,

    /// Port of the peer service [default: 8000+N].
    #[arg(long, env = "MYCOIN_PEER_PORT", value_name = "PORT")]
    pub peer_port: Option<u16>,

    /// Port of the keys service [default: 8010+N].
    #[arg(long, env = "MYCOIN_KEYS_PORT", value_name = "PORT")]
    pub keys_port: Option<u16>,

    /// Port of the wallet service [default: 8020+N].
    #[arg(long, env = "MYCOIN_WALLET_PORT", value_name = "PORT")]
    pub wallet_port: Option<u16>,

    /// Port of the miner service [default: 8030+N].
    #[arg(long, env = "MYCOIN_MINER_PORT", value_name = "PORT")]
    pub miner_port: Option<u16>,

    /// Port of the explorer (web pages) [default: 8040+N].
    #[arg(long, env = "MYCOIN_EXPLORER_PORT", value_name = "PORT")]
    pub explorer_port: Option<u16>,

    /// URL of this stack's peer service, when it runs elsewhere [default: http://127.0.0.1:PEER_PORT].
    #[arg(long, env = "MYCOIN_PEER_URL", value_name = "URL", value_parser = parse_service_url)]
    pub peer_url: Option<String>,

    /// URL of this stack's keys service, when it runs elsewhere [default: http://127.0.0.1:KEYS_PORT].
    #[arg(long, env = "MYCOIN_KEYS_URL", value_name = "URL", value_parser = parse_service_url)]
    pub keys_url: Option<String>,

    /// URL of this stack's wallet service, when it runs elsewhere [default: http://127.0.0.1:WALLET_PORT].
    #[arg(long, env = "MYCOIN_WALLET_URL", value_name = "URL", value_parser = parse_service_url)]
    pub wallet_url: Option<String>,

    /// URL of this stack's miner service, when it runs elsewhere [default: http://127.0.0.1:MINER_PORT].
    #[arg(long, env = "MYCOIN_MINER_URL", value_name = "URL", value_parser = parse_service_url)]
    pub miner_url: Option<String>,

    /// The stack's API token [default: read from, or created in, DIR/api-token].
    /// Prefer the environment variable: flags show in the process list.
    #[arg(
        long,
        env = "MYCOIN_API_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub api_token: Option<ApiToken>,

    /// Passphrase that encrypts the private keys [default: a random key file in the data dir].
    /// Prefer the environment variable: flags show in the process list.
    #[arg(
        long,
        env = "MYCOIN_PASSPHRASE",
        value_name = "PASSPHRASE",
        hide_env_values = true,
        value_parser = parse_passphrase
    )]
    pub passphrase: Option<SecretString>,
}

/// Refuses an empty passphrase: it would encrypt the keys with nothing while looking set.
fn parse_passphrase(passphrase: &str) -> Result<SecretString, String> {
    if passphrase.is_empty() {
        return Err(
            "empty: give a passphrase, or none at all to keep the keys under a key file \
                    in the data directory"
                .into(),
        );
    }
    Ok(SecretString::from(passphrase.to_owned()))
}

/// Accepts `http://host[:port][/prefix]`, dropping a trailing `/`.
fn parse_service_url(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|err| format!("not a URL: {err}"))?;
    if parsed.scheme() != "http" || parsed.host().is_none() {
        return Err("expected http://HOST:PORT".to_owned());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl CommonArgs {
    /// The data directory: `--data-dir`, or `./data/user<N>`.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("./data/user{}", self.user)))
    }

    /// The database URL: `--database-url`, or a SQLite file in the data directory
    /// (`sqlite://DIR/mycoin.sqlite?mode=rwc`, created if missing).
    /// It may hold a password: log [`redact_url`] of it, never the URL itself.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir().join("mycoin.sqlite").display()
            ),
        }
    }

    /// The port `service` listens on.
    pub fn port(&self, service: ServiceKind) -> u16 {
        let explicit = match service {
            ServiceKind::Peer => self.peer_port,
            ServiceKind::Keys => self.keys_port,
            ServiceKind::Wallet => self.wallet_port,
            ServiceKind::Miner => self.miner_port,
            ServiceKind::Explorer => self.explorer_port,
        };
        explicit.unwrap_or_else(|| service.default_port(self.user))
    }

    /// Where the other services of this stack reach `service`: its `--<service>-url`, or
    /// `http://127.0.0.1:<port>` (`http://<bind>:<port>` when bound to one other address).
    pub fn base_url(&self, service: ServiceKind) -> String {
        let explicit = match service {
            ServiceKind::Peer => &self.peer_url,
            ServiceKind::Keys => &self.keys_url,
            ServiceKind::Wallet => &self.wallet_url,
            ServiceKind::Miner => &self.miner_url,
            // Nothing calls the explorer: it needs no URL flag.
            ServiceKind::Explorer => &None,
        };
        if let Some(url) = explicit {
            return url.clone();
        }
        let host = match self.bind.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() || ip.is_loopback() => "127.0.0.1".to_owned(),
            Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
            Ok(IpAddr::V4(ip)) => ip.to_string(),
            Err(_) if self.bind == "localhost" => "127.0.0.1".to_owned(),
            Err(_) => self.bind.clone(),
        };
        format!("http://{host}:{}", self.port(service))
    }

    /// The stack's API token: `--api-token`, or the token file of the data directory (created
    /// on first use, see [`ApiToken::load_or_create`]).
    pub fn api_token(&self) -> io::Result<ApiToken> {
        match &self.api_token {
            Some(token) => Ok(token.clone()),
            None => ApiToken::load_or_create(&self.data_dir()),
        }
    }

    /// Server settings for `service`: its name, `--bind`, its port, the `--allowed-host`
    /// names and the stack's API token.
    ///
    /// Tightens the data directory first, when it exists ([`crate::files::secure_data_dir`]:
    /// 0700, its files 0600); the token file is then read or created in it.
    pub fn server_settings(&self, service: ServiceKind) -> io::Result<ServerSettings> {
        let data_dir = self.data_dir();
        if data_dir.is_dir() {
            crate::files::secure_data_dir(&data_dir)?;
        }
        Ok(
            ServerSettings::new(service.as_str(), self.bind.clone(), self.port(service))
                .with_allowed_hosts(self.allowed_hosts.clone())
                .with_api_token(self.api_token()?),
        )
    }
}

impl fmt::Debug for CommonArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommonArgs")
            .field("user", &self.user)
            .field("network", &self.network)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("bind", &self.bind)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("peer_port", &self.peer_port)
            .field("keys_port", &self.keys_port)
            .field("wallet_port", &self.wallet_port)
            .field("miner_port", &self.miner_port)
            .field("explorer_port", &self.explorer_port)
            .field("peer_url", &self.peer_url)
            .field("keys_url", &self.keys_url)
            .field("wallet_url", &self.wallet_url)
            .field("miner_url", &self.miner_url)
            .field("api_token", &self.api_token)
            .field("passphrase", &self.passphrase)
            .finish()
    }
}

/// A URL fit for a log: the user and password of `scheme://user:password@host/...` become
/// `[redacted]`.
///
/// ```
/// use mycoin_web::config::redact_url;
///
/// assert_eq!(
///     redact_url("postgres://mycoin:hunter2@db:5432/mycoin"),
///     "postgres://[redacted]@db:5432/mycoin"
/// );
/// assert_eq!(redact_url("sqlite://data/mycoin.sqlite"), "sqlite://data/mycoin.sqlite");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://[redacted]{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
    }

    fn parse(args: &[&str]) -> CommonArgs {
        let mut argv = vec!["test"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().common
    }

    #[test]
    fn defaults_follow_the_user_number() {
        let args = parse(&["--user", "2"]);
        assert_eq!(args.network, NetworkName::Demo);
        assert_eq!(args.bind, "127.0.0.1");
        let ports = ServiceKind::ALL.map(|service| args.port(service));
        assert_eq!(ports, [8002, 8012, 8022, 8032, 8042]);
        assert_eq!(args.data_dir(), PathBuf::from("./data/user2"));
        assert_eq!(
            args.database_url(),
            "sqlite://./data/user2/mycoin.sqlite?mode=rwc"
        );
        assert_eq!(args.base_url(ServiceKind::Wallet), "http://127.0.0.1:8022");
    }

    #[test]
    fn each_setting_can_be_overridden() {
        let args = parse(&[
            "--network",
            "regtest",
            "--data-dir",
            "/var/lib/mycoin",
            "--bind",
            "0.0.0.0",
            "--keys-port",
            "9000",
            "--peer-url",
            "http://peer1:8001/",
        ]);
        assert_eq!(args.network.as_str(), "regtest");
        assert_eq!(
            args.database_url(),
            "sqlite:///var/lib/mycoin/mycoin.sqlite?mode=rwc"
        );
        assert_eq!(args.port(ServiceKind::Keys), 9000);
        assert_eq!(args.base_url(ServiceKind::Keys), "http://127.0.0.1:9000");
        assert_eq!(args.base_url(ServiceKind::Peer), "http://peer1:8001");
    }

    #[test]
    fn allowed_hosts_repeat_or_come_as_a_list() {
        let args = parse(&[
            "--allowed-host",
            "user1-peer",
            "--allowed-host",
            "node:9001",
        ]);
        let shown: Vec<String> = args.allowed_hosts.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["user1-peer", "node:9001"]);
        let listed = parse(&["--allowed-host", "a,b:1"]);
        assert_eq!(listed.allowed_hosts.len(), 2);
        assert!(Cli::try_parse_from(["test", "--allowed-host", "http://x"]).is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            &["--user", "0"][..],
            &["--user", "10"],
            &["--network", "mainnet"],
            &["--peer-url", "peer1:8001"],
            &["--api-token", "short"],
            &["--passphrase", ""],
        ] {
            let mut argv = vec!["test"];
            argv.extend_from_slice(args);
            assert!(Cli::try_parse_from(argv).is_err(), "{args:?}");
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let args = parse(&[
            "--api-token",
            "0123456789abcdef0123",
            "--passphrase",
            "correct horse",
            "--database-url",
            "postgres://u:hunter2@db/mycoin",
        ]);
        let shown = format!("{args:?}");
        for secret in ["0123456789abcdef0123", "correct horse", "hunter2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(
            args.api_token().unwrap().expose_secret(),
            "0123456789abcdef0123"
        );
    }
}
