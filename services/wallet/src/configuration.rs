//! The wallet service's settings: from the command line ([`Cli`]) or built in code
//! ([`Settings`]), e.g. by `mycoind`, which runs the four services of a stack in one process.

use std::io;
use std::time::Duration;

use clap::Parser;
use mycoin_core::Network;
use mycoin_web::{ApiToken, CommonArgs, ServerSettings, ServiceKind};

/// Largest request body the wallet accepts: its bodies hold an address and two numbers.
pub const BODY_LIMIT: usize = 16 * 1024;

/// `mycoin-wallet`: the wallet service of one user's stack.
#[derive(Debug, Parser)]
#[command(
    name = "mycoin-wallet",
    version,
    about = "mycoin wallet service: balance, unspent and unused keys, payments (the book's wallet.py and sign.py)"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Everything [`crate::build`] needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen, body limit, API token (demanded by `POST /wallet/addresses` and `POST /wallet/send`).
    pub server: ServerSettings,
    /// The network whose addresses the wallet accepts.
    pub network: Network,
    /// Base URL of the peer service (outputs, balances, submitting transactions).
    pub peer_url: String,
    /// Base URL of the keys service (the wallet's keys, fresh addresses, signatures).
    pub keys_url: String,
    /// `sqlite://…` or `postgres://…`: the stack's database, where the wallet keeps its table
    /// of sent payments.
    pub database_url: String,
    /// Timeout of each call to the peer and keys services.
    pub client_timeout: Duration,
}

impl Settings {
    /// Settings for a wallet of `network` on `127.0.0.1:port` using the peer and keys services
    /// at the given URLs and the database at `database_url`, without an API token.
    pub fn new(
        network: Network,
        port: u16,
        peer_url: impl Into<String>,
        keys_url: impl Into<String>,
        database_url: impl Into<String>,
    ) -> Self {
        Self {
            server: ServerSettings::new(ServiceKind::Wallet.as_str(), "127.0.0.1", port)
                .with_body_limit(BODY_LIMIT),
            network,
            peer_url: peer_url.into(),
            keys_url: keys_url.into(),
            database_url: database_url.into(),
            client_timeout: mycoin_web::client::DEFAULT_TIMEOUT,
        }
    }

    /// The settings the flags and `MYCOIN_*` variables give (reads or creates the API token file).
    pub fn from_cli(cli: &Cli) -> io::Result<Self> {
        let common = &cli.common;
        let server = common
            .server_settings(ServiceKind::Wallet)?
            .with_body_limit(BODY_LIMIT);
        Ok(Self {
            server,
            network: mycoin_api::network_of(common.network),
            peer_url: common.base_url(ServiceKind::Peer),
            keys_url: common.base_url(ServiceKind::Keys),
            database_url: common.database_url(),
            client_timeout: mycoin_web::client::DEFAULT_TIMEOUT,
        })
    }

    /// The same settings with the stack's API token: demanded by `POST /wallet/addresses` and
    /// `POST /wallet/send`, and forwarded to the keys service.
    pub fn with_api_token(mut self, token: ApiToken) -> Self {
        self.server = self.server.with_api_token(token);
        self
    }

    /// The same settings with another timeout for the calls to the other services.
    pub fn with_client_timeout(mut self, timeout: Duration) -> Self {
        self.client_timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_give_settings() {
        let cli = Cli::try_parse_from([
            "mycoin-wallet",
            "--user",
            "2",
            "--network",
            "regtest",
            "--api-token",
            "0123456789abcdef0123",
        ])
        .unwrap();
        let settings = Settings::from_cli(&cli).unwrap();
        assert_eq!(settings.server.port, 8022);
        assert_eq!(settings.network, Network::Regtest);
        assert_eq!(settings.peer_url, "http://127.0.0.1:8002");
        assert_eq!(settings.keys_url, "http://127.0.0.1:8012");
        assert!(settings.server.api_token.is_some());
        assert_eq!(settings.server.body_limit, BODY_LIMIT);
    }
}
