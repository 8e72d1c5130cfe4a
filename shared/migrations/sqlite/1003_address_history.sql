-- The address history index: one row per transaction of the active chain and address it pays
-- or spends from. Written in the same transaction as the blocks it comes from; rows above the
-- fork height are deleted when blocks are disconnected. A chain stored before this table
-- existed is indexed when the node first opens it.
CREATE TABLE chain_address_txs (
    pubkey_hash BLOB NOT NULL,
    height      BIGINT NOT NULL,
    position    BIGINT NOT NULL,
    txid        BLOB NOT NULL,
    received    BIGINT NOT NULL,
    funded      BIGINT NOT NULL,
    sent        BIGINT NOT NULL,
    spent       BIGINT NOT NULL,
    fee         BIGINT NOT NULL,
    PRIMARY KEY (pubkey_hash, height, position)
) WITHOUT ROWID;
CREATE INDEX chain_address_txs_by_height ON chain_address_txs (height);
