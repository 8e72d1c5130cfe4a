//! mycoin-wallet: the wallet service (the book's wallet.py and sign.py).
//!
//! The wallet's keys are the keys of the keys service; their outputs and balances come from
//! the peer service. A payment is built here, signed input by input by the keys service (the
//! stack's API token is forwarded), and submitted to the peer.
//!
//! | module | what |
//! |---|---|
//! | [`configuration`] | [`Cli`] (flags, `MYCOIN_*`) and [`Settings`] (also built in code) |
//! | [`startup`] | [`build`]; [`ApiDoc`] |
//! | [`routes`] | the handlers |
//! | [`wallet`] | balances, key lists, coin selection, signing, history |
//! | [`store`] | the wallet's table of sent payments (migration 3001) |
//! | [`error`] | errors as HTTP answers |
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use mycoin_wallet::{Settings, build};
//!
//! let settings = Settings::new(
//!     mycoin_core::Network::Regtest,
//!     0,
//!     "http://127.0.0.1:8001",
//!     "http://127.0.0.1:8011",
//!     "sqlite://wallet.sqlite",
//! );
//! let app = build(settings).await?;
//! println!("wallet service on port {}", app.port());
//! app.run_until_stopped().await
//! # }
//! ```

pub mod configuration;
pub mod error;
pub mod light;
pub mod restore;
pub mod routes;
pub mod startup;
pub mod store;
pub mod wallet;

pub use configuration::{Cli, Settings};
pub use error::WalletError;
pub use mycoin_web::Application;
pub use startup::{ApiDoc, build};
pub use wallet::Wallet;
