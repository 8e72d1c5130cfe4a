//! The encrypted key store: the keys service's logic, without HTTP.
//!
//! Private keys never sit in plain text in the database. Each one is encrypted with
//! XChaCha20-Poly1305 under the store's 32-byte key, with a random 24-byte nonce and the row's
//! network, address and public key as associated data. The store's key is either
//!
//! - derived with Argon2id from a passphrase and a random salt kept in `keys_meta`, or
//! - when no passphrase is given, a random key file `<data_dir>/keys.key` (mode 0600).
//!
//! `keys_meta` also records which of the two protects the store and a known value encrypted
//! with the store's key, so that a wrong passphrase, a missing passphrase or another key file
//! is refused at start-up with an error saying so, never later on a signing request.
//!
//! The store also keeps the wallet seed (see [`crate::seed`]), encrypted under the same key: the
//! 64-byte BIP39 seed, made at the first start from a new 24-word mnemonic, and that mnemonic's
//! entropy until it has been shown once ([`KeyStore::take_mnemonic`]). Keys derived from the
//! seed are stored like the others (their private key encrypted), with their chain and index.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use mycoin_core::{Address, Database, Network, PrivateKey, PublicKey, Signature, StoreError};
use mycoin_web::SecretString;
use sqlx::Row;
use sqlx::migrate::Migrator;
use zeroize::Zeroizing;

use crate::seed::{Chain, Language, MAX_INDEX, Phrase, Seed, SeedError};

static KEYS_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static KEYS_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// Name of the key file in the data directory.
pub const KEY_FILE_NAME: &str = mycoin_web::files::KEY_FILE_NAME;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const SALT_LEN: usize = 16;
const CHECK_PLAINTEXT: &[u8] = b"mycoin keys store v1";
const CHECK_AAD: &[u8] = b"mycoin keys_meta check";

const META_PROTECTION: &str = "protection";
const META_KDF: &str = "kdf";
const META_SALT: &str = "salt";
const META_CHECK: &str = "check";
const META_SEED: &str = "seed";
const META_MNEMONIC: &str = "mnemonic";
const SEED_AAD: &[u8] = b"mycoin keys_meta seed";
const MNEMONIC_AAD: &[u8] = b"mycoin keys_meta mnemonic";

pub use mycoin_api::seed::MAX_DERIVED_PER_CALL;

const PROTECTION_PASSPHRASE: &[u8] = b"passphrase";
const PROTECTION_KEY_FILE: &[u8] = b"key_file";

/// Argon2id cost parameters, used when a passphrase store is created (an existing store keeps
/// the parameters recorded in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane. A fraction of a second, once at
    /// start-up.
    fn default() -> Self {
        Self {
            m_cost: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

impl KdfParams {
    fn encode(&self) -> Vec<u8> {
        format!(
            "argon2id:m={},t={},p={}",
            self.m_cost, self.t_cost, self.p_cost
        )
        .into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let rest = text.strip_prefix("argon2id:")?;
        let mut params = [None; 3];
        for (slot, (part, name)) in params
            .iter_mut()
            .zip(rest.split(',').zip(["m=", "t=", "p="]))
        {
            *slot = part.strip_prefix(name)?.parse::<u32>().ok();
        }
        Some(Self {
            m_cost: params[0]?,
            t_cost: params[1]?,
            p_cost: params[2]?,
        })
    }
}

/// What protects the store's key.
#[derive(Clone)]
pub enum Protection {
    /// A passphrase, stretched with Argon2id (parameters for a new store).
    Passphrase(SecretString, KdfParams),
    /// A random key file (created if the store is new).
    KeyFile(PathBuf),
}

impl Protection {
    /// The passphrase if there is one, else the key file `<data_dir>/keys.key`.
    pub fn from_settings(
        passphrase: Option<SecretString>,
        kdf: KdfParams,
        data_dir: &Path,
    ) -> Self {
        match passphrase {
            Some(passphrase) => Self::Passphrase(passphrase, kdf),
            None => Self::KeyFile(data_dir.join(KEY_FILE_NAME)),
        }
    }
}

impl fmt::Debug for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Passphrase(_, kdf) => write!(f, "Passphrase([redacted], {kdf:?})"),
            Self::KeyFile(path) => write!(f, "KeyFile({})", path.display()),
        }
    }
}

