//! Building the peer service: open the chain, bind, and serve.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::web;
use mycoin_web::config::redact_url;
use utoipa::OpenApi;

use crate::configuration::{DEFAULT_SYNC_INTERVAL_MS, Settings};
use crate::node::Node;
use crate::peerbook::PeerBook;
use crate::routes::{self, ApiDoc, BodyLimits};
use crate::{metrics, p2p};

/// The peer service, bound and ready to run.
#[derive(Debug)]
pub struct Application {
    server: mycoin_web::Application,
    node: web::Data<Node>,
    sync_interval: Duration,
}

/// Builds the peer service from `settings`: [`Application::build`].
pub async fn build(settings: Settings) -> io::Result<Application> {
    Application::build(settings).await
}

impl Application {
    /// Opens the chain in the database (creating the SQLite file's directory and the tables
    /// when missing; the file and SQLite's `-wal`/`-shm` files mode 0600), then binds the
    /// listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> io::Result<Self> {
        // More configured peers than the book holds is a mistake to say at once.
        let peers = PeerBook::new(settings.peers)
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err.to_string()))?;
        mycoin_web::files::secure_sqlite_file(&settings.database_url)?;
        let node = Node::open(
            settings.network,
            settings.policy,
            &settings.database_url,
            peers,
            settings.sync_timeouts,
        )
        .await
        .map_err(|err| {
            io::Error::other(format!(
                "cannot open the chain in {}: {err}",
                redact_url(&settings.database_url)
            ))
        })?;
        if let Some(url) = settings.public_url {
            // Set first: `with_node` then keeps it instead of the bound address.
            node.set_self_url(url);
        }
        let mut app = Self::with_node(settings.server, node)?;
        app.sync_interval = settings.sync_interval;
        Ok(app)
    }

    /// Binds the service around an opened node (syncing with its peers every
    /// [`DEFAULT_SYNC_INTERVAL_MS`] once running).
    pub fn with_node(server: mycoin_web::ServerSettings, node: Node) -> io::Result<Self> {
        let limits = BodyLimits::for_params(&node.network().params());
        // The app-wide limit is the largest one; each route sets its own.
        let server = server.with_body_limit(limits.block);
        let node = web::Data::new(node);
        let shared = node.clone();
        let server = mycoin_web::Application::build_with_metrics(
            server,
            ApiDoc::openapi(),
            |registry| metrics::register(registry, &node),
            move |cfg| routes::configure(cfg, shared, limits),
        )?;
        let address = server.address();
        let host = if address.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            address.ip().to_string()
        };
        let self_url = if address.is_ipv6() && !address.ip().is_unspecified() {
            format!("http://[{host}]:{}", address.port())
        } else {
            format!("http://{host}:{}", address.port())
        };
        // Unless a public URL was set already.
        node.set_self_url(self_url);
        Ok(Application {
            server,
            node,
            sync_interval: Duration::from_millis(DEFAULT_SYNC_INTERVAL_MS),
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// The node behind the service (for a process that runs more than this service).
    pub fn node(&self) -> web::Data<Node> {
        self.node.clone()
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped, syncing with the peers in the background meanwhile.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let sync = tokio::spawn(p2p::run_sync_task(self.node.clone(), self.sync_interval));
        let result = self.server.run_until_stopped().await;
        sync.abort();
        result
    }
}
