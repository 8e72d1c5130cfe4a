//! The peer book: the peers with what the node knows of each (its last announced tip, when it
//! last answered, its penalty, its failures in a row and its back-off), bounded, with the
//! policy of docs/PROTOCOL.md §12.4.
//!
//! - At most [`MAX_PEERS`] peers, of which at most [`MAX_LEARNT_PEERS`] learnt at run time
//!   (`POST /peers`, the `X-Mycoin-Peer` header). Peers named in the configuration are never
//!   evicted nor dropped.
//! - When a new peer should be learnt and there is no room, a learnt peer is evicted: the
//!   banned first, then the one with the most failures in a row, then the highest penalty,
//!   then the oldest. With no learnt peer to evict, the new one is refused.
//! - A peer whose penalty reaches [`BAN_THRESHOLD`] is ignored for [`BAN_SECONDS`]; after that
//!   it starts again with a clean slate.
//! - A failed sync (unreachable, too slow, misbehaving) makes the peer back off: 1 s after the
//!   first failure, doubling with each failure in a row up to [`MAX_BACKOFF_SECONDS`]; a
//!   success resets it. A learnt peer with [`DEAD_FAILURES`] failures in a row spanning at least
//!   [`DEAD_SECONDS`] is dead, and dropped.

use std::collections::{HashSet, VecDeque};

use mycoin_api::peer::{ChainInfo, PeerSource, PeerView};

/// Most peers a node keeps.
pub const MAX_PEERS: usize = 64;
/// Most peers learnt at run time (from `POST /peers` or the `X-Mycoin-Peer` header).
pub const MAX_LEARNT_PEERS: usize = 32;
/// Penalty points at which a peer is ignored for a while.
pub const BAN_THRESHOLD: u32 = 100;
/// How long a banned peer is ignored, in seconds.
pub const BAN_SECONDS: u64 = 60;
/// The back-off after a first failure, in seconds; it doubles with each failure in a row.
pub const FIRST_BACKOFF_SECONDS: u64 = 1;
/// The longest back-off, in seconds.
pub const MAX_BACKOFF_SECONDS: u64 = 300;
/// Failures in a row after which a learnt peer may be dead...
pub const DEAD_FAILURES: u32 = 10;
/// ...when they span at least this many seconds.
pub const DEAD_SECONDS: u64 = 600;

/// What a peer did wrong, and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offence {
    /// It runs another network or another genesis: it must never be synced with.
    WrongNetwork,
    /// It sent a block that breaks a consensus rule, or bytes that are no block.
    InvalidBlock,
    /// Its `GET /chain` or `POST /sync` answer was malformed.
    BadAnswer,
    /// It claims more work than it can serve (no blocks, or blocks that do not connect).
    FalseTip,
    /// It did not answer a request (`GET /chain`, one `POST /sync` batch) in time.
    Stall,
}

impl Offence {
    /// The penalty points of the offence.
    pub fn points(self) -> u32 {
        match self {
            Offence::WrongNetwork | Offence::InvalidBlock => BAN_THRESHOLD,
            Offence::BadAnswer => 50,
            Offence::FalseTip => 25,
            Offence::Stall => 20,
        }
    }

    /// The offence's name in `GET /peers` (`last_offence`).
    pub fn code(self) -> &'static str {
        match self {
            Offence::WrongNetwork => "wrong_network",
            Offence::InvalidBlock => "invalid_block",
            Offence::BadAnswer => "bad_answer",
            Offence::FalseTip => "false_tip",
            Offence::Stall => "stall",
        }
    }
}

/// Why a peer was not added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddPeerError {
    /// The book is full and holds no learnt peer that may be evicted.
    Full,
    /// More than [`MAX_PEERS`] peers were configured.
    TooManyConfigured { configured: usize },
}

impl std::fmt::Display for AddPeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddPeerError::Full => write!(
                f,
                "the peer book is full ({MAX_PEERS} peers, at most {MAX_LEARNT_PEERS} learnt) \
                 and holds no learnt peer to evict"
            ),
            AddPeerError::TooManyConfigured { configured } => write!(
                f,
                "{configured} peers are configured; a node keeps at most {MAX_PEERS}"
            ),
        }
    }
}

