-- The peer service's chain state. Every block with a valid header and body is kept; the active
-- chain, the unspent outputs and the undo data change only inside one database transaction per
-- reorganisation, so a crash leaves either the old tip or the new one.
CREATE TABLE chain_blocks (
    hash       BYTEA PRIMARY KEY NOT NULL,
    prev_hash  BYTEA NOT NULL,
    height     BIGINT NOT NULL,
    chain_work BYTEA NOT NULL,
    header     BYTEA NOT NULL,
    body       BYTEA NOT NULL,
    invalid    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE chain_active (
    height BIGINT PRIMARY KEY NOT NULL,
    hash   BYTEA NOT NULL
);

CREATE TABLE chain_utxos (
    txid        BYTEA NOT NULL,
    vout        BIGINT NOT NULL,
    pubkey_hash BYTEA NOT NULL,
    coin        BYTEA NOT NULL,
    PRIMARY KEY (txid, vout)
);
CREATE INDEX chain_utxos_by_pubkey_hash ON chain_utxos (pubkey_hash);

CREATE TABLE chain_undo (
    hash BYTEA PRIMARY KEY NOT NULL,
    data BYTEA NOT NULL
);

CREATE TABLE chain_tx_index (
    txid       BYTEA NOT NULL,
    block_hash BYTEA NOT NULL,
    position   BIGINT NOT NULL,
    PRIMARY KEY (txid, block_hash)
);
