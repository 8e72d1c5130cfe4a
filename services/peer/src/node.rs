//! The node's state shared by the handlers: the chain's writer and its latest snapshot, the
//! store (for block bodies), the network, the clock, the peer list and the relay; and the
//! read-only views the handlers answer with, computed from a snapshot without deciding anything
//! the core does not decide.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use mycoin_api::peer::{Balance, InputVerdict, PeerView, UtxoView};
use mycoin_core::utxo::Coin;
use mycoin_core::{
    Address, BlockHash, Chain, ChainError, ChainState, Database, Network, Policy, PubKeyHash,
    SqlStore, Transaction, TxError, Txid,
};
use tokio::sync::Notify;

use crate::configuration::SyncTimeouts;
use crate::error::violation;
pub use crate::peerbook::AddPeerError;
use crate::peerbook::{AfterFailure, Eviction, Offence, PeerBook, RecentlyRelayed};
use crate::relay::{RELAY_QUEUE, Relay, RelayItem};
use crate::writer::ChainWriter;

/// How many relayed hashes and txids a node remembers.
const RELAY_MEMORY: usize = 4096;
/// Most peers named by `X-Mycoin-Peer` waiting to be checked; more are ignored.
pub const MAX_CANDIDATES: usize = 8;

/// What a node relayed lately, so that it relays each item once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Relayed {
    Block(BlockHash),
    Transaction(Txid),
    /// A transaction a reorganisation onto this tip returned to the mempool.
    Returned(Txid, BlockHash),
    /// This node's tip, announced to the peer at this URL.
    Announced(String, BlockHash),
}

/// One node: its chain on the SQL store, its network and its peers.
#[derive(Debug)]
pub struct Node {
    writer: ChainWriter,
    store: SqlStore,
    network: Network,
    peers: Mutex<PeerBook>,
    extra_nonce: AtomicU64,
    relayed: Mutex<RecentlyRelayed<Relayed>>,
    relay: Relay,
    /// Peers to sync with at once (a block with an unknown parent came from them).
    sync_requests: Mutex<Vec<String>>,
    sync_wakeup: Notify,
    /// Peers named by `X-Mycoin-Peer` that the sync task checks before learning them.
    candidates: Mutex<Candidates>,
    /// How long a peer has to answer each sync request.
    sync_timeouts: SyncTimeouts,
    /// The base URL of this node's own peer service, as peers reach it.
    self_url: OnceLock<String>,
}

impl Node {
    /// Connects to `database_url`, creates the chain tables if needed, and loads the chain of
    /// `network` (starting it at genesis when the store is empty), run with `policy`.
    pub async fn open(
        network: Network,
        policy: Policy,
        database_url: &str,
        peers: PeerBook,
        sync_timeouts: SyncTimeouts,
    ) -> Result<Node, ChainError> {
        let db = Database::connect(database_url).await?;
        let store = SqlStore::open(db).await?;
        let chain = Chain::open_with(network.params(), policy, store).await?;
        Ok(Node::with_chain(chain, peers, sync_timeouts))
    }

    /// A node around an open chain, whose writer task starts now (on the current runtime).
    pub fn with_chain(
        chain: Chain<SqlStore>,
        peers: PeerBook,
        sync_timeouts: SyncTimeouts,
    ) -> Node {
        let network = chain.params().network;
        let store = chain.store().clone();
        Node {
            writer: ChainWriter::spawn(chain),
            store,
            network,
            peers: Mutex::new(peers),
            extra_nonce: AtomicU64::new(0),
            relayed: Mutex::new(RecentlyRelayed::new(RELAY_MEMORY)),
            relay: Relay::new(RELAY_QUEUE),
            sync_requests: Mutex::new(Vec::new()),
            sync_wakeup: Notify::new(),
            candidates: Mutex::new(Candidates::default()),
            sync_timeouts,
            self_url: OnceLock::new(),
        }
    }

    /// The chain as its writer last published it: an immutable snapshot, read without a lock.
    pub fn state(&self) -> Arc<ChainState> {
        self.writer.state()
    }

    /// The chain's single writer: every change goes through it.
    pub fn writer(&self) -> &ChainWriter {
        &self.writer
    }

    /// The store, for the bodies of the blocks a snapshot names (stored before it was
    /// published, and never changed after).
    pub fn store(&self) -> &SqlStore {
        &self.store
    }

    /// The relay's per-peer queues.
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// Queues `item` for `targets`, naming this node as the sender.
    pub fn relay_to(&self, targets: &[String], item: RelayItem) {
        self.relay.enqueue(targets, &item, self.self_url());
    }

