//! Peer to peer over REST: the sync task and gossip.
//!
//! - Sync: each peer not banned is synced with on its own schedule, so that a slow peer
//!   never delays another ([`run_sync_task`]): at start, then every sync interval after its
//!   last round, at once when a round ended before catching up, when asked
//!   ([`Node::request_sync`]: a new peer, or a block with an unknown parent), and after a
//!   failure once its back-off has passed ([`crate::peerbook`]). A round asks the peer's
//!   `GET /chain`. A peer of another network or genesis is refused (and banned). When the
//!   peer claims more work, the node sends its block locator (`POST /sync`), receives the
//!   blocks after the fork point in bounded batches and submits each to the core, which
//!   validates everything and reorganises when the peer's branch has more work. It repeats
//!   until it has as much work as the peer claimed, the peer stops helping, or a bound is hit.
//!   Every request has its timeout ([`SyncTimeouts`]); a peer that does not answer in time is
//!   penalised for a stall, one that serves invalid blocks or a tip it cannot serve for that.
//! - Candidates: a relayed block's `X-Mycoin-Peer` naming an unlisted node makes it a
//!   candidate ([`Node::sync_with_sender`]); the sync task asks its `GET /chain` and learns it
//!   only when it answers for this network and genesis.
//! - Gossip: a block or transaction newly accepted through `POST /blocks` or
//!   `POST /transactions` is queued for each peer once ([`Node::first_relay`]), and each peer's
//!   queue is drained by its own task through one pooled client ([`crate::relay`]). After a reorganisation the mempool is pushed again
//!   (the losing branch's transactions are back in it). A peer with less work is sent this
//!   node's tip, once per tip: when it does not list this node, the unknown parent makes it add
//!   this node and sync with it, so a partition heals even when only one side knows the other.
//!
//! Nothing waits on the network while holding the chain: reads come from a snapshot, and a
//! batch's signatures are verified on blocking threads before the chain's writer connects it.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use actix_web::web;
use mycoin_api::paths;
use mycoin_api::peer::{
    BlockView, ChainInfo, SubmitBlockRequest, SyncRequest, TransactionRequest, encode_hex,
};
use mycoin_core::pow::work_to_string;
use mycoin_core::{Block, BlockAccepted, BlockError, BlockHash, ChainError, ChainStore, Txid};
use mycoin_web::{ClientError, RestClient};
use serde::Serialize;

use crate::configuration::SyncTimeouts;
use crate::node::{Node, Relayed};
use crate::peerbook::{Offence, compare_work};
use crate::relay::RelayItem;

/// Blocks asked for per batch. A batch is connected under one lock of the chain (readers wait
/// for no more than it) and written in one store transaction: a hundred blocks' rows share
/// pages, so they are written far fewer times than block by block.
pub const SYNC_BATCH: u32 = 100;
/// Batches fetched from one peer per sync round (the next round goes on).
pub const MAX_BATCHES_PER_ROUND: usize = 200;
/// Largest `POST /sync` answer accepted: about 4 MiB of blocks, twice in hex, with the
/// decoded views around them.
pub const MAX_SYNC_ANSWER_BYTES: usize = 48 * 1024 * 1024;
/// Largest `GET /chain` answer accepted.
pub const MAX_CHAIN_ANSWER_BYTES: usize = 16 * 1024;

/// How a sync round with one peer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The peer could not be reached.
    Unreachable,
    /// The peer did not answer a request in time: penalised.
    Stalled,
    /// The peer runs another network or genesis, or answered nonsense: penalised.
    Refused,
    /// The peer has no more work than this node.
    UpToDate,
    /// Blocks were taken from the peer (`blocks` new ones); `caught_up` when this node now
    /// has at least the work the peer claimed.
    Synced { blocks: usize, caught_up: bool },
    /// The peer served invalid blocks or could not serve the tip it claimed: penalised.
    Misbehaved,
    /// This node's store failed.
    LocalFailure,
}

impl SyncOutcome {
    /// Whether the round counts as a success of the peer (its back-off is reset).
    fn succeeded(&self) -> bool {
        matches!(self, SyncOutcome::UpToDate | SyncOutcome::Synced { .. })
    }

    /// Whether the round counts as a failure of the peer (it backs off).
    fn failed(&self) -> bool {
        matches!(
            self,
            SyncOutcome::Unreachable
                | SyncOutcome::Stalled
                | SyncOutcome::Refused
                | SyncOutcome::Misbehaved
        )
    }
}

