//! The peer list with what the node knows of each peer: its last announced tip, when it last
//! answered, and its penalty. A peer whose penalty reaches [`BAN_THRESHOLD`] is ignored for
//! [`BAN_SECONDS`]; after that it starts again with a clean slate.

use std::collections::{HashSet, VecDeque};

use mycoin_api::peer::{ChainInfo, PeerView};

use crate::configuration::MAX_PEERS;

/// Penalty points at which a peer is ignored for a while.
pub const BAN_THRESHOLD: u32 = 100;
/// How long a banned peer is ignored, in seconds.
pub const BAN_SECONDS: u64 = 60;

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
}

impl Offence {
    /// The penalty points of the offence.
    pub fn points(self) -> u32 {
        match self {
            Offence::WrongNetwork | Offence::InvalidBlock => BAN_THRESHOLD,
            Offence::BadAnswer => 50,
            Offence::FalseTip => 25,
        }
    }
}

/// Why a peer was not added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddPeerError {
    /// The list already holds [`MAX_PEERS`] peers.
    TooMany,
}

/// The peers, in the order they were added.
#[derive(Debug, Default)]
pub struct PeerBook {
    peers: Vec<PeerView>,
}

impl PeerBook {
    /// A book of `urls` (checked, deduplicated), none contacted yet.
    pub fn new(urls: Vec<String>) -> Self {
        let mut book = PeerBook::default();
        for url in urls {
            let _ = book.add(url);
        }
        book
    }

    /// Adds a peer unless it is listed.
    pub fn add(&mut self, url: String) -> Result<(), AddPeerError> {
        if self.peers.iter().any(|p| p.url == url) {
            return Ok(());
        }
        if self.peers.len() >= MAX_PEERS {
            return Err(AddPeerError::TooMany);
        }
        self.peers.push(PeerView::new(url));
        Ok(())
    }

    /// Whether `url` is a listed peer.
    pub fn contains(&self, url: &str) -> bool {
        self.peers.iter().any(|p| p.url == url)
    }

    /// Every peer's state at `now` (a ban that ended is lifted).
    pub fn views(&mut self, now: u64) -> Vec<PeerView> {
        self.expire(now);
        self.peers.clone()
    }

    /// The peers not banned at `now`.
    pub fn active(&mut self, now: u64) -> Vec<String> {
        self.expire(now);
        self.peers
            .iter()
            .filter(|p| p.banned_until.is_none())
            .map(|p| p.url.clone())
            .collect()
    }

    /// Whether `url` is banned at `now`.
    pub fn is_banned(&mut self, url: &str, now: u64) -> bool {
        self.expire(now);
        self.peers
            .iter()
            .any(|p| p.url == url && p.banned_until.is_some())
    }

    /// Records an answer of `GET /chain` from `url`.
    pub fn contacted(&mut self, url: &str, info: &ChainInfo, now: u64) {
        if let Some(peer) = self.peers.iter_mut().find(|p| p.url == url) {
            peer.tip = Some(info.tip);
            peer.height = Some(info.height);
            peer.total_work = Some(info.total_work.clone());
            peer.last_contact = Some(now);
        }
    }

    /// Penalises `url` for `offence`; returns whether it is now banned.
    pub fn penalise(&mut self, url: &str, offence: Offence, now: u64) -> bool {
        self.expire(now);
        let Some(peer) = self.peers.iter_mut().find(|p| p.url == url) else {
            return false;
        };
        peer.penalty = peer.penalty.saturating_add(offence.points());
        if peer.penalty >= BAN_THRESHOLD && peer.banned_until.is_none() {
            peer.banned_until = Some(now.saturating_add(BAN_SECONDS));
            tracing::warn!(peer = %url, ?offence, penalty = peer.penalty, "peer banned");
        } else {
            tracing::info!(peer = %url, ?offence, penalty = peer.penalty, "peer penalised");
        }
        peer.banned_until.is_some()
    }

    /// Lifts the bans that ended before `now`, with their penalty.
    fn expire(&mut self, now: u64) {
        for peer in &mut self.peers {
            if peer.banned_until.is_some_and(|until| until <= now) {
                peer.banned_until = None;
                peer.penalty = 0;
            }
        }
    }
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

    #[test]
    fn small_offences_add_up_to_a_ban_that_ends() {
        let mut book = PeerBook::new(vec![A.into(), B.into()]);
        for _ in 0..3 {
            assert!(!book.penalise(A, Offence::FalseTip, 1000));
        }
        assert_eq!(book.views(1000)[0].penalty, 75);
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
    fn invalid_blocks_and_other_networks_ban_at_once() {
        for offence in [Offence::InvalidBlock, Offence::WrongNetwork] {
            let mut book = PeerBook::new(vec![A.into()]);
            assert!(book.penalise(A, offence, 5));
            assert!(book.active(5).is_empty());
            // More offences while banned do not extend the ban.
            book.penalise(A, offence, 30);
            assert_eq!(book.views(30)[0].banned_until, Some(5 + BAN_SECONDS));
        }
        let mut book = PeerBook::new(vec![A.into()]);
        assert!(!book.penalise("http://unknown:1", Offence::InvalidBlock, 5));
        assert!(!book.penalise(A, Offence::BadAnswer, 5));
        assert!(book.penalise(A, Offence::BadAnswer, 5));
    }

    #[test]
    fn contacts_are_recorded_and_the_list_is_bounded() {
        let mut book = PeerBook::new(vec![A.into(), A.into()]);
        assert_eq!(book.views(0).len(), 1);
        let genesis = Network::Regtest.params().genesis_hash();
        let info = ChainInfo {
            network: "regtest".into(),
            genesis,
            height: 7,
            tip: genesis,
            total_work: "16".into(),
            mempool_size: 0,
            orphans: 0,
        };
        book.contacted(A, &info, 42);
        let view = &book.views(42)[0];
        assert_eq!(view.height, Some(7));
        assert_eq!(view.last_contact, Some(42));
        assert_eq!(view.total_work.as_deref(), Some("16"));
        for i in 1..MAX_PEERS {
            book.add(format!("http://h{i}:1")).unwrap();
        }
        assert_eq!(book.add("http://more:1".into()), Err(AddPeerError::TooMany));
        assert_eq!(book.add(A.into()), Ok(()));
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