    /// The network this node runs.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The node's clock: Unix time in seconds.
    pub fn now(&self) -> u32 {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    /// A fresh extra nonce for a block template, so that two templates never collide.
    pub fn next_extra_nonce(&self) -> u64 {
        self.extra_nonce.fetch_add(1, Ordering::Relaxed)
    }

    /// The node's clock in Unix seconds, as a u64 (for the peer book).
    pub fn now_secs(&self) -> u64 {
        u64::from(self.now())
    }

    fn book(&self) -> std::sync::MutexGuard<'_, PeerBook> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The peers with their state, in the order they were added.
    pub fn peer_views(&self) -> Vec<PeerView> {
        let now = self.now_secs();
        self.book().views(now)
    }

    /// The peers' URLs, in the order they were added.
    pub fn peers(&self) -> Vec<String> {
        self.peer_views().into_iter().map(|p| p.url).collect()
    }

    /// The peers not banned now.
    pub fn active_peers(&self) -> Vec<String> {
        let now = self.now_secs();
        self.book().active(now)
    }

    /// Whether `url` is a listed peer that is not banned.
    pub fn is_usable_peer(&self, url: &str) -> bool {
        let now = self.now_secs();
        let mut book = self.book();
        book.contains(url) && !book.is_banned(url, now)
    }

    /// How long a peer has to answer each sync request.
    pub fn sync_timeouts(&self) -> SyncTimeouts {
        self.sync_timeouts
    }

    /// Adds a peer (a checked URL) unless it is listed, as the operator asked (`POST /peers`):
    /// when the book is full a learnt peer is evicted, in the book's order. Returns the whole
    /// list. A new peer is synced with at once.
    pub fn add_peer(&self, url: String) -> Result<Vec<PeerView>, AddPeerError> {
        let now = self.now_secs();
        let mut book = self.book();
        let added = book.learn(url.clone(), Eviction::AnyLearnt, now)?;
        let views = book.views(now);
        drop(book);
        if let Some(evicted) = added.evicted {
            self.relay.forget(&evicted);
        }
        if added.new {
            self.request_sync(url);
        }
        Ok(views)
    }

    /// Syncs at once with the peer at `url`, which relayed a block whose parent is unknown
    /// here. A peer not listed becomes a candidate, when the book has room for it (or a
    /// misbehaving learnt peer to evict) and fewer than [`MAX_CANDIDATES`] wait: the sync
    /// task learns it once it answers `GET /chain` for this network and genesis. Nothing
    /// happens when it is banned or is this node itself.
    pub fn sync_with_sender(&self, url: String) {
        if self.self_url() == Some(url.as_str()) {
            return;
        }
        let now = self.now_secs();
        let mut book = self.book();
        if book.contains(&url) {
            if book.is_banned(&url, now) {
                return;
            }
            drop(book);
            self.request_sync(url);
            return;
        }
        if !book.has_room(Eviction::Misbehaving, now) {
            tracing::debug!(peer = %url, "a block relayed by an unlisted peer: no room for it");
            return;
        }
        drop(book);
        let mut candidates = self.candidates();
        if candidates.waiting.contains(&url) || candidates.checking.contains(&url) {
            return;
        }
        if candidates.waiting.len() + candidates.checking.len() >= MAX_CANDIDATES {
            tracing::debug!(peer = %url, "too many candidate peers waiting: ignored");
            return;
        }
        tracing::info!(peer = %url, "a block relayed by an unlisted peer: checking it");
        candidates.waiting.push(url);
        drop(candidates);
        self.sync_wakeup.notify_one();
    }

    fn candidates(&self) -> std::sync::MutexGuard<'_, Candidates> {
        self.candidates.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The candidate peers to check now; each stays counted until [`Node::candidate_checked`].
    pub fn take_candidates(&self) -> Vec<String> {
        let mut candidates = self.candidates();
        let waiting = std::mem::take(&mut candidates.waiting);
        candidates.checking.extend(waiting.iter().cloned());
        waiting
    }

    /// A candidate was checked: when it `answered` for this network and genesis, it is
    /// learnt (if the book still has room) and synced with at once.
    pub fn candidate_checked(&self, url: &str, answered: bool) {
        self.candidates().checking.retain(|u| u != url);
        if !answered {
            return;
        }
        let now = self.now_secs();
        let added = self
            .book()
            .learn(url.to_owned(), Eviction::Misbehaving, now);
        match added {
            Ok(added) => {
                if let Some(evicted) = added.evicted {
                    self.relay.forget(&evicted);
                }
                if added.new {
                    tracing::info!(peer = %url, "a candidate peer answered: learnt it");
                }
                self.request_sync(url.to_owned());
            }
            Err(err) => tracing::debug!(peer = %url, error = %err, "candidate peer not learnt"),
        }
    }

    /// Records a successful sync with a peer.
    pub fn peer_succeeded(&self, url: &str) {
        self.book().succeeded(url);
    }

    /// Records a failed sync with a peer: returns how long it backs off, or `None` when it
    /// was dropped (a dead learnt peer, or one no longer listed).
    pub fn peer_failed(&self, url: &str) -> Option<std::time::Duration> {
        let now = self.now_secs();
        let after = self.book().failed(url, now);
        match after {
            AfterFailure::RetryIn(secs) => Some(std::time::Duration::from_secs(secs)),
            AfterFailure::Dropped => {
                self.relay.forget(url);
                None
            }
        }
    }

    /// Records what a peer's `GET /chain` answered.
    pub fn peer_contacted(&self, url: &str, info: &mycoin_api::peer::ChainInfo) {
        let now = self.now_secs();
        self.book().contacted(url, info, now);
    }

    /// Penalises a peer; returns whether it is now banned.
    pub fn penalise(&self, url: &str, offence: Offence) -> bool {
        let now = self.now_secs();
        self.book().penalise(url, offence, now)
    }

    /// Remembers a relayed item; false when it was relayed lately.
    pub fn first_relay(&self, id: Relayed) -> bool {
        self.relayed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id)
    }

