//! Building the explorer: clients of the stack's services, the live relay, the server.

use std::io;
use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use actix_web::web;
use mycoin_api::client::{KeysClient, MinerClient, PeerClient, RestClient, WalletClient};
use utoipa::OpenApi;

use crate::configuration::Settings;
use crate::live::Live;
use crate::routes::{self, Explorer};

/// The explorer serves pages, not an API: its document lists only the common routes.
#[derive(Debug, OpenApi)]
#[openapi(info(
    title = "mycoin explorer",
    description = "Web pages of a mycoin stack (HTML, in Japanese and English): the race, \
        blocks, transactions, addresses, the mempool, the peers. Only the common routes are \
        an API."
))]
pub struct ApiDoc;

/// The explorer, bound and ready to run.
#[derive(Debug)]
pub struct Application {
    server: mycoin_web::Application,
    explorer: web::Data<Explorer>,
}

/// Builds the explorer from `settings`: [`Application::build`].
pub async fn build(settings: Settings) -> io::Result<Application> {
    Application::build(settings)
}

impl Application {
    /// Makes the clients and binds the listener (port 0 picks a free port).
    pub fn build(settings: Settings) -> io::Result<Self> {
        let client = |url: &str| -> io::Result<RestClient> {
            let rest = RestClient::new(url, settings.client_timeout).map_err(io::Error::other)?;
            Ok(match &settings.api_token {
                Some(token) => rest.with_token(token.clone()),
                None => rest,
            })
        };
        let explorer = web::Data::new(Explorer {
            network: settings.network,
            peer: PeerClient::new(client(&settings.peer_url)?),
            keys: KeysClient::new(client(&settings.keys_url)?),
            wallet: WalletClient::new(client(&settings.wallet_url)?),
            miner: MinerClient::new(client(&settings.miner_url)?),
            live: Live::default(),
        });
        let shared = explorer.clone();
        let server =
            mycoin_web::Application::build(settings.server, ApiDoc::openapi(), move |cfg| {
                routes::configure(cfg, shared)
            })?;
        Ok(Application { server, explorer })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped, following the peer's events meanwhile.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let explorer = self.explorer.clone();
        let follow = tokio::spawn(async move {
            let peer = explorer.peer.clone();
            explorer.live.follow(peer).await;
        });
        let result = self.server.run_until_stopped().await;
        follow.abort();
        result
    }
}
