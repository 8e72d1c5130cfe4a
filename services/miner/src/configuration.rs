//! The miner service's settings: from the command line ([`Cli`]) or built in code
//! ([`Settings`]), e.g. by `mycoind`, which runs the four services of a stack in one process.

use std::io;
use std::time::Duration;

use clap::{Args, Parser, ValueEnum};
use mycoin_core::Network;
use mycoin_web::{ApiToken, CommonArgs, ServerSettings, ServiceKind};

use crate::search::{Backend, default_threads};

/// Largest request body the miner accepts: its bodies hold at most an address.
pub const BODY_LIMIT: usize = 16 * 1024;

/// How often a running search looks at the peer's tip (and at its stop flag).
pub const DEFAULT_TIP_POLL: Duration = Duration::from_millis(200);

/// The `mycoin-miner` binary's command line: the flags it shares with `mycoind` ([`Cli`]) and
/// the nonce search's ([`SearchArgs`]).
#[derive(Debug, Parser)]
#[command(
    name = "mycoin-miner",
    version,
    about = "mycoin miner service: proof of work on the peer's block templates (the book's mine.py)"
)]
pub struct Command {
    #[command(flatten)]
    pub cli: Cli,

    #[command(flatten)]
    pub search: SearchArgs,
}

/// The nonce search's flags.
#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// How to hash nonces: `auto` times each backend this CPU runs at start and takes the
    /// fastest; the others force one (the service refuses to start if the CPU lacks it).
    #[arg(long, env = "MYCOIN_MINER_BACKEND", value_enum, default_value_t = BackendSetting::Auto)]
    pub backend: BackendSetting,
}

/// The `--backend` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum BackendSetting {
    /// The fastest backend this CPU runs, measured at start.
    #[default]
    Auto,
    /// Any CPU: the `sha2` crate's compression.
    Portable,
    /// x86-64 SHA extensions, 4 nonces interleaved.
    #[value(name = "sha-ni", alias = "sha_ni")]
    ShaNi,
    /// x86-64 AVX2, 8 nonces per vector.
    Avx2,
    /// x86-64 AVX-512 (F and BW), 16 nonces per vector.
    Avx512,
}

impl BackendSetting {
    /// The backend forced, or `None` for the measured choice.
    pub fn forced(self) -> Option<Backend> {
        match self {
            BackendSetting::Auto => None,
            BackendSetting::Portable => Some(Backend::Portable),
            BackendSetting::ShaNi => Some(Backend::ShaNi),
            BackendSetting::Avx2 => Some(Backend::Avx2),
            BackendSetting::Avx512 => Some(Backend::Avx512),
        }
    }
}

/// The flags the miner service shares with `mycoind` (which builds this struct itself).
#[derive(Debug, Parser)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Threads searching nonces [default: one per core].
    #[arg(long, env = "MYCOIN_MINER_THREADS", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,

    /// Start background mining at once, paying a fresh key of the keys service.
    #[arg(long, env = "MYCOIN_MINE")]
    pub mine: bool,
}

/// Everything [`crate::build`] needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen, body limit, API token.
    pub server: ServerSettings,
    /// The network whose addresses and proof-of-work limit the miner uses.
    pub network: Network,
    /// Base URL of the peer service (templates, blocks, tip).
    pub peer_url: String,
    /// Base URL of the keys service (fresh addresses).
    pub keys_url: String,
    /// Threads searching nonces.
    pub threads: usize,
    /// Whether to start background mining as soon as the service is built.
    pub mine_on_start: bool,
    /// The nonce search's backend: measured at start, or forced.
    pub backend: BackendSetting,
    /// How often a running search looks at its stop flag, and the pause between tip checks
    /// when the peer answers its long poll at once (a peer without it) or fails.
    pub tip_poll: Duration,
    /// Timeout of each call to the peer and keys services.
    pub client_timeout: Duration,
}

impl Settings {
    /// Settings for a miner of `network` on `127.0.0.1:port` using the peer and keys services
    /// at the given URLs, one thread per core, not mining until asked.
    pub fn new(
        network: Network,
        port: u16,
        peer_url: impl Into<String>,
        keys_url: impl Into<String>,
    ) -> Self {
        Self {
            server: ServerSettings::new(ServiceKind::Miner.as_str(), "127.0.0.1", port)
                .with_body_limit(BODY_LIMIT),
            network,
            peer_url: peer_url.into(),
            keys_url: keys_url.into(),
            threads: default_threads(),
            mine_on_start: false,
            backend: BackendSetting::Auto,
            tip_poll: DEFAULT_TIP_POLL,
            client_timeout: mycoin_web::client::DEFAULT_TIMEOUT,
        }
    }

