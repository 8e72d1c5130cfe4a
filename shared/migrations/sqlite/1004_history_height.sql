-- The address history index is cut back by key when blocks are disconnected (the keys come from
-- the blocks' undo data, as the rows did), so it needs no index by height: one B-tree fewer per
-- row written. How far the index reaches is kept here instead, one row, so that indexing a chain
-- stored before the index existed resumes where it stopped.
DROP INDEX chain_address_txs_by_height;
CREATE TABLE chain_history_height (
    id     BIGINT PRIMARY KEY NOT NULL CHECK (id = 0),
    height BIGINT NOT NULL
);
INSERT INTO chain_history_height (id, height)
    SELECT 0, MAX(height) FROM chain_address_txs HAVING COUNT(*) > 0;
