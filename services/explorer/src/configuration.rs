//! The explorer's settings: from the command line and `MYCOIN_*` variables ([`Cli`]), or built
//! in code ([`Settings`]) by a process that runs several services, such as `mycoind`.

use std::io;
use std::time::Duration;

use clap::Parser;
use mycoin_core::Network;
use mycoin_web::{ApiToken, CommonArgs, ServerSettings, ServiceKind};

/// Largest request body the explorer accepts: it takes none (only `GET`s).
pub const BODY_LIMIT: usize = 4 * 1024;

/// `mycoin-explorer`: the web pages of one user's stack.
#[derive(Debug, Parser)]
#[command(
    name = "mycoin-explorer",
    version,
    about = "mycoin explorer: web pages of the chain and of the race, in Japanese and English"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Everything [`crate::build`] needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub server: ServerSettings,
    /// The network whose addresses the pages show.
    pub network: Network,
    /// Base URL of the stack's peer service: the chain, the mempool, the peers, the events.
    pub peer_url: String,
    /// Base URL of the stack's keys service: which blocks this user's keys mined.
    pub keys_url: String,
    /// Base URL of the stack's wallet service: this user's balance.
    pub wallet_url: String,
    /// Base URL of the stack's miner service: hash rate and blocks found.
    pub miner_url: String,
    /// The stack's API token, which the keys, wallet and miner services demand.
    pub api_token: Option<ApiToken>,
    /// Timeout of each call to the other services.
    pub client_timeout: Duration,
}

impl Settings {
    /// Settings for an explorer of `network` on `127.0.0.1:port` over the services at the
    /// given URLs, without an API token.
    pub fn new(
        network: Network,
        port: u16,
        peer_url: impl Into<String>,
        keys_url: impl Into<String>,
        wallet_url: impl Into<String>,
        miner_url: impl Into<String>,
    ) -> Self {
        Self {
            server: ServerSettings::new(ServiceKind::Explorer.as_str(), "127.0.0.1", port)
                .with_body_limit(BODY_LIMIT),
            network,
            peer_url: peer_url.into(),
            keys_url: keys_url.into(),
            wallet_url: wallet_url.into(),
            miner_url: miner_url.into(),
            api_token: None,
            client_timeout: mycoin_web::client::DEFAULT_TIMEOUT,
        }
    }

    /// The same settings with the stack's API token.
    pub fn with_api_token(mut self, token: ApiToken) -> Self {
        self.api_token = Some(token);
        self
    }

    /// The settings the shared flags and `MYCOIN_*` variables give (reads or creates the API
    /// token file).
    pub fn from_common(common: &CommonArgs) -> io::Result<Self> {
        let server = common
            .server_settings(ServiceKind::Explorer)?
            .with_body_limit(BODY_LIMIT);
        Ok(Self {
            server,
            network: mycoin_api::network_of(common.network),
            peer_url: common.base_url(ServiceKind::Peer),
            keys_url: common.base_url(ServiceKind::Keys),
            wallet_url: common.base_url(ServiceKind::Wallet),
            miner_url: common.base_url(ServiceKind::Miner),
            api_token: Some(common.api_token()?),
            client_timeout: mycoin_web::client::DEFAULT_TIMEOUT,
        })
    }

    /// [`Settings::from_common`] of the command line.
    pub fn from_cli(cli: &Cli) -> io::Result<Self> {
        Self::from_common(&cli.common)
    }
}
