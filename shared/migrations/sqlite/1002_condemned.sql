-- Blocks refused for good that were never stored: a block whose proof of work was real but
-- that broke a rule (in a sync batch, say) stays refused after a restart. Stored blocks found
-- invalid keep their row in chain_blocks, flagged there.
CREATE TABLE chain_condemned (
    hash BLOB PRIMARY KEY NOT NULL
);