impl std::error::Error for AddPeerError {}

/// Which learnt peers may make room for a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// Any learnt peer, in the eviction order (the operator asked, with the API token).
    AnyLearnt,
    /// Only a learnt peer that is banned, failing or penalised (a peer named by a header:
    /// strangers never push out a learnt peer that behaves).
    Misbehaving,
}

/// What adding a peer did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Added {
    /// Whether the peer is new to the book.
    pub new: bool,
    /// The learnt peer evicted to make room, if any.
    pub evicted: Option<String>,
}

/// What the book does after a failed sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again after this many seconds.
    RetryIn(u64),
    /// A dead learnt peer: dropped from the book.
    Dropped,
}

#[derive(Debug, Clone)]
struct Entry {
    view: PeerView,
    /// When the failures in a row began.
    failing_since: Option<u64>,
    /// Order of arrival, for "oldest".
    seq: u64,
}

/// The peers, in the order they were added.
#[derive(Debug, Default)]
pub struct PeerBook {
    peers: Vec<Entry>,
    next_seq: u64,
}

impl PeerBook {
    /// A book of the configured `urls` (deduplicated), none contacted yet; refused when they
    /// are more than [`MAX_PEERS`].
    pub fn new(urls: Vec<String>) -> Result<Self, AddPeerError> {
        let mut book = PeerBook::default();
        for url in urls {
            if !book.contains(&url) {
                book.push(url, PeerSource::Configured);
            }
        }
        if book.peers.len() > MAX_PEERS {
            return Err(AddPeerError::TooManyConfigured {
                configured: book.peers.len(),
            });
        }
        Ok(book)
    }

    fn push(&mut self, url: String, source: PeerSource) {
        self.peers.push(Entry {
            view: PeerView::new(url, source),
            failing_since: None,
            seq: self.next_seq,
        });
        self.next_seq += 1;
    }

    fn learnt(&self) -> usize {
        self.peers
            .iter()
            .filter(|p| p.view.source == PeerSource::Learnt)
            .count()
    }

    /// Whether a peer could be learnt now (room, or a learnt peer `eviction` allows to evict).
    pub fn has_room(&mut self, eviction: Eviction, now: u64) -> bool {
        self.expire(now);
        let full = self.peers.len() >= MAX_PEERS || self.learnt() >= MAX_LEARNT_PEERS;
        !full || self.victim(eviction).is_some()
    }

