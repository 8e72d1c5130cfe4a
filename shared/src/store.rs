//! Persistence of the chain state: a small storage trait, an in-memory implementation for
//! tests, and the SQL store (SQLite file in WAL mode by default, PostgreSQL by URL).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Mutex;

use futures_util::TryStreamExt;
use ruint::aliases::U256;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Executor, Row};

use crate::address::PubKeyHash;
use crate::block::{Block, Header};
use crate::encoding::{DecodeError, Encode, deserialize};
use crate::hash::{BlockHash, Txid};
use crate::history::{AddressStats, AddressTx, Effect};
use crate::transaction::OutPoint;
use crate::utxo::{BlockUndo, Coin};

/// A failure of the store underneath; never a consensus verdict.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the store was only busy: every connection of the pool stayed in use for the
    /// pool's whole wait (an overload that passes, not a failure of the store).
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Database(err) if is_pool_timeout(err))
    }
}

/// Whether `err` is a pool's wait for a connection running out: see [`StoreError::is_busy`].
pub fn is_pool_timeout(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::PoolTimedOut)
}

impl From<DecodeError> for StoreError {
    fn from(e: DecodeError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// A block's place in the block tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEntry {
    pub hash: BlockHash,
    pub header: Header,
    pub height: u32,
    /// Total work of the chain ending in this block.
    pub chain_work: U256,
}

/// Everything loaded at start-up.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub entries: Vec<BlockEntry>,
    pub invalid: Vec<BlockHash>,
    /// The active chain, genesis first.
    pub active: Vec<BlockHash>,
    pub utxos: Vec<(OutPoint, Coin)>,
}

/// One atomic change of the active chain: a reorganisation, or the common case of one block
/// connected on top.
#[derive(Debug, Default)]
pub struct ChainUpdate {
    /// Height of the last block the old and new chains share; everything above it in the active
    /// chain is replaced by `connected`.
    pub fork_height: u32,
    pub disconnected: Vec<BlockHash>,
    /// Blocks connected, lowest first, with their heights and undo data.
    pub connected: Vec<(BlockHash, u32, BlockUndo)>,
    pub spent: Vec<OutPoint>,
    pub created: Vec<(OutPoint, Coin)>,
    /// The address history of the connected blocks ([`crate::history::address_history`]).
    pub history: Vec<AddressTx>,
    /// The address history of the disconnected blocks, computed from their undo data as it was
    /// when they connected: the rows that go.
    pub unindexed: Vec<AddressTx>,
}

impl ChainUpdate {
    /// The height of the active chain's tip once the update is applied.
    pub fn top_height(&self) -> u32 {
        self.connected
            .last()
            .map_or(self.fork_height, |(_, height, _)| *height)
    }
}

