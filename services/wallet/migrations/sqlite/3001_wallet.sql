-- The wallet service's record of the payments it made (GET /wallet/history, unused keys).
--
-- One row per transaction the wallet built, signed and the peer accepted. Amounts are base
-- units; `spent_from` lists the addresses of the spent outputs, separated by spaces;
-- `created_at` is in Unix seconds.
CREATE TABLE wallet_sent (
    txid           TEXT PRIMARY KEY NOT NULL,
    recipient      TEXT NOT NULL,
    amount         BIGINT NOT NULL,
    fee            BIGINT NOT NULL,
    change_address TEXT,
    spent_from     TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