    /// Asks the sync task to sync with `url` now.
    pub fn request_sync(&self, url: String) {
        let mut requests = self.sync_requests.lock().unwrap_or_else(|e| e.into_inner());
        if !requests.contains(&url) && requests.len() < 64 {
            requests.push(url);
        }
        drop(requests);
        self.sync_wakeup.notify_one();
    }

    /// The peers to sync with at once, emptying the list.
    pub fn take_sync_requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.sync_requests.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Resolves when [`Node::request_sync`] is called (or was, since the last wait).
    pub async fn sync_requested(&self) {
        self.sync_wakeup.notified().await;
    }

    /// Sets the base URL peers reach this node at (once).
    pub fn set_self_url(&self, url: String) {
        let _ = self.self_url.set(url);
    }

    /// The base URL peers reach this node at, when known.
    pub fn self_url(&self) -> Option<&str> {
        self.self_url.get().map(String::as_str)
    }
}

/// Peers named by `X-Mycoin-Peer`, not yet listed.
#[derive(Debug, Default)]
struct Candidates {
    /// Waiting for the sync task.
    waiting: Vec<String>,
    /// Being checked by the sync task.
    checking: Vec<String>,
}

/// The unspent outputs of the active chain paying `pubkey_hash`, from the address index.
pub fn utxo_views(state: &ChainState, pubkey_hash: &PubKeyHash) -> Vec<UtxoView> {
    state
        .utxos_for(pubkey_hash)
        .into_iter()
        .map(|(outpoint, coin)| UtxoView {
            txid: outpoint.txid,
            vout: outpoint.index,
            amount: coin.output.amount.units(),
            height: coin.height,
            coinbase: coin.is_coinbase,
            mature: state.is_spendable_next(&coin),
            spent_in_mempool: state.mempool().spender(&outpoint).is_some(),
        })
        .collect()
}

/// What the mempool's transactions pay to each address, in one pass over the pool.
pub fn pending_in(state: &ChainState) -> HashMap<PubKeyHash, u64> {
    let mut paid: HashMap<PubKeyHash, u64> = HashMap::new();
    for output in state.mempool().iter().flat_map(|entry| &entry.tx.outputs) {
        let sum = paid.entry(output.pubkey_hash).or_default();
        // Amounts are below the money supply, so these sums cannot overflow a u64.
        *sum = sum.saturating_add(output.amount.units());
    }
    paid
}

/// The balance of `address` from its unspent outputs `utxos` ([`utxo_views`]): confirmed
/// (mature), immature, and what the mempool moves; `pending_in` is what [`pending_in`] found
/// for it.
pub fn balance(address: &Address, utxos: &[UtxoView], pending_in: u64) -> Balance {
    let (mut confirmed, mut immature, mut pending_out) = (0u64, 0u64, 0u64);
    for utxo in utxos {
        if utxo.mature {
            confirmed = confirmed.saturating_add(utxo.amount);
        } else {
            immature = immature.saturating_add(utxo.amount);
        }
        if utxo.spent_in_mempool {
            pending_out = pending_out.saturating_add(utxo.amount);
        }
    }
    Balance {
        address: address.to_string(),
        confirmed,
        immature,
        pending_in,
        pending_out,
    }
}

/// One verdict per input of `tx` (`verdicts`, the core's [`ChainState::verify_in_detail`]),
/// with the address and amount of the output each input spends when it exists. The verdict on
/// the whole transaction is the core's; this only says which inputs are at fault.
pub fn input_verdicts(
    state: &ChainState,
    tx: &Transaction,
    verdicts: Vec<Result<Coin, TxError>>,
) -> Vec<InputVerdict> {
    verdicts
        .into_iter()
        .zip(&tx.inputs)
        .enumerate()
        .map(|(index, (verdict, input))| {
            let prevout = input.prevout();
            let coin = state.utxos().get(&prevout).copied();
            InputVerdict {
                index,
                prevout: prevout.to_string(),
                address: coin.map(|c| {
                    Address::new(state.params().network, c.output.pubkey_hash).to_string()
                }),
                amount: coin.map(|c| c.output.amount.units()),
                valid: verdict.is_ok(),
                error: verdict.err().as_ref().map(violation),
            }
        })
        .collect()
}
