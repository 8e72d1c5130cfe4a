//! Binding and running a service's HTTP server.
//!
//! In the style of zero-to-production's `startup.rs`: [`Application::build`] binds the listener
//! at once (port 0 picks a free port, which [`Application::port`] reports), and
//! [`Application::run_until_stopped`] serves until the server is stopped or the process gets a
//! termination signal.
//!
//! Every application gets, around the service's own routes:
//! - JSON, path, query and payload configurations answering bad input in the JSON error shape,
//!   with the body limit of [`ServerSettings::body_limit`] ([`crate::json`]);
//! - the `/api-docs/openapi.json`, `/docs` and `/healthz` routes ([`crate::docs`]);
//! - the API token as `web::Data<ApiToken>`, when [`ServerSettings::api_token`] is set
//!   ([`crate::auth`]);
//! - the `Host` allowlist: 421 for a name the service does not answer to ([`crate::host`]);
//! - a log line per request ([`crate::telemetry`]);
//! - `GET /metrics`, with a request counter and latency histogram by route pattern and status,
//!   and the service's own metrics when built with [`Application::build_with_metrics`]
//!   ([`crate::metrics`]);
//! - a JSON 404 for unknown routes, and JSON bodies for actix's own error responses.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use utoipa::openapi::OpenApi;

use crate::host::{AllowedHosts, HostPattern};
use crate::metrics::{Metrics, Registry};
use crate::{ApiToken, docs, host, json, metrics, telemetry};

/// Worker threads per service: four services may share one process on a small machine.
pub const DEFAULT_WORKERS: usize = 2;
/// How long a stopping server waits for requests in flight.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the services keep an idle client connection open (actix's default, named so that
/// [`crate::RestClient`] can stay below it).
pub const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(5);

/// Where and how a service listens.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The service's name, reported by `/healthz`: `peer`, `keys`, `wallet` or `miner`.
    pub name: String,
    /// Address or host name to bind, e.g. `127.0.0.1` (the default) or `0.0.0.0`.
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Worker threads.
    pub workers: usize,
    /// Time granted to requests in flight when the server stops.
    pub shutdown_timeout: Duration,
    /// The stack's API token, required by handlers taking [`crate::Authorized`].
    pub api_token: Option<ApiToken>,
    /// Names answered beside the loopback names and the bound address ([`crate::host`]).
    pub allowed_hosts: Vec<HostPattern>,
}

impl ServerSettings {
    /// Settings for service `name` on `host:port`, with the default limits and no token.
    pub fn new(name: impl Into<String>, host: impl Into<String>, port: u16) -> Self {
        Self {
            name: name.into(),
            host: host.into(),
            port,
            body_limit: json::DEFAULT_BODY_LIMIT,
            workers: DEFAULT_WORKERS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            api_token: None,
            allowed_hosts: Vec::new(),
        }
    }

    /// The same settings, also answering requests for `hosts` ([`crate::host`]).
    pub fn with_allowed_hosts(mut self, hosts: impl IntoIterator<Item = HostPattern>) -> Self {
        self.allowed_hosts.extend(hosts);
        self
    }

    /// The same settings with the stack's API token.
    pub fn with_api_token(mut self, token: ApiToken) -> Self {
        self.api_token = Some(token);
        self
    }

    /// The same settings with another request body limit.
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }
}

/// A bound, not yet running, HTTP server of one service.
pub struct Application {
    address: SocketAddr,
    server: Server,
}

impl Application {
    /// Binds `settings.host:settings.port` and prepares the server.
    ///
    /// `routes` registers the service's own routes and app data; it runs once per worker, so
    /// state shared by the workers must be created before and moved in as `web::Data`
    /// (which is an `Arc`):
    ///
    /// ```no_run
    /// # use actix_web::{web, HttpResponse};
    /// # use mycoin_web::{Application, ServerSettings};
    /// # async fn run(openapi: utoipa::openapi::OpenApi) -> std::io::Result<()> {
    /// let counter = web::Data::new(std::sync::atomic::AtomicU64::new(0));
    /// let app = Application::build(ServerSettings::new("miner", "127.0.0.1", 0), openapi, move |cfg| {
    ///     cfg.app_data(counter.clone())
    ///         .service(web::resource("/count").route(web::get().to(HttpResponse::Ok)));
    /// })?;
    /// println!("listening on {}", app.port());
    /// app.run_until_stopped().await
    /// # }
    /// ```
    ///
    /// `openapi` is the service's own document; the common routes are added to it
    /// ([`docs::complete`]).
    pub fn build<F>(settings: ServerSettings, openapi: OpenApi, routes: F) -> io::Result<Self>
    where
        F: FnOnce(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        Self::build_with_metrics(settings, openapi, |_| {}, routes)
    }

    /// Like [`Application::build`], with the service's own metrics: `register_metrics` adds
    /// them to the registry served at `/metrics` (see [`crate::metrics`]), once.
    pub fn build_with_metrics<M, F>(
        settings: ServerSettings,
        openapi: OpenApi,
        register_metrics: M,
        routes: F,
    ) -> io::Result<Self>
    where
        M: FnOnce(&mut Registry),
        F: FnOnce(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let listener =
            TcpListener::bind((settings.host.as_str(), settings.port)).map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!(
                        "{} service cannot listen on {}:{}: {err}",
                        settings.name, settings.host, settings.port
                    ),
                )
            })?;
        let address = listener.local_addr()?;

        let name = settings.name.clone();
        let body_limit = settings.body_limit;
        let token = settings.api_token.map(web::Data::new);
        let hosts =
            web::Data::new(AllowedHosts::for_address(address).allow(settings.allowed_hosts));
        let openapi = docs::complete(openapi);
        let metrics = web::Data::new(Metrics::new(register_metrics));
        let server = HttpServer::new(move || {
            let mut app = App::new()
                // The last `wrap` is the outermost: the log sees the final status.
                .wrap(from_fn(host::check_host))
                .wrap(json::error_normalizer())
                .wrap(from_fn(telemetry::log_request))
                // Outside the log: its time includes the log line's.
                .wrap(from_fn(metrics::observe_request))
                .app_data(metrics.clone())
                .app_data(json::json_config(body_limit))
                .app_data(json::payload_config(body_limit))
                .app_data(json::path_config())
                .app_data(json::query_config())
                .app_data(hosts.clone());
            if let Some(token) = &token {
                app = app.app_data(token.clone());
            }
            let openapi = openapi.clone();
            app.configure(|cfg| docs::configure(cfg, &name, openapi))
                .configure(|cfg| metrics::configure(cfg, metrics.clone()))
                .configure(routes.clone())
                .default_service(web::to(json::route_not_found))
        })
        .workers(settings.workers)
        .keep_alive(KEEP_ALIVE)
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        .listen(listener)?
        .run();

        tracing::info!(service = %settings.name, %address, "listening");
        Ok(Self { address, server })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A handle to stop the server from elsewhere (`handle.stop(true).await`).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        self.server.await
    }
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}
