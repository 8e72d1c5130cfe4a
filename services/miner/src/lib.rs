//! mycoin-miner: the miner service (the book's mine.py).
//!
//! Asks the peer service for a block template, searches a nonce on every core, checks the
//! proof of work and submits the block; once per `POST /mine`, or in the background
//! (`POST /miner/start`), restarting whenever the peer's tip changes.
//!
//! | module | what |
//! |---|---|
//! | [`configuration`] | [`Cli`] (flags, `MYCOIN_*`) and [`Settings`] (also built in code) |
//! | [`startup`] | [`build`]; [`ApiDoc`] |
//! | [`routes`] | the handlers |
//! | [`miner`] | template → search → submit, background mining |
//! | [`search`] | the multi-threaded nonce search, no HTTP |
//! | `sha_ni` | the search's hashing with the x86-64 SHA extensions (x86-64 only) |
//! | `simd` | the search's hashing on AVX2 and AVX-512 vectors, 8 or 16 nonces at once (x86-64 only) |
//! | [`error`] | errors as HTTP answers |
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use mycoin_miner::{Settings, build};
//!
//! let settings = Settings::new(
//!     mycoin_core::Network::Regtest,
//!     0,
//!     "http://127.0.0.1:8001",
//!     "http://127.0.0.1:8011",
//! );
//! let app = build(settings).await?;
//! println!("miner service on port {}", app.port());
//! app.run_until_stopped().await
//! # }
//! ```

pub mod configuration;
pub mod error;
pub mod miner;
pub mod routes;
pub mod search;
#[cfg(target_arch = "x86_64")]
pub mod sha_ni;
#[cfg(target_arch = "x86_64")]
pub mod simd;
pub mod startup;

pub use configuration::{Cli, Settings};
pub use error::MinerError;
pub use miner::Miner;
pub use mycoin_web::Application;
pub use startup::{ApiDoc, build};