/// Runs the sync task for ever. Each peer has its own schedule and at most one round at a
/// time; rounds with different peers run concurrently, and a peer whose round ends is
/// rescheduled at once, so no peer ever waits for another:
/// - after a success, the next round starts `interval` later (at once when the round stopped
///   before catching up);
/// - after a failure, once the peer's back-off has passed (1 s, doubling up to 300 s);
/// - a peer asked for ([`Node::request_sync`]) is synced with at once, or right after its
///   running round.
///
/// Candidate peers ([`Node::sync_with_sender`]) are checked here too, concurrently.
pub async fn run_sync_task(node: web::Data<Node>, interval: Duration) {
    let mut rounds = tokio::task::JoinSet::new();
    let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut checks = tokio::task::JoinSet::new();
    let mut due: HashMap<String, Instant> = HashMap::new();
    let mut again: HashSet<String> = HashSet::new();
    loop {
        let now = Instant::now();
        for url in node.take_sync_requests() {
            if running.values().any(|u| *u == url) {
                again.insert(url);
            } else {
                due.insert(url, now);
            }
        }
        for url in node.take_candidates() {
            let node = node.clone();
            checks.spawn(async move {
                let answered = check_candidate(&node, &url).await;
                node.candidate_checked(&url, answered);
            });
        }
        let listed: HashSet<String> = node.peers().into_iter().collect();
        due.retain(|url, _| listed.contains(url));
        again.retain(|url| listed.contains(url));
        let mut wake = now + interval;
        for url in node.active_peers() {
            if running.values().any(|u| *u == url) {
                continue;
            }
            let at = *due.entry(url.clone()).or_insert(now);
            if at > now {
                wake = wake.min(at);
                continue;
            }
            let task = node.clone();
            let peer = url.clone();
            let handle = rounds.spawn(async move { sync_with(&task, &peer).await });
            running.insert(handle.id(), url);
        }
        tokio::select! {
            Some(done) = rounds.join_next_with_id(), if !rounds.is_empty() => {
                let (id, outcome) = match done {
                    Ok((id, outcome)) => (id, outcome),
                    Err(err) => (err.id(), SyncOutcome::LocalFailure),
                };
                let Some(url) = running.remove(&id) else { continue };
                tracing::debug!(peer = %url, ?outcome, "sync round");
                let next = after_round(&node, &url, &outcome, interval);
                match next {
                    Some(_) if again.remove(&url) => {
                        due.insert(url, Instant::now());
                    }
                    Some(delay) => {
                        due.insert(url, Instant::now() + delay);
                    }
                    None => {
                        due.remove(&url);
                        again.remove(&url);
                    }
                }
            }
            Some(_) = checks.join_next(), if !checks.is_empty() => {}
            () = tokio::time::sleep_until(wake) => {}
            () = node.sync_requested() => {}
        }
    }
}

/// Records a round's outcome in the peer book; returns when to sync with the peer again, or
/// `None` when it was dropped.
fn after_round(
    node: &Node,
    url: &str,
    outcome: &SyncOutcome,
    interval: Duration,
) -> Option<Duration> {
    if outcome.succeeded() {
        node.peer_succeeded(url);
        let caught_up = !matches!(
            outcome,
            SyncOutcome::Synced {
                caught_up: false,
                ..
            }
        );
        Some(if caught_up { interval } else { Duration::ZERO })
    } else if outcome.failed() {
        let backoff = node.peer_failed(url);
        if let Some(backoff) = backoff {
            tracing::debug!(peer = %url, ?outcome, ?backoff, "sync failed: backing off");
        }
        backoff
    } else {
        Some(interval)
    }
}

/// Whether the candidate peer at `url` answers `GET /chain` in time for this node's network
/// and genesis.
async fn check_candidate(node: &Node, url: &str) -> bool {
    let Ok(client) = RestClient::new(url, node.sync_timeouts().chain) else {
        return false;
    };
    let client = client.with_max_response_bytes(MAX_CHAIN_ANSWER_BYTES);
    match client.get_json::<ChainInfo>(paths::peer::CHAIN).await {
        Ok(info) => {
            let same = info.network == node.network().name()
                && info.genesis == node.network().params().genesis_hash();
            if !same {
                tracing::info!(peer = %url, network = %info.network, "candidate peer runs another network");
            }
            same
        }
        Err(err) => {
            tracing::info!(peer = %url, error = %err, "candidate peer does not answer");
            false
        }
    }
}