/// Where the chain state lives. `commit` must apply its blocks and update entirely or not at
/// all.
pub trait ChainStore: Send + Sync + 'static {
    fn load(&self) -> impl Future<Output = Result<Snapshot, StoreError>> + Send;
    /// Stores a block whose header and body passed their checks, off the active chain for now.
    fn put_block(
        &self,
        entry: &BlockEntry,
        block: &Block,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn block(
        &self,
        hash: &BlockHash,
    ) -> impl Future<Output = Result<Option<Block>, StoreError>> + Send;
    /// The stored blocks `hashes`, in their order (`None` where one is not stored), read in
    /// one query: a peer's sync batch should not wait for a connection once per block.
    fn blocks(
        &self,
        hashes: &[BlockHash],
    ) -> impl Future<Output = Result<Vec<Option<Block>>, StoreError>> + Send;
    fn undo(
        &self,
        hash: &BlockHash,
    ) -> impl Future<Output = Result<Option<BlockUndo>, StoreError>> + Send;
    /// Stores `blocks`, new to the tree, and applies `update`, which may connect them: a
    /// peer's sync batch is written in one transaction.
    fn commit(
        &self,
        blocks: &[(BlockEntry, Block)],
        update: &ChainUpdate,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Remembers for good that block `hash` is invalid: a stored block is flagged, and any
    /// other hash kept on its own.
    fn mark_invalid(&self, hash: &BlockHash)
    -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The stored blocks holding `txid`, with its position in each.
    fn find_transaction(
        &self,
        txid: &Txid,
    ) -> impl Future<Output = Result<Vec<(BlockHash, u32)>, StoreError>> + Send;
    /// The address history of `pubkey_hash` in the active chain, newest first: at most `limit`
    /// rows, only those before `before` (a height and position) when given.
    fn address_history(
        &self,
        pubkey_hash: &PubKeyHash,
        before: Option<(u32, u32)>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AddressTx>, StoreError>> + Send;
    /// The rows of `pubkey_hash`'s history in the active chain where it spends (`sent > 0`),
    /// after `after` (a height and position), oldest first: at most `limit` of them. The
    /// spender of an output paying the address is among them, after the output's own row
    /// ([`crate::ChainState::outspends`] pages through them).
    fn spending_history(
        &self,
        pubkey_hash: &PubKeyHash,
        after: (u32, u32),
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AddressTx>, StoreError>> + Send;
    /// Which of `pubkey_hashes` have a transaction in the active chain (a row in the address
    /// history index), in one query: a wallet asks this for all its keys at once.
    fn used_addresses(
        &self,
        pubkey_hashes: &[PubKeyHash],
    ) -> impl Future<Output = Result<HashSet<PubKeyHash>, StoreError>> + Send;
    /// The totals of `pubkey_hash`'s history in the active chain.
    fn address_stats(
        &self,
        pubkey_hash: &PubKeyHash,
    ) -> impl Future<Output = Result<AddressStats, StoreError>> + Send;
    /// The height of the active chain's block up to which the address history index is complete
    /// (`None`: nothing indexed yet). Below the tip it says where indexing stopped: a chain
    /// stored before the index existed, which [`crate::Chain::open`] then indexes.
    fn history_height(&self) -> impl Future<Output = Result<Option<u32>, StoreError>> + Send;
    /// Whether the store keeps the address history index (every store here does; a benchmark's
    /// baseline may not, to measure what the index costs).
    fn keeps_history(&self) -> bool {
        true
    }
    /// Adds `rows`, the address history of the active chain's blocks up to `height`, to the
    /// index.
    fn index_history(
        &self,
        rows: &[AddressTx],
        height: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A store in memory, for tests and tools.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    entries: HashMap<BlockHash, BlockEntry>,
    blocks: HashMap<BlockHash, Block>,
    invalid: Vec<BlockHash>,
    active: Vec<BlockHash>,
    utxos: HashMap<OutPoint, Coin>,
    undo: HashMap<BlockHash, BlockUndo>,
    txs: HashMap<Txid, Vec<(BlockHash, u32)>>,
    history: std::collections::BTreeSet<(PubKeyHash, u32, u32, AddressTx)>,
    history_height: Option<u32>,
}

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut MemoryInner) -> T) -> T {
        f(&mut self.inner.lock().expect("memory store lock"))
    }
}

impl MemoryInner {
    fn index_history(&mut self, rows: &[AddressTx], height: u32) {
        self.history.extend(
            rows.iter()
                .map(|row| (row.pubkey_hash, row.height, row.position, *row)),
        );
        self.history_height = Some(height);
    }

    fn put_block(&mut self, entry: &BlockEntry, block: &Block) {
        self.entries.insert(entry.hash, *entry);
        for (i, tx) in block.transactions.iter().enumerate() {
            self.txs
                .entry(tx.txid())
                .or_default()
                .push((entry.hash, i as u32));
        }
        self.blocks.insert(entry.hash, block.clone());
    }
}

impl ChainStore for MemoryStore {
    async fn load(&self) -> Result<Snapshot, StoreError> {
        Ok(self.with(|m| Snapshot {
            entries: m
                .entries
                .values()
                .filter(|e| !m.invalid.contains(&e.hash))
                .copied()
                .collect(),
            invalid: m.invalid.clone(),
            active: m.active.clone(),
            utxos: m.utxos.iter().map(|(o, c)| (*o, *c)).collect(),
        }))
    }

    async fn put_block(&self, entry: &BlockEntry, block: &Block) -> Result<(), StoreError> {
        self.with(|m| m.put_block(entry, block));
        Ok(())
    }

    async fn block(&self, hash: &BlockHash) -> Result<Option<Block>, StoreError> {
        Ok(self.with(|m| m.blocks.get(hash).cloned()))
    }

    async fn blocks(&self, hashes: &[BlockHash]) -> Result<Vec<Option<Block>>, StoreError> {
        Ok(self.with(|m| hashes.iter().map(|h| m.blocks.get(h).cloned()).collect()))
    }

    async fn undo(&self, hash: &BlockHash) -> Result<Option<BlockUndo>, StoreError> {
        Ok(self.with(|m| m.undo.get(hash).cloned()))
    }

    async fn commit(
        &self,
        blocks: &[(BlockEntry, Block)],
        update: &ChainUpdate,
    ) -> Result<(), StoreError> {
        self.with(|m| {
            for (entry, block) in blocks {
                m.put_block(entry, block);
            }
            m.active.truncate(update.fork_height as usize + 1);
            for hash in &update.disconnected {
                m.undo.remove(hash);
            }
            for (hash, _, undo) in &update.connected {
                m.active.push(*hash);
                m.undo.insert(*hash, undo.clone());
            }
            for outpoint in &update.spent {
                m.utxos.remove(outpoint);
            }
            m.utxos.extend(update.created.iter().copied());
            for row in &update.unindexed {
                m.history
                    .remove(&(row.pubkey_hash, row.height, row.position, *row));
            }
            m.index_history(&update.history, update.top_height());
        });
        Ok(())
    }

    async fn mark_invalid(&self, hash: &BlockHash) -> Result<(), StoreError> {
        self.with(|m| {
            if !m.invalid.contains(hash) {
                m.invalid.push(*hash);
            }
        });
        Ok(())
    }

    async fn find_transaction(&self, txid: &Txid) -> Result<Vec<(BlockHash, u32)>, StoreError> {
        Ok(self.with(|m| m.txs.get(txid).cloned().unwrap_or_default()))
    }

    async fn address_history(
        &self,
        pubkey_hash: &PubKeyHash,
        before: Option<(u32, u32)>,
        limit: usize,
    ) -> Result<Vec<AddressTx>, StoreError> {
        let (height, position) = before.unwrap_or((u32::MAX, u32::MAX));
        Ok(self.with(|m| {
            m.history
                .iter()
                .rev()
                .filter(|(pkh, h, p, _)| {
                    pkh == pubkey_hash && (*h < height || (*h == height && *p < position))
                })
                .take(limit)
                .map(|(_, _, _, row)| *row)
                .collect()
        }))
    }

    async fn spending_history(
        &self,
        pubkey_hash: &PubKeyHash,
        after: (u32, u32),
        limit: usize,
    ) -> Result<Vec<AddressTx>, StoreError> {
        Ok(self.with(|m| {
            m.history
                .iter()
                .filter(|(pkh, h, p, row)| {
                    pkh == pubkey_hash && (*h, *p) > after && row.effect.sent > 0
                })
                .take(limit)
                .map(|(_, _, _, row)| *row)
                .collect()
        }))
    }

    async fn used_addresses(
        &self,
        pubkey_hashes: &[PubKeyHash],
    ) -> Result<HashSet<PubKeyHash>, StoreError> {
        Ok(self.with(|m| {
            let used: HashSet<PubKeyHash> = m.history.iter().map(|row| row.0).collect();
            pubkey_hashes
                .iter()
                .filter(|pkh| used.contains(pkh))
                .copied()
                .collect()
        }))
    }

    async fn address_stats(&self, pubkey_hash: &PubKeyHash) -> Result<AddressStats, StoreError> {
        Ok(self.with(|m| {
            let mut stats = AddressStats::default();
            for (_, _, _, row) in m.history.iter().filter(|r| r.0 == *pubkey_hash) {
                stats.add(&row.effect);
            }
            stats
        }))
    }

    async fn history_height(&self) -> Result<Option<u32>, StoreError> {
        Ok(self.with(|m| m.history_height))
    }

    async fn index_history(&self, rows: &[AddressTx], height: u32) -> Result<(), StoreError> {
        self.with(|m| m.index_history(rows, height));
        Ok(())
    }
}

/// Which SQL server is underneath.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of an open connection.
    fn of(conn: &AnyConnection) -> Backend {
        if conn.backend_name() == "PostgreSQL" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// The statement of the two written for this backend, where their SQL differs.
    fn sql(self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self {
            Backend::Sqlite => sqlite,
            Backend::Postgres => postgres,
        }
    }
}

/// A connection pool to the stack's database, SQLite or PostgreSQL by URL.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
}