/// Why the key store failed. No variant carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("key store database error: {0}")]
    Store(#[from] StoreError),
    #[error("key store database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the passphrase does not unlock the key store: it was created with another passphrase")]
    WrongPassphrase,
    #[error(
        "the key file {} does not unlock the key store: it was created with another key file",
        .0.display()
    )]
    WrongKeyFile(PathBuf),
    #[error(
        "the key store is protected by a passphrase: start the service with --passphrase or \
         MYCOIN_PASSPHRASE"
    )]
    PassphraseRequired,
    #[error(
        "the key store is protected by its key file ({KEY_FILE_NAME} in the data directory), not \
         by a passphrase: start the service without --passphrase / MYCOIN_PASSPHRASE"
    )]
    KeyFileRequired,
    #[error(
        "the key file {} is missing, but the key store was created with one: restore the file \
         from a backup",
        .0.display()
    )]
    KeyFileMissing(PathBuf),
    #[error("key file {}: {source}", .path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the system random generator failed: {0}")]
    Random(String),
    #[error("key derivation failed: {0}")]
    Kdf(String),
    #[error("corrupt key store: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error(
        "the key store already holds {keys} key(s): a seed is restored only into an empty data \
         directory"
    )]
    NotEmpty { keys: i64 },
    #[error("chain {} has handed out every index up to {MAX_INDEX}", .0.name())]
    ChainExhausted(Chain),
}

/// A stored key pair, without its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub address: Address,
    pub public_key: PublicKey,
    /// Unix seconds.
    pub created_at: i64,
    /// Chain and index when derived from the seed; `None` for an imported key.
    pub derivation: Option<(Chain, u32)>,
}

/// The store's cipher. `Debug` shows nothing of the key.
#[derive(Clone)]
struct Cipher(XChaCha20Poly1305);

impl Cipher {
    fn new(key: &[u8; KEY_LEN]) -> Self {
        Self(XChaCha20Poly1305::new(&(*key).into()))
    }

    fn encrypt(
        &self,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<([u8; NONCE_LEN], Vec<u8>), KeyStoreError> {
        let nonce: [u8; NONCE_LEN] = random_bytes()?;
        let ciphertext = self
            .0
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| KeyStoreError::Corrupt("encryption failed".into()))?;
        Ok((nonce, ciphertext))
    }

    /// `None` when the ciphertext is not authentic under this key and `aad`.
    fn decrypt(&self, nonce: &[u8], ciphertext: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.0
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .ok()
    }
}

/// The encrypted key store of one network, in the stack's database.
#[derive(Clone)]
pub struct KeyStore {
    db: Database,
    network: Network,
    cipher: Cipher,
    /// Keys of this network in the store: counted at opening, then one more per new key.
    count: Arc<AtomicU64>,
    /// Held while a derived key is chosen and stored, or the seed replaced.
    derive_lock: Arc<tokio::sync::Mutex<()>>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore")
            .field("backend", &self.db.backend())
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// Creates the keys tables if needed and unlocks the store with `protection`: derives the
    /// passphrase's key (once) or reads / creates the key file, and checks it against the store.
    pub async fn open(
        db: Database,
        network: Network,
        protection: Protection,
    ) -> Result<Self, KeyStoreError> {
        Self::open_with_language(db, network, protection, Language::English).await
    }