fn client_error_is_peer_fault(err: &ClientError) -> bool {
    matches!(
        err,
        ClientError::BadBody { .. } | ClientError::TooLarge { .. }
    ) || err.status().is_some_and(|s| (400..500).contains(&s))
}

/// One sync round with the peer at `url`.
pub async fn sync_with(node: &Node, url: &str) -> SyncOutcome {
    let SyncTimeouts {
        chain: chain_timeout,
        batch: batch_timeout,
    } = node.sync_timeouts();
    let client = match RestClient::new(url, chain_timeout) {
        Ok(client) => client.with_max_response_bytes(MAX_CHAIN_ANSWER_BYTES),
        Err(err) => {
            tracing::warn!(peer = %url, error = %err, "invalid peer URL");
            return SyncOutcome::Unreachable;
        }
    };
    let info: ChainInfo = match client.get_json(paths::peer::CHAIN).await {
        Ok(info) => info,
        Err(err) if client_error_is_peer_fault(&err) => {
            tracing::info!(peer = %url, error = %err, "peer answered GET /chain wrongly");
            node.penalise(url, Offence::BadAnswer);
            return SyncOutcome::Refused;
        }
        Err(err @ ClientError::Timeout { .. }) => {
            tracing::info!(peer = %url, error = %err, "peer stalled on GET /chain");
            node.penalise(url, Offence::Stall);
            return SyncOutcome::Stalled;
        }
        Err(err) => {
            tracing::debug!(peer = %url, error = %err, "peer unreachable");
            return SyncOutcome::Unreachable;
        }
    };
    let genesis = node.network().params().genesis_hash();
    if info.network != node.network().name() || info.genesis != genesis {
        tracing::warn!(
            peer = %url,
            network = %info.network,
            genesis = %info.genesis,
            "peer runs another network: refused"
        );
        node.penalise(url, Offence::WrongNetwork);
        return SyncOutcome::Refused;
    }
    node.peer_contacted(url, &info);

    let batches = match RestClient::new(url, batch_timeout) {
        Ok(client) => client.with_max_response_bytes(MAX_SYNC_ANSWER_BYTES),
        Err(_) => return SyncOutcome::Unreachable,
    };
    // The last block of the previous batch: the peer goes on after it even while its branch
    // has less work than ours so far (a long side branch).
    let mut cursor: Option<BlockHash> = None;
    let mut received = 0usize;
    // The next batch, asked for while this one is checked.
    let mut prefetch: Option<Prefetch> = None;
    for _ in 0..MAX_BATCHES_PER_ROUND {
        let (mut locator, our_work) = {
            let state = node.state();
            (state.locator(), work_to_string(state.chain_work()))
        };
        match compare_work(&info.total_work, &our_work) {
            None => {
                node.penalise(url, Offence::BadAnswer);
                return SyncOutcome::Refused;
            }
            Some(Ordering::Greater) => {}
            Some(Ordering::Less) if received == 0 => {
                announce_tip(node, url, info.tip).await;
                return SyncOutcome::UpToDate;
            }
            Some(_) if received == 0 => return SyncOutcome::UpToDate,
            Some(_) => {
                return SyncOutcome::Synced {
                    blocks: received,
                    caught_up: true,
                };
            }
        }
        if let Some(cursor) = cursor {
            locator.insert(0, cursor);
        }
        let answer = match prefetch.take() {
            Some(next) => next.answer().await,
            None => Prefetch::start(&batches, locator.clone()).answer().await,
        };
        let views: Vec<BlockView> = match answer {
            Ok(views) => views,
            Err(err) if client_error_is_peer_fault(&err) => {
                tracing::info!(peer = %url, error = %err, "peer answered POST /sync wrongly");
                node.penalise(url, Offence::BadAnswer);
                return SyncOutcome::Misbehaved;
            }
            Err(err @ ClientError::Timeout { .. }) => {
                tracing::info!(peer = %url, error = %err, "peer stalled on POST /sync");
                node.penalise(url, Offence::Stall);
                return SyncOutcome::Stalled;
            }
            Err(err) => {
                tracing::debug!(peer = %url, error = %err, "peer unreachable");
                return SyncOutcome::Unreachable;
            }
        };
        if views.is_empty() && !has_less_work_than(node, &info) {
            // Another peer gave this node those blocks while this one's answer was on its
            // way: the peer's tip is now this node's (or no better), an honest empty answer.
            return SyncOutcome::Synced {
                blocks: received,
                caught_up: true,
            };
        }
        if views.is_empty() || views.len() > SYNC_BATCH as usize {
            tracing::info!(peer = %url, blocks = views.len(), "peer cannot serve the tip it claims");
            node.penalise(url, Offence::FalseTip);
            return SyncOutcome::Misbehaved;
        }
        let mut blocks = Vec::with_capacity(views.len());
        for view in views {
            let Ok(block) = view.block() else {
                tracing::info!(peer = %url, "peer sent bytes that are no block");
                node.penalise(url, Offence::InvalidBlock);
                return SyncOutcome::Misbehaved;
            };
            blocks.push(block);
        }
        // The peer goes on after this batch's last block whatever becomes of it here: it
        // prepares the next batch while this one is checked.
        let mut next = locator;
        next.insert(0, blocks[blocks.len() - 1].block_hash());
        prefetch = Some(Prefetch::start(&batches, next));

        let mut progress = false;
        let hashes: Vec<BlockHash> = blocks.iter().map(Block::block_hash).collect();
        let blocks = node.writer().verify_blocks(blocks).await;
        let now = node.now();
        let Ok((outcomes, error)) = node.writer().submit_blocks(blocks, now).await else {
            return SyncOutcome::LocalFailure;
        };
        let failed_at = outcomes.len();
        for (outcome, hash) in outcomes.into_iter().zip(&hashes) {
            match outcome {
                BlockAccepted::NewTip { tip, returned, .. } => {
                    relay_returned_transactions(node, tip, &returned);
                    progress = true;
                    received += 1;
                    cursor = Some(*hash);
                }
                BlockAccepted::SideChain => {
                    progress = true;
                    received += 1;
                    cursor = Some(*hash);
                }
                BlockAccepted::Duplicate => cursor = Some(*hash),
                BlockAccepted::Orphan { .. } => {
                    tracing::info!(peer = %url, block = %hash, "peer sent a block that does not connect");
                    node.penalise(url, Offence::FalseTip);
                    return SyncOutcome::Misbehaved;
                }
            }
        }
        if let Some(error) = error {
            match error {
                ChainError::Invalid(err) => {
                    // The error belongs to the first block without an outcome.
                    let block = hashes.get(failed_at);
                    tracing::info!(peer = %url, ?block, error = %err, "peer sent an invalid block");
                    let offence = if matches!(err, BlockError::TimeTooNew { .. }) {
                        // Perhaps only the clocks disagree.
                        Offence::FalseTip
                    } else {
                        Offence::InvalidBlock
                    };
                    node.penalise(url, offence);
                    return SyncOutcome::Misbehaved;
                }
                ChainError::Store(err) => {
                    tracing::error!(error = %err, "the store failed while syncing");
                    return SyncOutcome::LocalFailure;
                }
            }
        }
        if !progress {
            // The blocks may have arrived by relay, or from another peer, while the batch was
            // on its way: then this node has the work the peer claimed, and the peer did
            // nothing wrong.
            if !has_less_work_than(node, &info) {
                return SyncOutcome::Synced {
                    blocks: received,
                    caught_up: true,
                };
            }
            tracing::info!(peer = %url, "peer sent only known blocks: it cannot serve its tip");
            node.penalise(url, Offence::FalseTip);
            return SyncOutcome::Misbehaved;
        }
    }
    SyncOutcome::Synced {
        blocks: received,
        caught_up: false,
    }
}