static CHAIN_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static CHAIN_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

impl Database {
    /// Connects to `url`: `sqlite://PATH` (the file is created, WAL mode) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Database, StoreError> {
        install_default_drivers();
        let (url, backend) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let sep = if rest.contains('?') { '&' } else { '?' };
            let url = if rest.contains("mode=") {
                url.to_owned()
            } else {
                format!("{url}{sep}mode=rwc")
            };
            (url, Backend::Sqlite)
        } else {
            (url.to_owned(), Backend::Postgres)
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        // 1 MiB of page cache per connection (SQLite's default is 2 MiB): the
                        // chain state the node needs is in memory, and the peer's resident
                        // memory is a target.
                        conn.execute("PRAGMA cache_size = -1024").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Database { pool, backend })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs one component's migrations. Each component (the chain here, each service its own)
    /// owns its tables and its range of migration versions, so the others' are not missing.
    pub async fn migrate(&self, sqlite: &Migrator, postgres: &Migrator) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlite,
            Backend::Postgres => postgres,
        };
        let mut migrator = Migrator {
            migrations: migrator.migrations.clone(),
            ..Migrator::DEFAULT
        };
        migrator.set_ignore_missing(true);
        migrator.run(&self.pool).await?;
        Ok(())
    }
}

/// The chain state in SQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Database,
}

fn blob<const N: usize>(bytes: Vec<u8>, what: &str) -> Result<[u8; N], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} has the wrong length")))
}