    /// Like [`KeyStore::open`]; a store without a seed gets one from a new mnemonic of
    /// `language`.
    pub async fn open_with_language(
        db: Database,
        network: Network,
        protection: Protection,
        language: Language,
    ) -> Result<Self, KeyStoreError> {
        db.migrate(&KEYS_SQLITE, &KEYS_POSTGRES).await?;
        let meta = Meta { db: &db };
        let stored = meta.get(META_PROTECTION).await?;
        let key = match &protection {
            Protection::Passphrase(passphrase, kdf) => {
                match stored.as_deref() {
                    Some(PROTECTION_PASSPHRASE) => {}
                    None => {
                        let salt: [u8; SALT_LEN] = random_bytes()?;
                        meta.insert_all(&[
                            (META_PROTECTION, PROTECTION_PASSPHRASE),
                            (META_KDF, &kdf.encode()),
                            (META_SALT, &salt),
                        ])
                        .await?;
                        // Another process may have created the store first: read what won.
                        if meta.get(META_PROTECTION).await?.as_deref()
                            != Some(PROTECTION_PASSPHRASE)
                        {
                            return Err(KeyStoreError::KeyFileRequired);
                        }
                    }
                    Some(_) => {
                        return Err(KeyStoreError::KeyFileRequired);
                    }
                }
                let kdf = meta
                    .get(META_KDF)
                    .await?
                    .and_then(|bytes| KdfParams::decode(&bytes))
                    .ok_or_else(|| {
                        KeyStoreError::Corrupt("missing or bad KDF parameters".into())
                    })?;
                let salt = meta
                    .get(META_SALT)
                    .await?
                    .ok_or_else(|| KeyStoreError::Corrupt("missing salt".into()))?;
                derive_key(passphrase.clone(), salt, kdf).await?
            }
            Protection::KeyFile(path) => {
                match stored.as_deref() {
                    Some(PROTECTION_KEY_FILE) => {}
                    None => {
                        meta.insert_all(&[(META_PROTECTION, PROTECTION_KEY_FILE)])
                            .await?;
                        if meta.get(META_PROTECTION).await?.as_deref() != Some(PROTECTION_KEY_FILE)
                        {
                            return Err(KeyStoreError::PassphraseRequired);
                        }
                    }
                    Some(_) => return Err(KeyStoreError::PassphraseRequired),
                }
                let may_create = meta.get(META_CHECK).await?.is_none();
                load_or_create_key_file(path, may_create)?
            }
        };
        let cipher = Cipher::new(&key);

        if meta.get(META_CHECK).await?.is_none() {
            let (nonce, ciphertext) = cipher.encrypt(CHECK_PLAINTEXT, CHECK_AAD)?;
            let mut check = nonce.to_vec();
            check.extend_from_slice(&ciphertext);
            meta.insert_all(&[(META_CHECK, &check)]).await?;
        }
        let check = meta
            .get(META_CHECK)
            .await?
            .ok_or_else(|| KeyStoreError::Corrupt("missing check value".into()))?;
        if check.len() < NONCE_LEN {
            return Err(KeyStoreError::Corrupt("short check value".into()));
        }
        let (nonce, ciphertext) = check.split_at(NONCE_LEN);
        match cipher.decrypt(nonce, ciphertext, CHECK_AAD) {
            Some(plain) if plain == CHECK_PLAINTEXT => {}
            _ => {
                return Err(match protection {
                    Protection::Passphrase(..) => KeyStoreError::WrongPassphrase,
                    Protection::KeyFile(path) => KeyStoreError::WrongKeyFile(path),
                });
            }
        }
        if meta.get(META_SEED).await?.is_none() {
            let phrase = Phrase::generate(language)?;
            let seed = phrase.to_seed("");
            let mut stored_mnemonic = Zeroizing::new(vec![language.code()]);
            stored_mnemonic.extend_from_slice(&phrase.entropy());
            let seed_row = sealed(&cipher, seed.expose_secret(), SEED_AAD)?;
            let mnemonic_row = sealed(&cipher, &stored_mnemonic, MNEMONIC_AAD)?;
            meta.insert_all(&[(META_SEED, &seed_row), (META_MNEMONIC, &mnemonic_row)])
                .await?;
            tracing::info!(
                language = language.name(),
                "made a new wallet seed; its mnemonic can be shown once (POST /seed/mnemonic)"
            );
        }
        tracing::info!(
            network = network.name(),
            protection = match protection {
                Protection::Passphrase(..) => "passphrase",
                Protection::KeyFile(..) => "key file",
            },
            "key store unlocked"
        );
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM keys_entries WHERE network = $1")
            .bind(network.name())
            .fetch_one(db.pool())
            .await?;
        Ok(Self {
            db,
            network,
            cipher,
            count: Arc::new(AtomicU64::new(u64::try_from(count).unwrap_or(0))),
            derive_lock: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The wallet seed, decrypted.
    async fn seed(&self) -> Result<Seed, KeyStoreError> {
        let meta = Meta { db: &self.db };
        let row = meta
            .get(META_SEED)
            .await?
            .ok_or_else(|| KeyStoreError::Corrupt("the wallet seed is missing".into()))?;
        let plain =
            Zeroizing::new(unsealed(&self.cipher, &row, SEED_AAD).ok_or_else(|| {
                KeyStoreError::Corrupt("the wallet seed does not decrypt".into())
            })?);
        let bytes: [u8; 64] = plain
            .as_slice()
            .try_into()
            .map_err(|_| KeyStoreError::Corrupt("the wallet seed is not 64 bytes".into()))?;
        Ok(Seed::from_bytes(bytes))
    }

    /// The index the next key of `chain` gets: one past the highest stored.
    pub async fn next_index(&self, chain: Chain) -> Result<u32, KeyStoreError> {
        let highest: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(child) FROM keys_entries WHERE network = $1 AND chain = $2",
        )
        .bind(self.network.name())
        .bind(i64::from(chain.number()))
        .fetch_one(self.db.pool())
        .await?;
        match highest {
            None => Ok(0),
            Some(highest) => u32::try_from(highest + 1)
                .ok()
                .filter(|next| *next <= MAX_INDEX)
                .ok_or(KeyStoreError::ChainExhausted(chain)),
        }
    }

    /// Derives and stores the next key of `chain` (`POST /keys`: the receiving chain; the
    /// wallet's change: the change chain).
    pub async fn next_key(&self, chain: Chain) -> Result<StoredKey, KeyStoreError> {
        let _one_at_a_time = self.derive_lock.lock().await;
        let index = self.next_index(chain).await?;
        let key = self.seed().await?.chain_key(chain)?.key(index)?;
        let (stored, _) = self.insert_with(&key, Some((chain, index))).await?;
        Ok(stored)
    }

    /// Stores every key of `chain` below `next` not stored yet (a restore, after its scan),
    /// so that the chain's next key is `next` (or stays where it is if that is further).
    /// Returns the chain's next index.
    pub async fn store_up_to(&self, chain: Chain, next: u32) -> Result<u32, KeyStoreError> {
        let _one_at_a_time = self.derive_lock.lock().await;
        let from = self.next_index(chain).await?;
        if next <= from {
            return Ok(from);
        }
        let chain_key = self.seed().await?.chain_key(chain)?;
        for index in from..next {
            let key = chain_key.key(index)?;
            self.insert_with(&key, Some((chain, index))).await?;
        }
        Ok(next)
    }

    /// The addresses of `count` keys of `chain` from index `from`, derived but not stored (a
    /// restore's scan). `count` is capped at [`MAX_DERIVED_PER_CALL`].
    pub async fn derived_addresses(
        &self,
        chain: Chain,
        from: u32,
        count: u32,
    ) -> Result<Vec<Address>, KeyStoreError> {
        let chain_key = self.seed().await?.chain_key(chain)?;
        let end = from
            .saturating_add(count.min(MAX_DERIVED_PER_CALL))
            .min(MAX_INDEX.saturating_add(1));
        (from..end)
            .map(|index| {
                let key = chain_key.key(index)?;
                Ok(Address::new(self.network, key.public_key().pubkey_hash()))
            })
            .collect()
    }

    /// Whether the mnemonic made at the first start is still there to be shown.
    pub async fn mnemonic_available(&self) -> Result<bool, KeyStoreError> {
        Ok(Meta { db: &self.db }.get(META_MNEMONIC).await?.is_some())
    }

    /// The mnemonic of the seed made at the first start, once: it is deleted from the store as
    /// it is returned. `None` when it was shown already, or the seed was restored.
    pub async fn take_mnemonic(&self) -> Result<Option<Phrase>, KeyStoreError> {
        let _one_at_a_time = self.derive_lock.lock().await;
        let meta = Meta { db: &self.db };
        let Some(row) = meta.get(META_MNEMONIC).await? else {
            return Ok(None);
        };
        let plain = Zeroizing::new(
            unsealed(&self.cipher, &row, MNEMONIC_AAD)
                .ok_or_else(|| KeyStoreError::Corrupt("the mnemonic does not decrypt".into()))?,
        );
        let (language, entropy) = plain
            .split_first()
            .and_then(|(code, entropy)| Some((Language::from_code(*code)?, entropy)))
            .ok_or_else(|| KeyStoreError::Corrupt("bad stored mnemonic".into()))?;
        let phrase = Phrase::from_entropy(language, entropy)?;
        meta.delete(META_MNEMONIC).await?;
        Ok(Some(phrase))
    }

    /// Replaces the seed with the one of `phrase` and `passphrase` (BIP39's optional
    /// passphrase), in a store that holds no key yet (of any network): a restore. The new
    /// seed's mnemonic is the user's, so none is kept to be shown.
    pub async fn restore(&self, phrase: &Phrase, passphrase: &str) -> Result<(), KeyStoreError> {
        let _one_at_a_time = self.derive_lock.lock().await;
        let seed = phrase.to_seed(passphrase);
        let row = sealed(&self.cipher, seed.expose_secret(), SEED_AAD)?;
        let mut tx = self.db.pool().begin().await?;
        let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM keys_entries")
            .fetch_one(&mut *tx)
            .await?;
        if keys > 0 {
            return Err(KeyStoreError::NotEmpty { keys });
        }
        sqlx::query("DELETE FROM keys_meta WHERE name = $1 OR name = $2")
            .bind(META_SEED)
            .bind(META_MNEMONIC)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO keys_meta (name, value) VALUES ($1, $2)")
            .bind(META_SEED)
            .bind(row)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!("restored the wallet seed from a mnemonic");
        Ok(())
    }

    /// Keys of this network in the store (counted when it was opened, plus the keys this
    /// process added since): cheap, for the metrics.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The network whose keys this store serves.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The database underneath.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Makes and stores a new random key pair.
    pub async fn generate(&self) -> Result<StoredKey, KeyStoreError> {
        let key = PrivateKey::generate();
        let (stored, _) = self.insert(&key).await?;
        Ok(stored)
    }

    /// Stores `key`. Returns the stored key and whether it is new (`false`: it was already
    /// there, nothing changed).
    pub async fn import(&self, key: &PrivateKey) -> Result<(StoredKey, bool), KeyStoreError> {
        self.insert(key).await
    }

    async fn insert(&self, key: &PrivateKey) -> Result<(StoredKey, bool), KeyStoreError> {
        self.insert_with(key, None).await
    }

    async fn insert_with(
        &self,
        key: &PrivateKey,
        derivation: Option<(Chain, u32)>,
    ) -> Result<(StoredKey, bool), KeyStoreError> {
        let public_key = key.public_key();
        let address = Address::new(self.network, public_key.pubkey_hash());
        let address_text = address.to_string();
        let mut secret = key.secret_bytes();
        let encrypted = self
            .cipher
            .encrypt(&secret, &aad(self.network, &address_text, &public_key));
        secret.fill(0);
        let (nonce, ciphertext) = encrypted?;
        let created_at = now();
        let inserted = sqlx::query(
            "INSERT INTO keys_entries \
             (network, address, public_key, nonce, ciphertext, created_at, chain, child) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (address) DO NOTHING",
        )
        .bind(self.network.name())
        .bind(address_text.as_str())
        .bind(public_key.as_bytes().to_vec())
        .bind(nonce.to_vec())
        .bind(ciphertext)
        .bind(created_at)
        .bind(derivation.map(|(chain, _)| i64::from(chain.number())))
        .bind(derivation.map(|(_, index)| i64::from(index)))
        .execute(self.db.pool())
        .await?
        .rows_affected()
            == 1;
        if inserted {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        let stored = self
            .get(&address)
            .await?
            .ok_or_else(|| KeyStoreError::Corrupt("a key vanished after its insertion".into()))?;
        Ok((stored, inserted))
    }

    /// Every key of this network, oldest first.
    pub async fn list(&self) -> Result<Vec<StoredKey>, KeyStoreError> {
        let rows = sqlx::query(
            "SELECT address, public_key, created_at, chain, child FROM keys_entries WHERE network = $1 \
             ORDER BY id",
        )
        .bind(self.network.name())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(|row| self.stored_key(row)).collect()
    }

    /// The key of `address`, if stored.
    pub async fn get(&self, address: &Address) -> Result<Option<StoredKey>, KeyStoreError> {
        let row = sqlx::query(
            "SELECT address, public_key, created_at, chain, child FROM keys_entries \
             WHERE network = $1 AND address = $2",
        )
        .bind(self.network.name())
        .bind(address.to_string())
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(|row| self.stored_key(row)).transpose()
    }

    /// The private key of `address`, decrypted, if stored.
    pub async fn private_key(
        &self,
        address: &Address,
    ) -> Result<Option<PrivateKey>, KeyStoreError> {
        let row = sqlx::query(
            "SELECT address, public_key, nonce, ciphertext FROM keys_entries \
             WHERE network = $1 AND address = $2",
        )
        .bind(self.network.name())
        .bind(address.to_string())
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let address_text: String = row.try_get("address")?;
        let public_key = public_key_of(row.try_get("public_key")?)?;
        let nonce: Vec<u8> = row.try_get("nonce")?;
        let ciphertext: Vec<u8> = row.try_get("ciphertext")?;
        let corrupt =
            || KeyStoreError::Corrupt(format!("the stored key of {address} does not decrypt"));
        let mut plain = self
            .cipher
            .decrypt(
                &nonce,
                &ciphertext,
                &aad(self.network, &address_text, &public_key),
            )
            .ok_or_else(corrupt)?;
        let secret: Result<[u8; 32], _> = plain.as_slice().try_into();
        plain.fill(0);
        let mut secret = secret.map_err(|_| corrupt())?;
        let key = PrivateKey::from_bytes(&secret);
        secret.fill(0);
        let key = key.map_err(|_| corrupt())?;
        if key.public_key() != public_key {
            return Err(corrupt());
        }
        Ok(Some(key))
    }

    /// Signs the 32-byte `digest` with the key of `address` (RFC 6979, low-S).
    pub async fn sign(
        &self,
        address: &Address,
        digest: &[u8; 32],
    ) -> Result<Option<(Signature, PublicKey)>, KeyStoreError> {
        Ok(self
            .private_key(address)
            .await?
            .map(|key| (key.sign(digest), key.public_key())))
    }

    fn stored_key(&self, row: &sqlx::any::AnyRow) -> Result<StoredKey, KeyStoreError> {
        let address_text: String = row.try_get("address")?;
        let address = Address::parse_for(&address_text, self.network).map_err(|err| {
            KeyStoreError::Corrupt(format!("stored address {address_text}: {err}"))
        })?;
        let public_key = public_key_of(row.try_get("public_key")?)?;
        if public_key.pubkey_hash() != address.pubkey_hash() {
            return Err(KeyStoreError::Corrupt(format!(
                "the stored public key of {address} does not match it"
            )));
        }
        let chain: Option<i64> = row.try_get("chain")?;
        let child: Option<i64> = row.try_get("child")?;
        let derivation = match (chain, child) {
            (Some(chain), Some(child)) => Some((
                Chain::from_number(chain).ok_or_else(|| {
                    KeyStoreError::Corrupt(format!("stored chain {chain} of {address}"))
                })?,
                u32::try_from(child).map_err(|_| {
                    KeyStoreError::Corrupt(format!("stored index {child} of {address}"))
                })?,
            )),
            _ => None,
        };
        Ok(StoredKey {
            address,
            public_key,
            created_at: row.try_get("created_at")?,
            derivation,
        })
    }
}

fn public_key_of(bytes: Vec<u8>) -> Result<PublicKey, KeyStoreError> {
    PublicKey::from_slice(&bytes)
        .map_err(|err| KeyStoreError::Corrupt(format!("stored public key: {err}")))
}

/// Associated data of a key row: what the ciphertext belongs to.
fn aad(network: Network, address: &str, public_key: &PublicKey) -> Vec<u8> {
    let mut aad = Vec::with_capacity(80);
    aad.extend_from_slice(b"mycoin keys_entries\0");
    aad.extend_from_slice(network.name().as_bytes());
    aad.push(0);
    aad.extend_from_slice(address.as_bytes());
    aad.push(0);
    aad.extend_from_slice(public_key.as_bytes());
    aad
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// nonce ‖ ciphertext of `plain`, for a keys_meta row.
fn sealed(cipher: &Cipher, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
    let (nonce, ciphertext) = cipher.encrypt(plain, aad)?;
    let mut row = nonce.to_vec();
    row.extend_from_slice(&ciphertext);
    Ok(row)
}

/// The plaintext of a [`sealed`] row, if authentic.
fn unsealed(cipher: &Cipher, row: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    if row.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = row.split_at(NONCE_LEN);
    cipher.decrypt(nonce, ciphertext, aad)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], KeyStoreError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| KeyStoreError::Random(err.to_string()))?;
    Ok(bytes)
}

/// Argon2id of the passphrase, on a blocking thread (it takes a fraction of a second).
async fn derive_key(
    passphrase: SecretString,
    salt: Vec<u8>,
    kdf: KdfParams,
) -> Result<[u8; KEY_LEN], KeyStoreError> {
    tokio::task::spawn_blocking(move || {
        let params = Params::new(kdf.m_cost, kdf.t_cost, kdf.p_cost, Some(KEY_LEN))
            .map_err(|err| KeyStoreError::Kdf(err.to_string()))?;
        let mut key = [0u8; KEY_LEN];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase.expose_secret().as_bytes(), &salt, &mut key)
            .map_err(|err| KeyStoreError::Kdf(err.to_string()))?;
        Ok(key)
    })
    .await
    .map_err(|err| KeyStoreError::Kdf(err.to_string()))?
}

/// Reads the 32-byte key file, or creates it (mode 0600, its directory 0700) when `may_create`.
///
/// Safe against another service creating it at the same moment: the file is written under a
/// temporary name and linked into place, so nobody reads half a key and all end with one key.
fn load_or_create_key_file(path: &Path, may_create: bool) -> Result<[u8; KEY_LEN], KeyStoreError> {
    let file_error = |source: io::Error| KeyStoreError::KeyFile {
        path: path.to_owned(),
        source,
    };
    match read_key_file(path) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        other => return other.map_err(file_error),
    }
    if !may_create {
        return Err(KeyStoreError::KeyFileMissing(path.to_owned()));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(file_error)?;

    let mut key: [u8; KEY_LEN] = random_bytes()?;
    let suffix: [u8; 8] = random_bytes()?;
    let temporary = dir.join(format!(".{KEY_FILE_NAME}.{}.tmp", hex::encode(suffix)));
    let written = write_private_file(&temporary, &key);
    let linked = written.and_then(|()| fs::hard_link(&temporary, path));
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created a new key file for the key store");
            Ok(key)
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            key.fill(0);
            read_key_file(path).map_err(file_error)
        }
        Err(err) => {
            key.fill(0);
            Err(file_error(err))
        }
    }
}

