-- The keys service's encrypted key store.
--
-- keys_meta holds how the store is protected: `protection` ("passphrase" or "key_file"), and in
-- passphrase mode the Argon2id `kdf` parameters and `salt`; `check` is a known value encrypted
-- with the store's key, so a wrong passphrase or key file is detected at start-up.
CREATE TABLE keys_meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

-- One row per key pair. The private key is only present as `ciphertext`: XChaCha20-Poly1305 of
-- the 32-byte secret scalar under the store's key, with a random 24-byte `nonce`, and the
-- network, address and public key as associated data (a row's ciphertext cannot be moved to
-- another row). `created_at` is in Unix seconds.
CREATE TABLE keys_entries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    network    TEXT NOT NULL,
    address    TEXT NOT NULL UNIQUE,
    public_key BLOB NOT NULL,
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX keys_entries_by_network ON keys_entries (network, id);