    /// The settings the flags and `MYCOIN_*` variables give (reads or creates the API token file).
    /// [`Cli`] has no `--backend` flag (`mycoind` builds it); `MYCOIN_MINER_BACKEND` still
    /// applies.
    pub fn from_cli(cli: &Cli) -> io::Result<Self> {
        let common = &cli.common;
        let server = common
            .server_settings(ServiceKind::Miner)?
            .with_body_limit(BODY_LIMIT);
        Ok(Self {
            server,
            network: mycoin_api::network_of(common.network),
            peer_url: common.base_url(ServiceKind::Peer),
            keys_url: common.base_url(ServiceKind::Keys),
            threads: cli.threads.map_or_else(default_threads, usize::from),
            mine_on_start: cli.mine,
            backend: backend_from_env()?,
            tip_poll: DEFAULT_TIP_POLL,
            client_timeout: mycoin_web::client::DEFAULT_TIMEOUT,
        })
    }

    /// The settings of the `mycoin-miner` binary's command line (its `--backend` flag, or
    /// else `MYCOIN_MINER_BACKEND`).
    pub fn from_command(command: &Command) -> io::Result<Self> {
        Ok(Self::from_cli(&command.cli)?.with_backend(command.search.backend))
    }

    /// The same settings with the nonce search's backend measured or forced.
    pub fn with_backend(mut self, backend: BackendSetting) -> Self {
        self.backend = backend;
        self
    }

    /// The same settings with `threads` search threads (at least one).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The same settings, mining from the start or not.
    pub fn with_mine_on_start(mut self, mine: bool) -> Self {
        self.mine_on_start = mine;
        self
    }

    /// The same settings with the stack's API token.
    pub fn with_api_token(mut self, token: ApiToken) -> Self {
        self.server = self.server.with_api_token(token);
        self
    }
}

/// `MYCOIN_MINER_BACKEND` for callers that build a [`Cli`] themselves (`mycoind`), which
/// clap did not parse it for: `auto` when unset.
fn backend_from_env() -> io::Result<BackendSetting> {
    match std::env::var("MYCOIN_MINER_BACKEND") {
        Ok(value) => BackendSetting::from_str(&value, true).map_err(|err| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("MYCOIN_MINER_BACKEND: {err}"),
            )
        }),
        Err(_) => Ok(BackendSetting::Auto),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_give_settings() {
        let command = Command::try_parse_from([
            "mycoin-miner",
            "--user",
            "2",
            "--network",
            "regtest",
            "--api-token",
            "0123456789abcdef0123",
            "--threads",
            "3",
            "--mine",
            "--backend",
            "sha-ni",
        ])
        .unwrap();
        let settings = Settings::from_command(&command).unwrap();
        assert_eq!(settings.server.port, 8032);
        assert_eq!(settings.network, Network::Regtest);
        assert_eq!(settings.peer_url, "http://127.0.0.1:8002");
        assert_eq!(settings.keys_url, "http://127.0.0.1:8012");
        assert_eq!(settings.threads, 3);
        assert!(settings.mine_on_start);
        assert_eq!(settings.backend.forced(), Some(Backend::ShaNi));
        assert!(Command::try_parse_from(["mycoin-miner", "--threads", "0"]).is_err());
    }

    #[test]
    fn the_backend_is_measured_unless_forced() {
        // A token given: otherwise the settings would create one under ./data.
        let auto = Command::try_parse_from(["mycoin-miner", "--api-token", "0123456789abcdef0123"])
            .unwrap();
        assert_eq!(auto.search.backend, BackendSetting::Auto);
        assert_eq!(
            Settings::from_command(&auto).unwrap().backend.forced(),
            None
        );
        for (name, backend) in [
            ("portable", Backend::Portable),
            ("sha-ni", Backend::ShaNi),
            ("sha_ni", Backend::ShaNi),
            ("avx2", Backend::Avx2),
            ("avx512", Backend::Avx512),
        ] {
            let command = Command::try_parse_from(["mycoin-miner", "--backend", name]).unwrap();
            assert_eq!(command.search.backend.forced(), Some(backend), "{name}");
        }
        assert!(Command::try_parse_from(["mycoin-miner", "--backend", "avx1024"]).is_err());
    }
}
