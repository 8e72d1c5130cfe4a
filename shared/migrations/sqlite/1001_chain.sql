-- The peer service's chain state. Every block with a valid header and body is kept; the active
-- chain, the unspent outputs and the undo data change only inside one database transaction per
-- reorganisation, so a crash leaves either the old tip or the new one.
CREATE TABLE chain_blocks (
    hash       BLOB PRIMARY KEY NOT NULL,
    prev_hash  BLOB NOT NULL,
    height     BIGINT NOT NULL,
    chain_work BLOB NOT NULL,
    header     BLOB NOT NULL,
    body       BLOB NOT NULL,
    invalid    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE chain_active (
    height BIGINT PRIMARY KEY NOT NULL,
    hash   BLOB NOT NULL
);

CREATE TABLE chain_utxos (
    txid        BLOB NOT NULL,
    vout        BIGINT NOT NULL,
    pubkey_hash BLOB NOT NULL,
    coin        BLOB NOT NULL,
    PRIMARY KEY (txid, vout)
);
CREATE INDEX chain_utxos_by_pubkey_hash ON chain_utxos (pubkey_hash);

CREATE TABLE chain_undo (
    hash BLOB PRIMARY KEY NOT NULL,
    data BLOB NOT NULL
);

CREATE TABLE chain_tx_index (
    txid       BLOB NOT NULL,
    block_hash BLOB NOT NULL,
    position   BIGINT NOT NULL,
    PRIMARY KEY (txid, block_hash)
);