    /// The learnt peer to evict: banned first, then the most failures in a row, then the
    /// highest penalty, then the oldest.
    fn victim(&self, eviction: Eviction) -> Option<usize> {
        self.peers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.view.source == PeerSource::Learnt)
            .filter(|(_, p)| {
                eviction == Eviction::AnyLearnt
                    || p.view.banned_until.is_some()
                    || p.view.failures > 0
                    || p.view.penalty > 0
            })
            .max_by(|(_, a), (_, b)| {
                (
                    a.view.banned_until.is_some(),
                    a.view.failures,
                    a.view.penalty,
                )
                    .cmp(&(
                        b.view.banned_until.is_some(),
                        b.view.failures,
                        b.view.penalty,
                    ))
                    // Older (smaller seq) wins a tie.
                    .then_with(|| b.seq.cmp(&a.seq))
            })
            .map(|(i, _)| i)
    }

    /// Learns a peer unless it is listed, evicting a learnt one (as `eviction` allows) when
    /// the book has no room.
    pub fn learn(
        &mut self,
        url: String,
        eviction: Eviction,
        now: u64,
    ) -> Result<Added, AddPeerError> {
        if self.contains(&url) {
            return Ok(Added::default());
        }
        self.expire(now);
        let mut evicted = None;
        if self.peers.len() >= MAX_PEERS || self.learnt() >= MAX_LEARNT_PEERS {
            let victim = self.victim(eviction).ok_or(AddPeerError::Full)?;
            let gone = self.peers.remove(victim);
            tracing::info!(peer = %gone.view.url, new = %url, "peer book full: evicted a learnt peer");
            evicted = Some(gone.view.url);
        }
        self.push(url, PeerSource::Learnt);
        Ok(Added { new: true, evicted })
    }

    /// Whether `url` is a listed peer.
    pub fn contains(&self, url: &str) -> bool {
        self.peers.iter().any(|p| p.view.url == url)
    }

    /// Every peer's state at `now` (a ban that ended is lifted).
    pub fn views(&mut self, now: u64) -> Vec<PeerView> {
        self.expire(now);
        self.peers.iter().map(|p| p.view.clone()).collect()
    }

    /// The peers not banned at `now`.
    pub fn active(&mut self, now: u64) -> Vec<String> {
        self.expire(now);
        self.peers
            .iter()
            .filter(|p| p.view.banned_until.is_none())
            .map(|p| p.view.url.clone())
            .collect()
    }

    /// Whether `url` is banned at `now`.
    pub fn is_banned(&mut self, url: &str, now: u64) -> bool {
        self.expire(now);
        self.peers
            .iter()
            .any(|p| p.view.url == url && p.view.banned_until.is_some())
    }

    fn entry(&mut self, url: &str) -> Option<&mut Entry> {
        self.peers.iter_mut().find(|p| p.view.url == url)
    }

    /// Records an answer of `GET /chain` from `url`.
    pub fn contacted(&mut self, url: &str, info: &ChainInfo, now: u64) {
        if let Some(peer) = self.entry(url) {
            peer.view.tip = Some(info.tip);
            peer.view.height = Some(info.height);
            peer.view.total_work = Some(info.total_work.clone());
            peer.view.last_contact = Some(now);
        }
    }

    /// Records a successful sync with `url`: its failures and back-off are reset.
    pub fn succeeded(&mut self, url: &str) {
        if let Some(peer) = self.entry(url) {
            peer.view.failures = 0;
            peer.view.retry_at = None;
            peer.failing_since = None;
        }
    }

    /// Records a failed sync with `url` at `now`: the peer backs off (1 s, doubling up to
    /// [`MAX_BACKOFF_SECONDS`]), or, a dead learnt peer, is dropped.
    pub fn failed(&mut self, url: &str, now: u64) -> AfterFailure {
        let Some(index) = self.peers.iter().position(|p| p.view.url == url) else {
            return AfterFailure::Dropped;
        };
        let peer = &mut self.peers[index];
        peer.view.failures = peer.view.failures.saturating_add(1);
        let since = *peer.failing_since.get_or_insert(now);
        if peer.view.source == PeerSource::Learnt
            && peer.view.failures >= DEAD_FAILURES
            && now.saturating_sub(since) >= DEAD_SECONDS
        {
            tracing::info!(peer = %url, failures = peer.view.failures, "dead learnt peer: dropped");
            self.peers.remove(index);
            return AfterFailure::Dropped;
        }
        let delay = backoff(peer.view.failures);
        peer.view.retry_at = Some(now.saturating_add(delay));
        AfterFailure::RetryIn(delay)
    }

    /// Penalises `url` for `offence`; returns whether it is now banned.
    pub fn penalise(&mut self, url: &str, offence: Offence, now: u64) -> bool {
        self.expire(now);
        let Some(peer) = self.entry(url) else {
            return false;
        };
        let view = &mut peer.view;
        view.penalty = view.penalty.saturating_add(offence.points());
        view.last_offence = Some(offence.code().to_owned());
        if view.penalty >= BAN_THRESHOLD && view.banned_until.is_none() {
            view.banned_until = Some(now.saturating_add(BAN_SECONDS));
            tracing::warn!(peer = %url, ?offence, penalty = view.penalty, "peer banned");
        } else {
            tracing::info!(peer = %url, ?offence, penalty = view.penalty, "peer penalised");
        }
        view.banned_until.is_some()
    }

    /// Lifts the bans that ended before `now`, with their penalty.
    fn expire(&mut self, now: u64) {
        for peer in &mut self.peers {
            if peer.view.banned_until.is_some_and(|until| until <= now) {
                peer.view.banned_until = None;
                peer.view.penalty = 0;
            }
        }
    }
}