/// Whether this node's active chain has less work than the peer announced in `info`.
fn has_less_work_than(node: &Node, info: &ChainInfo) -> bool {
    let our_work = work_to_string(node.state().chain_work());
    compare_work(&info.total_work, &our_work) == Some(Ordering::Greater)
}

/// A `POST /sync` request on its way; dropping it abandons the request.
struct Prefetch(tokio::task::JoinHandle<Result<Vec<BlockView>, ClientError>>);

impl Prefetch {
    fn start(client: &RestClient, locator: Vec<BlockHash>) -> Prefetch {
        let client = client.clone();
        let request = SyncRequest {
            locator,
            count: Some(SYNC_BATCH),
        };
        Prefetch(tokio::spawn(async move {
            client.post_json(paths::peer::SYNC, &request).await
        }))
    }

    async fn answer(mut self) -> Result<Vec<BlockView>, ClientError> {
        match (&mut self.0).await {
            Ok(answer) => answer,
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The peers to relay to: those not banned, but not the one that sent the item.
fn relay_targets(node: &Node, sender: Option<&str>) -> Vec<String> {
    node.active_peers()
        .into_iter()
        .filter(|url| Some(url.as_str()) != sender)
        .collect()
}

/// Queues a POST of `body` to `path` for each of `targets` ([`crate::relay`]), naming this node
/// in `X-Mycoin-Peer` (when its URL is known) so that a peer missing a block's parent syncs
/// with this node. Nothing waits for the answers; only their status is logged.
fn push<B: Serialize>(node: &Node, targets: &[String], path: &'static str, what: String, body: B) {
    if targets.is_empty() {
        return;
    }
    let body = match serde_json::to_value(body) {
        Ok(body) => Arc::new(body),
        Err(err) => {
            tracing::error!(%what, error = %err, "cannot encode an item to relay");
            return;
        }
    };
    node.relay_to(targets, RelayItem { path, what, body });
}

/// Pushes a newly accepted block to the peers in the background, once.
pub fn relay_block(node: &Node, hash: BlockHash, hex: String, sender: Option<String>) {
    if node.first_relay(Relayed::Block(hash)) {
        let targets = relay_targets(node, sender.as_deref());
        push(
            node,
            &targets,
            paths::peer::BLOCKS,
            format!("block {hash}"),
            SubmitBlockRequest { hex },
        );
    }
}

/// Pushes a newly accepted transaction to the peers in the background, once.
pub fn relay_transaction(node: &Node, txid: Txid, hex: String, sender: Option<String>) {
    if node.first_relay(Relayed::Transaction(txid)) {
        let targets = relay_targets(node, sender.as_deref());
        let what = format!("transaction {txid}");
        push(
            node,
            &targets,
            paths::peer::TRANSACTIONS,
            what,
            TransactionRequest { hex },
        );
    }
}

/// After a reorganisation onto `tip`: pushes the transactions of the disconnected blocks that
/// went back to the mempool (`returned`) to the peers again. Peers that saw them confirmed on
/// the losing branch dropped them when they left it too.
pub fn relay_returned_transactions(node: &Node, tip: BlockHash, returned: &[Txid]) {
    if returned.is_empty() {
        return;
    }
    let pending: Vec<(Txid, String)> = {
        let state = node.state();
        returned
            .iter()
            .filter_map(|txid| state.mempool().get(txid))
            .map(|entry| (entry.txid, encode_hex(&entry.tx)))
            .collect()
    };
    tracing::info!(%tip, transactions = pending.len(), "reorganised: relaying the returned transactions");
    let targets = relay_targets(node, None);
    for (txid, hex) in pending {
        if node.first_relay(Relayed::Returned(txid, tip)) {
            let what = format!("transaction {txid}");
            push(
                node,
                &targets,
                paths::peer::TRANSACTIONS,
                what,
                TransactionRequest { hex },
            );
        }
    }
}

/// Pushes this node's tip to a peer that claims less work, once per peer and tip. A peer that
/// does not list this node (one side of a healed partition) would otherwise never look at its
/// branch: the tip's parent is unknown there, so the peer syncs with the node named in
/// `X-Mycoin-Peer` — this one.
async fn announce_tip(node: &Node, url: &str, peer_tip: BlockHash) {
    if node.self_url().is_none() {
        return;
    }
    let tip = node.state().tip().hash;
    if tip == peer_tip || !node.first_relay(Relayed::Announced(url.to_owned(), tip)) {
        return;
    }
    let tip = match node.store().block(&tip).await {
        Ok(Some(block)) => block,
        Ok(None) | Err(_) => return,
    };
    let hash = tip.header.block_hash();
    let hex = encode_hex(&tip);
    push(
        node,
        &[url.to_owned()],
        paths::peer::BLOCKS,
        format!("tip {hash}"),
        SubmitBlockRequest { hex },
    );
}