fn height_of(n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("height {n} out of range")))
}

/// One value bound to a statement.
enum Param {
    Blob(Vec<u8>),
    Int(i64),
}

impl From<Vec<u8>> for Param {
    fn from(bytes: Vec<u8>) -> Self {
        Param::Blob(bytes)
    }
}

impl From<i64> for Param {
    fn from(n: i64) -> Self {
        Param::Int(n)
    }
}

/// Rows per statement of [`write_rows`]: well under the bound parameters SQLite (32,766) and
/// PostgreSQL (65,535) allow.
const ROWS_PER_STATEMENT: usize = 500;

/// Runs `{head} VALUES ($1, …), (…) {tail}` over `rows` of `N` values, [`ROWS_PER_STATEMENT`]
/// rows a statement (`head` may also be a `… IN (VALUES` whose `tail` closes it). A statement
/// per row costs a hand-off to the database's thread each: a sync batch has thousands.
async fn write_rows<const N: usize>(
    conn: &mut AnyConnection,
    head: &str,
    tail: &str,
    rows: Vec<[Param; N]>,
) -> Result<(), StoreError> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<[Param; N]> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        let mut sql = format!("{head} VALUES ");
        for row in 0..chunk.len() {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for column in 0..N {
                let sep = if column == 0 { "" } else { ", " };
                sql.push_str(&format!("{sep}${}", row * N + column + 1));
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(tail);
        // Only constant text and placeholders: the values are bound.
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for param in chunk.into_iter().flatten() {
            query = match param {
                Param::Blob(bytes) => query.bind(bytes),
                Param::Int(n) => query.bind(n),
            };
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes blocks and their transactions' index rows.
async fn insert_blocks(
    conn: &mut AnyConnection,
    blocks: &[(BlockEntry, &Block)],
) -> Result<(), StoreError> {
    let rows = blocks
        .iter()
        .map(|(entry, block)| {
            [
                entry.hash.0.to_vec().into(),
                entry.header.prev_hash.0.to_vec().into(),
                i64::from(entry.height).into(),
                entry.chain_work.to_le_bytes::<32>().to_vec().into(),
                entry.header.to_bytes().into(),
                block.to_bytes().into(),
            ]
        })
        .collect();
    write_rows(
        conn,
        "INSERT INTO chain_blocks (hash, prev_hash, height, chain_work, header, body)",
        "ON CONFLICT (hash) DO NOTHING",
        rows,
    )
    .await?;
    let rows = blocks
        .iter()
        .flat_map(|(entry, block)| {
            block.transactions.iter().enumerate().map(|(position, tx)| {
                [
                    tx.txid().0.to_vec().into(),
                    entry.hash.0.to_vec().into(),
                    (position as i64).into(),
                ]
            })
        })
        .collect();
    write_rows(
        conn,
        "INSERT INTO chain_tx_index (txid, block_hash, position)",
        "ON CONFLICT (txid, block_hash) DO NOTHING",
        rows,
    )
    .await
}

/// Moves the active chain, its undo data and its unspent outputs as `update` says.
async fn apply_update(conn: &mut AnyConnection, update: &ChainUpdate) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM chain_active WHERE height > $1")
        .bind(i64::from(update.fork_height))
        .execute(&mut *conn)
        .await?;
    let rows = update
        .disconnected
        .iter()
        .map(|hash| [hash.0.to_vec().into()])
        .collect();
    write_rows(conn, "DELETE FROM chain_undo WHERE hash IN (", ")", rows).await?;
    let rows = update
        .connected
        .iter()
        .map(|(hash, height, _)| [i64::from(*height).into(), hash.0.to_vec().into()])
        .collect();
    write_rows(conn, "INSERT INTO chain_active (height, hash)", "", rows).await?;
    let rows = update
        .connected
        .iter()
        .map(|(hash, _, undo)| [hash.0.to_vec().into(), undo.to_bytes().into()])
        .collect();
    write_rows(
        conn,
        "INSERT INTO chain_undo (hash, data)",
        "ON CONFLICT (hash) DO UPDATE SET data = excluded.data",
        rows,
    )
    .await?;
    let rows = update
        .spent
        .iter()
        .map(|outpoint| {
            [
                outpoint.txid.0.to_vec().into(),
                i64::from(outpoint.index).into(),
            ]
        })
        .collect();
    write_rows(
        conn,
        "DELETE FROM chain_utxos WHERE (txid, vout) IN (",
        ")",
        rows,
    )
    .await?;
    let rows = update
        .created
        .iter()
        .map(|(outpoint, coin)| {
            [
                outpoint.txid.0.to_vec().into(),
                i64::from(outpoint.index).into(),
                coin.output.pubkey_hash.0.to_vec().into(),
                coin.to_bytes().into(),
            ]
        })
        .collect();
    write_rows(
        conn,
        "INSERT INTO chain_utxos (txid, vout, pubkey_hash, coin)",
        "ON CONFLICT (txid, vout) DO UPDATE SET pubkey_hash = excluded.pubkey_hash, \
         coin = excluded.coin",
        rows,
    )
    .await?;
    delete_history(conn, &update.unindexed).await?;
    insert_history(conn, &update.history, update.top_height()).await
}

/// A block adds a row per transaction and address to the address history index: bound one value
/// at a time, through the `Any` driver, they cost about 55 µs a row, more than the rest of a
/// block's writes. So a statement gets its rows as one bound value, [`HistoryRecords`], which
/// the database cuts apart itself.
const HISTORY_ROWS_PER_STATEMENT: usize = 10_000;

/// Rows of the address history index packed into one blob of fixed-width records, for the
/// database to cut apart with `substr` and `CAST`: the public key hash (20 bytes) and the txid
/// (32) as they are, then the height, position, received, funded, sent, spent and fee as
/// zero-padded ASCII digits (10 for a `u32`, 20 for a `u64`). Byte offsets in a record:
///
/// | pubkey_hash | txid | height | position | received | funded | sent | spent | fee |
/// |---|---|---|---|---|---|---|---|---|
/// | 0 | 20 | 52 | 62 | 72 | 92 | 102 | 122 | 132 |
///
/// Unlike the JSON array this replaced, there is nothing to parse but the digits, and nothing
/// to decode from hex; the statements below name these offsets (1-based, as `substr` counts).
struct HistoryRecords;

impl HistoryRecords {
    /// Bytes of one record.
    const LEN: usize = 152;

    fn pack<'a>(rows: impl ExactSizeIterator<Item = &'a AddressTx>) -> Vec<u8> {
        let mut out = Vec::with_capacity(rows.len() * Self::LEN);
        for row in rows {
            out.extend_from_slice(&row.pubkey_hash.0);
            out.extend_from_slice(&row.txid.0);
            push_digits(&mut out, u64::from(row.height), 10);
            push_digits(&mut out, u64::from(row.position), 10);
            push_digits(&mut out, row.effect.received, 20);
            push_digits(&mut out, u64::from(row.effect.funded), 10);
            push_digits(&mut out, row.effect.sent, 20);
            push_digits(&mut out, u64::from(row.effect.spent), 10);
            push_digits(&mut out, row.fee, 20);
        }
        debug_assert_eq!(out.len() % Self::LEN, 0);
        out
    }
}

/// `n` in decimal, zero-padded to `width` digits (enough for any `n` given).
fn push_digits(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for digit in out[start..].iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Public key hashes packed into one blob, 20 bytes each, for the database to cut apart.
fn pack_pubkey_hashes(pubkey_hashes: &[PubKeyHash]) -> Vec<u8> {
    pubkey_hashes.iter().flat_map(|pkh| pkh.0).collect()
}

/// Removes `rows` from the address history index, by key.
async fn delete_history(conn: &mut AnyConnection, rows: &[AddressTx]) -> Result<(), StoreError> {
    let sql = Backend::of(conn).sql(
        "WITH RECURSIVE record(i) AS (SELECT 0 WHERE length($1) >= 152 \
         UNION ALL SELECT i + 1 FROM record WHERE i + 1 < length($1) / 152) \
         DELETE FROM chain_address_txs WHERE (pubkey_hash, height, position) IN \
         (SELECT substr($1, i * 152 + 1, 20), CAST(substr($1, i * 152 + 53, 10) AS INTEGER), \
         CAST(substr($1, i * 152 + 63, 10) AS INTEGER) FROM record)",
        "DELETE FROM chain_address_txs USING \
         (SELECT substring($1 FROM i * 152 + 1 FOR 20) AS pubkey_hash, \
         convert_from(substring($1 FROM i * 152 + 53 FOR 10), 'UTF8')::bigint AS height, \
         convert_from(substring($1 FROM i * 152 + 63 FOR 10), 'UTF8')::bigint AS position \
         FROM generate_series(0, length($1) / 152 - 1) AS i) AS record \
         WHERE chain_address_txs.pubkey_hash = record.pubkey_hash \
         AND chain_address_txs.height = record.height \
         AND chain_address_txs.position = record.position",
    );
    for chunk in rows.chunks(HISTORY_ROWS_PER_STATEMENT) {
        sqlx::query(sql)
            .bind(HistoryRecords::pack(chunk.iter()))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Adds `rows`, the history of the active chain up to `height`, to the address history index.
async fn insert_history(
    conn: &mut AnyConnection,
    rows: &[AddressTx],
    height: u32,
) -> Result<(), StoreError> {
    let sql = Backend::of(conn).sql(
        // `OR IGNORE` rather than an upsert's `DO NOTHING`: with nothing left that could abort
        // the statement halfway, SQLite keeps no statement journal of the pages it changes.
        "WITH RECURSIVE record(i) AS (SELECT 0 WHERE length($1) >= 152 \
         UNION ALL SELECT i + 1 FROM record WHERE i + 1 < length($1) / 152) \
         INSERT OR IGNORE INTO chain_address_txs \
         (pubkey_hash, height, position, txid, received, funded, sent, spent, fee) \
         SELECT substr($1, i * 152 + 1, 20), CAST(substr($1, i * 152 + 53, 10) AS INTEGER), \
         CAST(substr($1, i * 152 + 63, 10) AS INTEGER), substr($1, i * 152 + 21, 32), \
         CAST(substr($1, i * 152 + 73, 20) AS INTEGER), \
         CAST(substr($1, i * 152 + 93, 10) AS INTEGER), \
         CAST(substr($1, i * 152 + 103, 20) AS INTEGER), \
         CAST(substr($1, i * 152 + 123, 10) AS INTEGER), \
         CAST(substr($1, i * 152 + 133, 20) AS INTEGER) FROM record",
        "INSERT INTO chain_address_txs \
         (pubkey_hash, height, position, txid, received, funded, sent, spent, fee) \
         SELECT substring($1 FROM i * 152 + 1 FOR 20), \
         convert_from(substring($1 FROM i * 152 + 53 FOR 10), 'UTF8')::bigint, \
         convert_from(substring($1 FROM i * 152 + 63 FOR 10), 'UTF8')::bigint, \
         substring($1 FROM i * 152 + 21 FOR 32), \
         convert_from(substring($1 FROM i * 152 + 73 FOR 20), 'UTF8')::bigint, \
         convert_from(substring($1 FROM i * 152 + 93 FOR 10), 'UTF8')::bigint, \
         convert_from(substring($1 FROM i * 152 + 103 FOR 20), 'UTF8')::bigint, \
         convert_from(substring($1 FROM i * 152 + 123 FOR 10), 'UTF8')::bigint, \
         convert_from(substring($1 FROM i * 152 + 133 FOR 20), 'UTF8')::bigint \
         FROM generate_series(0, length($1) / 152 - 1) AS i \
         ON CONFLICT (pubkey_hash, height, position) DO NOTHING",
    );
    // In the table's key order, each row lands beside the one before: a block's rows are
    // scattered over as many addresses, and a sync batch's rows over few pages per address.
    let mut sorted: Vec<&AddressTx> = rows.iter().collect();
    sorted.sort_unstable_by_key(|row| (row.pubkey_hash, row.height, row.position));
    for chunk in sorted.chunks(HISTORY_ROWS_PER_STATEMENT) {
        sqlx::query(sql)
            .bind(HistoryRecords::pack(chunk.iter().copied()))
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(
        "INSERT INTO chain_history_height (id, height) VALUES (0, $1) \
         ON CONFLICT (id) DO UPDATE SET height = excluded.height",
    )
    .bind(i64::from(height))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A row of `chain_address_txs`.
fn address_tx(row: &sqlx::any::AnyRow) -> Result<AddressTx, StoreError> {
    let small = |name: &str| -> Result<u32, StoreError> {
        u32::try_from(count(row, name)?)
            .map_err(|_| StoreError::Corrupt(format!("{name} out of range in the address index")))
    };
    Ok(AddressTx {
        pubkey_hash: PubKeyHash(blob(row.try_get("pubkey_hash")?, "public key hash")?),
        height: small("height")?,
        position: small("position")?,
        txid: Txid(blob(row.try_get("txid")?, "txid")?),
        effect: Effect {
            received: count(row, "received")?,
            funded: small("funded")?,
            sent: count(row, "sent")?,
            spent: small("spent")?,
        },
        fee: count(row, "fee")?,
    })
}

/// Column `name` of an address index row or total, which is never negative.
fn count(row: &sqlx::any::AnyRow, name: &str) -> Result<u64, StoreError> {
    u64::try_from(row.try_get::<i64, _>(name)?)
        .map_err(|_| StoreError::Corrupt(format!("negative {name} in the address index")))
}

impl SqlStore {
    /// Opens the chain tables in `db`, creating them if needed.
    pub async fn open(db: Database) -> Result<SqlStore, StoreError> {
        db.migrate(&CHAIN_SQLITE, &CHAIN_POSTGRES).await?;
        Ok(SqlStore { db })
    }

    pub fn database(&self) -> &Database {
        &self.db
    }
}

impl ChainStore for SqlStore {
    async fn load(&self) -> Result<Snapshot, StoreError> {
        let pool = self.db.pool();
        let mut snapshot = Snapshot::default();
        for row in sqlx::query("SELECT hash, height, chain_work, header, invalid FROM chain_blocks")
            .fetch_all(pool)
            .await?
        {
            let hash = BlockHash(blob(row.try_get("hash")?, "block hash")?);
            if row.try_get::<i64, _>("invalid")? != 0 {
                snapshot.invalid.push(hash);
                continue;
            }
            snapshot.entries.push(BlockEntry {
                hash,
                header: deserialize(&row.try_get::<Vec<u8>, _>("header")?)?,
                height: height_of(row.try_get("height")?)?,
                chain_work: U256::from_le_bytes(blob::<32>(row.try_get("chain_work")?, "work")?),
            });
        }
        for row in sqlx::query("SELECT hash FROM chain_condemned")
            .fetch_all(pool)
            .await?
        {
            snapshot
                .invalid
                .push(BlockHash(blob(row.try_get("hash")?, "block hash")?));
        }
        for row in sqlx::query("SELECT hash FROM chain_active ORDER BY height")
            .fetch_all(pool)
            .await?
        {
            snapshot
                .active
                .push(BlockHash(blob(row.try_get("hash")?, "block hash")?));
        }
        // Row by row: the unspent outputs are the largest table held in memory, and a vector
        // of all its rows as well would double the peak.
        let mut rows = sqlx::query("SELECT txid, vout, coin FROM chain_utxos").fetch(pool);
        while let Some(row) = rows.try_next().await? {
            let txid = Txid(blob(row.try_get("txid")?, "txid")?);
            let vout = u32::try_from(row.try_get::<i64, _>("vout")?)
                .map_err(|_| StoreError::Corrupt("output index out of range".into()))?;
            let coin: Coin = deserialize(&row.try_get::<Vec<u8>, _>("coin")?)?;
            snapshot.utxos.push((OutPoint::new(txid, vout), coin));
        }
        Ok(snapshot)
    }

    async fn put_block(&self, entry: &BlockEntry, block: &Block) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        insert_blocks(&mut tx, &[(*entry, block)]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn block(&self, hash: &BlockHash) -> Result<Option<Block>, StoreError> {
        let row = sqlx::query("SELECT body FROM chain_blocks WHERE hash = $1")
            .bind(hash.0.to_vec())
            .fetch_optional(self.db.pool())
            .await?;
        match row {
            Some(row) => Ok(Some(deserialize(&row.try_get::<Vec<u8>, _>("body")?)?)),
            None => Ok(None),
        }
    }

    async fn blocks(&self, hashes: &[BlockHash]) -> Result<Vec<Option<Block>>, StoreError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=hashes.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT hash, body FROM chain_blocks WHERE hash IN ({})",
            placeholders.join(", ")
        );
        // Audited: only numbered placeholders are formatted in; the hashes are bound.
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for hash in hashes {
            query = query.bind(hash.0.to_vec());
        }
        let mut bodies = HashMap::with_capacity(hashes.len());
        for row in query.fetch_all(self.db.pool()).await? {
            let hash = BlockHash(blob(row.try_get("hash")?, "block hash")?);
            bodies.insert(hash, row.try_get::<Vec<u8>, _>("body")?);
        }
        hashes
            .iter()
            .map(|hash| match bodies.get(hash) {
                Some(body) => Ok(Some(deserialize(body)?)),
                None => Ok(None),
            })
            .collect()
    }

    async fn undo(&self, hash: &BlockHash) -> Result<Option<BlockUndo>, StoreError> {
        let row = sqlx::query("SELECT data FROM chain_undo WHERE hash = $1")
            .bind(hash.0.to_vec())
            .fetch_optional(self.db.pool())
            .await?;
        match row {
            Some(row) => Ok(Some(deserialize(&row.try_get::<Vec<u8>, _>("data")?)?)),
            None => Ok(None),
        }
    }

    async fn commit(
        &self,
        blocks: &[(BlockEntry, Block)],
        update: &ChainUpdate,
    ) -> Result<(), StoreError> {
        let blocks: Vec<(BlockEntry, &Block)> = blocks
            .iter()
            .map(|(entry, block)| (*entry, block))
            .collect();
        let mut tx = self.db.pool().begin().await?;
        insert_blocks(&mut tx, &blocks).await?;
        apply_update(&mut tx, update).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn mark_invalid(&self, hash: &BlockHash) -> Result<(), StoreError> {
        let flagged = sqlx::query("UPDATE chain_blocks SET invalid = 1 WHERE hash = $1")
            .bind(hash.0.to_vec())
            .execute(self.db.pool())
            .await?;
        if flagged.rows_affected() == 0 {
            sqlx::query("INSERT INTO chain_condemned (hash) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(hash.0.to_vec())
                .execute(self.db.pool())
                .await?;
        }
        Ok(())
    }

    async fn address_history(
        &self,
        pubkey_hash: &PubKeyHash,
        before: Option<(u32, u32)>,
        limit: usize,
    ) -> Result<Vec<AddressTx>, StoreError> {
        let (height, position) =
            before.map_or((i64::MAX, i64::MAX), |(h, p)| (i64::from(h), i64::from(p)));
        let rows = sqlx::query(
            "SELECT * FROM chain_address_txs WHERE pubkey_hash = $1 \
             AND (height < $2 OR (height = $2 AND position < $3)) \
             ORDER BY height DESC, position DESC LIMIT $4",
        )
        .bind(pubkey_hash.0.to_vec())
        .bind(height)
        .bind(position)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(address_tx).collect()
    }

    async fn spending_history(
        &self,
        pubkey_hash: &PubKeyHash,
        after: (u32, u32),
        limit: usize,
    ) -> Result<Vec<AddressTx>, StoreError> {
        // A range of the primary key (pubkey_hash, height, position), read in its order.
        let rows = sqlx::query(
            "SELECT * FROM chain_address_txs WHERE pubkey_hash = $1 \
             AND (height > $2 OR (height = $2 AND position > $3)) AND sent > 0 \
             ORDER BY height, position LIMIT $4",
        )
        .bind(pubkey_hash.0.to_vec())
        .bind(i64::from(after.0))
        .bind(i64::from(after.1))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(address_tx).collect()
    }

    async fn used_addresses(
        &self,
        pubkey_hashes: &[PubKeyHash],
    ) -> Result<HashSet<PubKeyHash>, StoreError> {
        // One bound blob of 20-byte keys, as the index is written; one seek per address.
        let sql = self.db.backend().sql(
            "WITH RECURSIVE record(i) AS (SELECT 0 WHERE length($1) >= 20 \
             UNION ALL SELECT i + 1 FROM record WHERE i + 1 < length($1) / 20) \
             SELECT substr($1, i * 20 + 1, 20) AS pubkey_hash FROM record \
             WHERE EXISTS (SELECT 1 FROM chain_address_txs \
             WHERE pubkey_hash = substr($1, i * 20 + 1, 20))",
            "SELECT k AS pubkey_hash FROM (SELECT substring($1 FROM i * 20 + 1 FOR 20) AS k \
             FROM generate_series(0, length($1) / 20 - 1) AS i) AS keys \
             WHERE EXISTS (SELECT 1 FROM chain_address_txs WHERE pubkey_hash = k)",
        );
        let mut used = HashSet::new();
        for chunk in pubkey_hashes.chunks(HISTORY_ROWS_PER_STATEMENT) {
            for row in sqlx::query(sql)
                .bind(pack_pubkey_hashes(chunk))
                .fetch_all(self.db.pool())
                .await?
            {
                used.insert(PubKeyHash(blob(
                    row.try_get("pubkey_hash")?,
                    "public key hash",
                )?));
            }
        }
        Ok(used)
    }
    async fn address_stats(&self, pubkey_hash: &PubKeyHash) -> Result<AddressStats, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS txs, \
             CAST(COALESCE(SUM(funded), 0) AS BIGINT) AS funded, \
             CAST(COALESCE(SUM(received), 0) AS BIGINT) AS received, \
             CAST(COALESCE(SUM(spent), 0) AS BIGINT) AS spent, \
             CAST(COALESCE(SUM(sent), 0) AS BIGINT) AS sent \
             FROM chain_address_txs WHERE pubkey_hash = $1",
        )
        .bind(pubkey_hash.0.to_vec())
        .fetch_one(self.db.pool())
        .await?;
        Ok(AddressStats {
            tx_count: count(&row, "txs")?,
            funded_txo_count: count(&row, "funded")?,
            funded_txo_sum: count(&row, "received")?,
            spent_txo_count: count(&row, "spent")?,
            spent_txo_sum: count(&row, "sent")?,
        })
    }

    async fn history_height(&self) -> Result<Option<u32>, StoreError> {
        let row = sqlx::query("SELECT height FROM chain_history_height WHERE id = 0")
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|row| height_of(row.try_get::<i64, _>("height")?))
            .transpose()
    }

    async fn index_history(&self, rows: &[AddressTx], height: u32) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        insert_history(&mut tx, rows, height).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_transaction(&self, txid: &Txid) -> Result<Vec<(BlockHash, u32)>, StoreError> {
        let rows = sqlx::query("SELECT block_hash, position FROM chain_tx_index WHERE txid = $1")
            .bind(txid.0.to_vec())
            .fetch_all(self.db.pool())
            .await?;
        rows.into_iter()
            .map(|row| {
                let hash = BlockHash(blob(row.try_get("block_hash")?, "block hash")?);
                let position = u32::try_from(row.try_get::<i64, _>("position")?)
                    .map_err(|_| StoreError::Corrupt("position out of range".into()))?;
                Ok((hash, position))
            })
            .collect()
    }
}
