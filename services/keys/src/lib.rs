//! mycoin-keys: the keys service (the book's key.py).
//!
//! Makes secp256k1 key pairs, keeps their private keys encrypted at rest (XChaCha20-Poly1305
//! under a key derived with Argon2id from a passphrase, or under a random key file), signs
//! digests and exports / imports keys as WIF. Signing and both directions of WIF need the
//! stack's API token.
//!
//! | module | what |
//! |---|---|
//! | [`configuration`] | [`Cli`] (flags, `MYCOIN_*`) and [`Settings`] (also built in code) |
//! | [`startup`] | [`build`]: database, key store, server; [`ApiDoc`] |
//! | [`routes`] | the handlers |
//! | [`keystore`] | encryption and storage, no HTTP |
//! | [`seed`] | the wallet seed: BIP39 mnemonic (English, Japanese) → BIP32 keys, no HTTP |
//! | [`error`] | errors as HTTP answers |
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use mycoin_keys::{Settings, build};
//! use mycoin_web::ApiToken;
//!
//! let settings = Settings::new(mycoin_core::Network::Regtest, "/tmp/keys", 0, ApiToken::generate()?);
//! let app = build(settings).await?;
//! println!("keys service on port {}", app.port());
//! app.run_until_stopped().await?;
//! # Ok(()) }
//! ```

pub mod configuration;
pub mod error;
pub mod keystore;
pub mod routes;
pub mod seed;
pub mod startup;

pub use configuration::{Cli, Settings};
pub use keystore::{KdfParams, KeyStore, KeyStoreError, Protection};
pub use mycoin_web::Application;
pub use startup::{ApiDoc, StartupError, build, build_with_database};
