//! The keys service's settings: from the command line ([`Cli`]) or built in code ([`Settings`]),
//! e.g. by `mycoind`, which runs the four services of a stack in one process.

use std::fmt;
use std::io;
use std::path::PathBuf;

use clap::Parser;
use mycoin_core::Network;
use mycoin_web::config::redact_url;
use mycoin_web::{ApiToken, CommonArgs, SecretString, ServerSettings, ServiceKind};

use crate::keystore::{KdfParams, Protection};
use crate::seed::Language;

/// The environment variable naming the wordlist of a new seed's mnemonic.
pub const MNEMONIC_LANGUAGE_VAR: &str = "MYCOIN_MNEMONIC_LANGUAGE";

/// Largest request body the keys service accepts: its bodies are a digest or a WIF.
pub const BODY_LIMIT: usize = 16 * 1024;

/// `mycoin-keys`: the keys service of one user's stack.
#[derive(Debug, Parser)]
#[command(
    name = "mycoin-keys",
    version,
    about = "mycoin keys service: key pairs in an encrypted key store, signing (the book's key.py)"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Everything [`crate::build`] needs. `Debug` hides the passphrase, the API token and any
/// password in the database URL.
#[derive(Clone)]
pub struct Settings {
    /// Where to listen, body limit, API token.
    pub server: ServerSettings,
    /// The network whose keys are made and accepted.
    pub network: Network,
    /// Directory of the key file (when there is no passphrase).
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Passphrase that encrypts the private keys; without one, a key file does.
    pub passphrase: Option<SecretString>,
    /// Argon2id costs for a new passphrase store.
    pub kdf: KdfParams,
    /// Wordlist of the mnemonic made at the first start (`MYCOIN_MNEMONIC_LANGUAGE`: `english`,
    /// the default, or `japanese`).
    pub mnemonic_language: Language,
}

impl Settings {
    /// Settings for a keys service of `network` listening on `127.0.0.1:port`, with its key
    /// file and SQLite database in `data_dir`, the API token `api_token`, no passphrase.
    pub fn new(
        network: Network,
        data_dir: impl Into<PathBuf>,
        port: u16,
        api_token: ApiToken,
    ) -> Self {
        let data_dir = data_dir.into();
        Self {
            server: ServerSettings::new(ServiceKind::Keys.as_str(), "127.0.0.1", port)
                .with_api_token(api_token)
                .with_body_limit(BODY_LIMIT),
            network,
            database_url: format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("mycoin.sqlite").display()
            ),
            data_dir,
            passphrase: None,
            kdf: KdfParams::default(),
            mnemonic_language: Language::English,
        }
    }

    /// The settings the flags and `MYCOIN_*` variables give (reads or creates the API token file).
    pub fn from_common(common: &CommonArgs) -> io::Result<Self> {
        Ok(Self {
            server: common
                .server_settings(ServiceKind::Keys)?
                .with_body_limit(BODY_LIMIT),
            network: mycoin_api::network_of(common.network),
            data_dir: common.data_dir(),
            database_url: common.database_url(),
            passphrase: common.passphrase.clone(),
            kdf: KdfParams::default(),
            mnemonic_language: match std::env::var(MNEMONIC_LANGUAGE_VAR) {
                Ok(name) => name
                    .parse()
                    .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?,
                Err(_) => Language::English,
            },
        })
    }

    /// The same settings with the mnemonic of a new seed in `language`.
    pub fn with_mnemonic_language(mut self, language: Language) -> Self {
        self.mnemonic_language = language;
        self
    }

    /// The same settings with a passphrase.
    pub fn with_passphrase(mut self, passphrase: impl Into<String>) -> Self {
        self.passphrase = Some(SecretString::from(passphrase.into()));
        self
    }

    /// The same settings with another database.
    pub fn with_database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = url.into();
        self
    }

    /// What protects the key store: the passphrase, or else the key file.
    pub fn protection(&self) -> Protection {
        Protection::from_settings(self.passphrase.clone(), self.kdf, &self.data_dir)
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("server", &self.server)
            .field("network", &self.network)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("passphrase", &self.passphrase)
            .field("kdf", &self.kdf)
            .field("mnemonic_language", &self.mnemonic_language)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_give_settings_and_debug_hides_secrets() {
        // A directory of the test's own: building settings tightens the data directory.
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let cli = Cli::try_parse_from([
            "mycoin-keys",
            "--user",
            "2",
            "--network",
            "regtest",
            "--data-dir",
            dir.to_str().unwrap(),
            "--api-token",
            "0123456789abcdef0123",
            "--passphrase",
            "correct horse",
            "--database-url",
            "postgres://u:hunter2@db/mycoin",
        ])
        .unwrap();
        let settings = Settings::from_common(&cli.common).unwrap();
        assert_eq!(settings.server.port, 8012);
        assert_eq!(settings.server.body_limit, BODY_LIMIT);
        assert_eq!(settings.network, Network::Regtest);
        assert!(matches!(settings.protection(), Protection::Passphrase(..)));
        let shown = format!("{settings:?}");
        for secret in ["0123456789abcdef0123", "correct horse", "hunter2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