/// The back-off after `failures` failures in a row, in seconds: 1, 2, 4, ... up to
/// [`MAX_BACKOFF_SECONDS`].
pub fn backoff(failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(20);
    (FIRST_BACKOFF_SECONDS << doublings).min(MAX_BACKOFF_SECONDS)
}

/// The hashes and txids relayed lately, bounded (the oldest is forgotten first), so that a
/// block or transaction is pushed to the peers once.
#[derive(Debug)]
pub struct RecentlyRelayed<K> {
    seen: HashSet<K>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: std::hash::Hash + Eq + Clone> RecentlyRelayed<K> {
    /// A set that remembers `capacity` items.
    pub fn new(capacity: usize) -> Self {
        RecentlyRelayed {
            seen: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Remembers `id`; returns false when it was already remembered.
    pub fn insert(&mut self, id: K) -> bool {
        if self.seen.contains(&id) {
            return false;
        }
        self.seen.insert(id.clone());
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}

/// Compares two decimal work strings (`GET /chain`'s `total_work`); `None` when one is not a
/// decimal number.
pub fn compare_work(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    fn digits(s: &str) -> Option<&str> {
        if s.is_empty() || s.len() > 100 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let trimmed = s.trim_start_matches('0');
        Some(if trimmed.is_empty() { "0" } else { trimmed })
    }
    let (a, b) = (digits(a)?, digits(b)?);
    Some(a.len().cmp(&b.len()).then_with(|| a.cmp(b)))
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use mycoin_core::Network;

    use super::*;

    const A: &str = "http://127.0.0.1:8001";
    const B: &str = "http://127.0.0.1:8002";

    fn configured(urls: &[&str]) -> PeerBook {
        PeerBook::new(urls.iter().map(|u| u.to_string()).collect()).unwrap()
    }

    fn learnt(i: usize) -> String {
        format!("http://10.0.0.{}:{}", i / 250, 9000 + i)
    }

    #[test]
    fn small_offences_add_up_to_a_ban_that_ends() {
        let mut book = configured(&[A, B]);
        for _ in 0..3 {
            assert!(!book.penalise(A, Offence::FalseTip, 1000));
        }
        assert_eq!(book.views(1000)[0].penalty, 75);
        assert_eq!(
            book.views(1000)[0].last_offence.as_deref(),
            Some("false_tip")
        );
        assert_eq!(book.active(1000), [A, B]);
        assert!(book.penalise(A, Offence::FalseTip, 1001));
        assert!(book.is_banned(A, 1001));
        assert_eq!(book.active(1001), [B]);
        assert_eq!(book.views(1001)[0].banned_until, Some(1001 + BAN_SECONDS));
        // Still banned just before the end; clean again after it.
        assert!(book.is_banned(A, 1000 + BAN_SECONDS));
        assert!(!book.is_banned(A, 1001 + BAN_SECONDS));
        let view = &book.views(1001 + BAN_SECONDS)[0];
        assert_eq!((view.penalty, view.banned_until), (0, None));
    }

    #[test]
    fn five_stalls_ban() {
        let mut book = configured(&[A]);
        for _ in 0..4 {
            assert!(!book.penalise(A, Offence::Stall, 7));
        }
        assert_eq!(book.views(7)[0].penalty, 80);
        assert_eq!(book.views(7)[0].last_offence.as_deref(), Some("stall"));
        assert!(book.penalise(A, Offence::Stall, 7));
    }

    #[test]
    fn invalid_blocks_and_other_networks_ban_at_once() {
        for offence in [Offence::InvalidBlock, Offence::WrongNetwork] {
            let mut book = configured(&[A]);
            assert!(book.penalise(A, offence, 5));
            assert!(book.active(5).is_empty());
            // More offences while banned do not extend the ban.
            book.penalise(A, offence, 30);
            assert_eq!(book.views(30)[0].banned_until, Some(5 + BAN_SECONDS));
        }
        let mut book = configured(&[A]);
        assert!(!book.penalise("http://unknown:1", Offence::InvalidBlock, 5));
        assert!(!book.penalise(A, Offence::BadAnswer, 5));
        assert!(book.penalise(A, Offence::BadAnswer, 5));
    }

    #[test]
    fn contacts_are_recorded() {
        let mut book = configured(&[A, A]);
        assert_eq!(book.views(0).len(), 1);
        assert_eq!(book.views(0)[0].source, PeerSource::Configured);
        let genesis = Network::Regtest.params().genesis_hash();
        let info = ChainInfo {
            network: "regtest".into(),
            genesis,
            height: 7,
            tip: genesis,
            total_work: "16".into(),
            mempool_size: 0,
            orphans: 0,
            tip_age_ms: 0,
        };
        book.contacted(A, &info, 42);
        let view = &book.views(42)[0];
        assert_eq!(view.height, Some(7));
        assert_eq!(view.last_contact, Some(42));
        assert_eq!(view.total_work.as_deref(), Some("16"));
    }

    #[test]
    fn more_configured_peers_than_the_book_holds_are_refused() {
        let urls: Vec<String> = (0..=MAX_PEERS).map(learnt).collect();
        assert_eq!(
            PeerBook::new(urls.clone()).err(),
            Some(AddPeerError::TooManyConfigured {
                configured: MAX_PEERS + 1
            })
        );
        let book = PeerBook::new(urls[..MAX_PEERS].to_vec()).unwrap();
        assert_eq!(book.peers.len(), MAX_PEERS);
    }

    #[test]
    fn a_book_full_of_configured_peers_refuses_and_keeps_them() {
        let urls: Vec<String> = (0..MAX_PEERS).map(learnt).collect();
        let mut book = PeerBook::new(urls.clone()).unwrap();
        // Even banned and failing, a configured peer stays.
        book.penalise(&urls[0], Offence::InvalidBlock, 1);
        for _ in 0..50 {
            assert!(matches!(
                book.failed(&urls[1], 10_000),
                AfterFailure::RetryIn(_)
            ));
        }
        assert!(!book.has_room(Eviction::AnyLearnt, 2));
        assert_eq!(
            book.learn("http://junk:1".into(), Eviction::AnyLearnt, 2),
            Err(AddPeerError::Full)
        );
        assert_eq!(book.views(2).len(), MAX_PEERS);
        // A listed peer is no addition.
        assert_eq!(
            book.learn(urls[3].clone(), Eviction::AnyLearnt, 2),
            Ok(Added::default())
        );
    }

    #[test]
    fn learnt_peers_are_capped_and_evicted_in_order() {
        let mut book = configured(&[A]);
        for i in 0..MAX_LEARNT_PEERS {
            let added = book.learn(learnt(i), Eviction::AnyLearnt, 0).unwrap();
            assert_eq!(
                added,
                Added {
                    new: true,
                    evicted: None
                }
            );
        }
        // Full of learnt peers that behave: a header's stranger finds no room; the operator's
        // peer evicts the oldest.
        assert!(!book.has_room(Eviction::Misbehaving, 0));
        assert_eq!(
            book.learn("http://stranger:1".into(), Eviction::Misbehaving, 0),
            Err(AddPeerError::Full)
        );
        let added = book
            .learn("http://new:0".into(), Eviction::AnyLearnt, 0)
            .unwrap();
        assert_eq!(added.evicted, Some(learnt(0)));

        // Highest penalty goes before the oldest.
        book.penalise(&learnt(5), Offence::FalseTip, 0);
        book.penalise(&learnt(6), Offence::BadAnswer, 0);
        // Most failures go before the highest penalty.
        book.failed(&learnt(7), 0);
        book.failed(&learnt(8), 0);
        book.failed(&learnt(8), 0);
        // Banned goes first.
        book.penalise(&learnt(9), Offence::InvalidBlock, 0);
        assert!(book.has_room(Eviction::Misbehaving, 0));
        let order: Vec<Option<String>> = (1..=6)
            .map(|i| {
                book.learn(format!("http://new:{i}"), Eviction::Misbehaving, 0)
                    .map(|added| added.evicted)
                    .unwrap_or(None)
            })
            .collect();
        assert_eq!(
            order,
            [
                Some(learnt(9)),
                Some(learnt(8)),
                Some(learnt(7)),
                Some(learnt(6)),
                Some(learnt(5)),
                None,
            ]
        );
        assert!(book.contains(A), "the configured peer stays");
        assert_eq!(book.learnt(), MAX_LEARNT_PEERS);
    }

    #[test]
    fn the_whole_book_is_bounded_with_room_for_configured_peers() {
        let urls: Vec<String> = (100..100 + MAX_PEERS - 10).map(learnt).collect();
        let mut book = PeerBook::new(urls).unwrap();
        for i in 0..10 {
            book.learn(learnt(i), Eviction::AnyLearnt, 0).unwrap();
        }
        assert_eq!(book.peers.len(), MAX_PEERS);
        let added = book
            .learn("http://x:1".into(), Eviction::AnyLearnt, 0)
            .unwrap();
        assert_eq!(added.evicted, Some(learnt(0)));
        assert_eq!(book.peers.len(), MAX_PEERS);
    }

    #[test]
    fn back_off_doubles_up_to_its_cap_and_a_success_resets_it() {
        let mut book = configured(&[A]);
        let delays: Vec<AfterFailure> = (0..12).map(|_| book.failed(A, 100)).collect();
        let expected: Vec<AfterFailure> = [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
            .into_iter()
            .map(AfterFailure::RetryIn)
            .collect();
        assert_eq!(delays, expected);
        let view = &book.views(100)[0];
        assert_eq!((view.failures, view.retry_at), (12, Some(400)));
        book.succeeded(A);
        let view = &book.views(100)[0];
        assert_eq!((view.failures, view.retry_at), (0, None));
        assert_eq!(book.failed(A, 101), AfterFailure::RetryIn(1));
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF_SECONDS);
    }

    #[test]
    fn a_dead_learnt_peer_is_dropped_but_not_a_configured_one() {
        let mut book = configured(&[A]);
        book.learn(B.into(), Eviction::AnyLearnt, 0).unwrap();
        // Ten failures in a row, but within 600 s: kept.
        for t in 0..DEAD_FAILURES as u64 {
            assert!(matches!(book.failed(B, 1000 + t), AfterFailure::RetryIn(_)));
            assert!(matches!(book.failed(A, 1000 + t), AfterFailure::RetryIn(_)));
        }
        assert!(book.contains(B));
        // A success starts the span again.
        book.succeeded(B);
        for t in 0..DEAD_FAILURES as u64 - 1 {
            assert!(matches!(
                book.failed(B, 2000 + t * 100),
                AfterFailure::RetryIn(_)
            ));
        }
        assert_eq!(book.failed(B, 2000 + DEAD_SECONDS), AfterFailure::Dropped);
        assert!(!book.contains(B));
        // A configured peer is never dropped.
        assert!(matches!(
            book.failed(A, 1_000_000),
            AfterFailure::RetryIn(300)
        ));
        assert!(book.contains(A));
    }

    #[test]
    fn relayed_items_are_remembered_boundedly() {
        let mut recent = RecentlyRelayed::<String>::new(2);
        assert!(recent.insert("a".into()));
        assert!(!recent.insert("a".into()));
        assert!(recent.insert("b".into()));
        assert!(recent.insert("c".into()));
        assert!(recent.insert("a".into()), "the oldest was forgotten");
    }

    #[test]
    fn work_compares_as_numbers() {
        assert_eq!(compare_work("10", "9"), Some(Ordering::Greater));
        assert_eq!(compare_work("007", "7"), Some(Ordering::Equal));
        assert_eq!(compare_work("123", "124"), Some(Ordering::Less));
        assert_eq!(compare_work("0", "00"), Some(Ordering::Equal));
        assert_eq!(compare_work("x", "1"), None);
        assert_eq!(compare_work("", "1"), None);
        assert_eq!(compare_work("-1", "1"), None);
    }
}
