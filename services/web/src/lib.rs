//! HTTP plumbing shared by mycoin's four services (peer, keys, wallet, miner).
//!
//! Nothing here knows about coins: this crate does not depend on `mycoin-core`. It gives every
//! service the same
//!
//! - error responses: [`ApiError`] → `{"error": "<code>", "message": "<sentence>"}`
//!   ([`error`]), also for malformed JSON, bad parameters, oversized bodies and unknown routes
//!   ([`json`]);
//! - API token: [`ApiToken`] in `<data_dir>/api-token`, demanded by the [`Authorized`]
//!   extractor ([`auth`]), and [`SecretString`] for other secrets ([`secret`]);
//! - documentation routes: `/api-docs/openapi.json`, Swagger UI at `/docs`, and `/healthz`
//!   ([`docs`]);
//! - metrics: `GET /metrics` in Prometheus' text format, requests counted and timed by route
//!   pattern and status, and each service's own gauges ([`metrics`]);
//! - server: [`Application`] binds, reports its port and runs ([`server`]), with request logs
//!   and [`init_tracing`] ([`telemetry`]);
//! - client for calling the other services: [`RestClient`] ([`client`]);
//! - `Host` allowlist against DNS rebinding: [`host::AllowedHosts`] ([`host`]);
//! - private files: data directory 0700, its files 0600 ([`files`]);
//! - command line: [`CommonArgs`], the `--user`, `--network`, `--data-dir`, ports and URLs that
//!   every binary shares ([`config`]).
//!
//! A service's `main` is then a few lines:
//!
//! ```no_run
//! use actix_web::{HttpResponse, web};
//! use clap::Parser;
//! use mycoin_web::{Application, Authorized, CommonArgs, ServiceKind, init_tracing};
//! use utoipa::OpenApi;
//!
//! #[derive(OpenApi)]
//! #[openapi(info(title = "mycoin keys service"))]
//! struct ApiDoc;
//!
//! #[derive(Debug, Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     common: CommonArgs,
//! }
//!
//! async fn sign(_auth: Authorized) -> HttpResponse {
//!     HttpResponse::Ok().finish()
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     init_tracing();
//!     let cli = Cli::parse();
//!     let settings = cli.common.server_settings(ServiceKind::Keys)?;
//!     let app = Application::build(settings, ApiDoc::openapi(), |cfg| {
//!         cfg.service(web::resource("/sign").route(web::post().to(sign)));
//!     })?;
//!     app.run_until_stopped().await
//! }
//! ```

pub mod auth;
pub mod client;
pub mod config;
pub mod docs;
pub mod error;
pub mod files;
pub mod host;
pub mod json;
pub mod metrics;
pub mod secret;
pub mod server;
pub mod telemetry;

pub use auth::{ApiToken, Authorized, InvalidApiToken};
pub use client::{ByteStream, ClientError, RestClient};
pub use config::{CommonArgs, NetworkName, ServiceKind};
pub use error::{ApiError, ErrorBody, RETRY_AFTER_SECONDS};
pub use json::{DEFAULT_BODY_LIMIT, JsonObject};
pub use secret::SecretString;
pub use server::{Application, ServerSettings};
pub use telemetry::init_tracing;
