-- Keys derived from the wallet seed (BIP32, m/44'/C'/0'/chain/child): `chain` is 0 (receive)
-- or 1 (change), `child` the last index. Keys imported as WIF (and the random keys of stores
-- made before seeds) have neither.
--
-- The seed itself is in keys_meta: `seed` holds nonce ‖ XChaCha20-Poly1305 of the 64-byte BIP39
-- seed under the store's key; `mnemonic`, until the mnemonic is shown once, nonce ‖ ciphertext of
-- its language byte and entropy.
ALTER TABLE keys_entries ADD COLUMN chain INTEGER;
ALTER TABLE keys_entries ADD COLUMN child BIGINT;
CREATE UNIQUE INDEX keys_entries_by_path ON keys_entries (network, chain, child);