fn read_key_file(path: &Path) -> io::Result<[u8; KEY_LEN]> {
    let mut bytes = fs::read(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if fs::metadata(path)?.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "the key file can be read by other users; run `chmod 600` on it"
            );
        }
    }
    let key: Result<[u8; KEY_LEN], _> = bytes.as_slice().try_into();
    bytes.fill(0);
    key.map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a key file holds exactly {KEY_LEN} bytes"),
        )
    })
}

fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// The keys_meta table.
struct Meta<'a> {
    db: &'a Database,
}

impl Meta<'_> {
    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, KeyStoreError> {
        let row = sqlx::query("SELECT value FROM keys_meta WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("value")?),
            None => None,
        })
    }

    async fn delete(&self, name: &str) -> Result<(), KeyStoreError> {
        sqlx::query("DELETE FROM keys_meta WHERE name = $1")
            .bind(name)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Inserts the rows in one transaction, keeping any that already exist.
    async fn insert_all(&self, rows: &[(&str, &[u8])]) -> Result<(), KeyStoreError> {
        let mut tx = self.db.pool().begin().await?;
        for (name, value) in rows {
            sqlx::query(
                "INSERT INTO keys_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(*name)
            .bind(value.to_vec())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdf_params_round_trip() {
        let params = KdfParams::default();
        assert_eq!(KdfParams::decode(&params.encode()), Some(params));
        assert_eq!(KdfParams::decode(b"argon2id:m=1,t=2"), None);
        assert_eq!(KdfParams::decode(b"scrypt:m=1,t=2,p=3"), None);
    }

    #[test]
    fn protection_debug_hides_the_passphrase() {
        let protection = Protection::Passphrase(
            SecretString::from("hunter2 hunter2".to_owned()),
            KdfParams::default(),
        );
        assert!(!format!("{protection:?}").contains("hunter2"));
    }

    #[test]
    fn ciphertexts_are_bound_to_their_row() {
        let cipher = Cipher::new(&[9u8; KEY_LEN]);
        let (nonce, ciphertext) = cipher.encrypt(b"secret", b"row 1").unwrap();
        assert_eq!(
            cipher.decrypt(&nonce, &ciphertext, b"row 1").as_deref(),
            Some(&b"secret"[..])
        );
        assert_eq!(cipher.decrypt(&nonce, &ciphertext, b"row 2"), None);
        assert_eq!(
            Cipher::new(&[8u8; KEY_LEN]).decrypt(&nonce, &ciphertext, b"row 1"),
            None
        );
    }
}
