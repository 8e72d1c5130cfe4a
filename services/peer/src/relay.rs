//! Gossip's outgoing side: one pooled HTTP client for every peer, and a bounded queue per peer
//! drained by one task per peer.
//!
//! A relayed block or transaction is queued for each peer and the caller goes on at once. A
//! peer's task posts its items one after the other; a peer that is slow or gone only fills its
//! own queue, and when that queue is full the oldest item is dropped (the newest blocks and
//! transactions matter most, and a peer that missed a block catches up by syncing).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mycoin_api::peer::PEER_HEADER;
use mycoin_web::RestClient;
use tokio::sync::Notify;

/// Items waiting for one peer, at most.
pub const RELAY_QUEUE: usize = 256;
/// Time a peer has to take a relayed block or transaction.
pub const RELAY_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read from a peer a block or transaction was relayed to.
const MAX_RELAY_ANSWER_BYTES: usize = 64 * 1024;

/// A FIFO queue of at most `capacity` items: pushing onto a full queue drops the oldest.
#[derive(Debug)]
pub struct BoundedQueue<T> {
    items: VecDeque<T>,
    capacity: usize,
    dropped: u64,
}

impl<T> BoundedQueue<T> {
    /// An empty queue of at most `capacity` (at least 1) items.
    pub fn new(capacity: usize) -> Self {
        BoundedQueue {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
        }
    }

    /// Appends `item`; returns the oldest item when it had to make room.
    pub fn push(&mut self, item: T) -> Option<T> {
        let dropped = if self.items.len() == self.capacity {
            self.dropped += 1;
            self.items.pop_front()
        } else {
            None
        };
        self.items.push_back(item);
        dropped
    }

    /// Takes the oldest item.
    pub fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many items were dropped to make room, ever.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// One POST to relay: the path, what it is (for the log), and the JSON body.
#[derive(Debug, Clone)]
pub struct RelayItem {
    pub path: &'static str,
    pub what: String,
    pub body: Arc<serde_json::Value>,
}

#[derive(Debug)]
struct PeerQueue {
    items: Mutex<BoundedQueue<RelayItem>>,
    wake: Notify,
    /// Set when the peer left the book: its task ends.
    closed: AtomicBool,
}

impl PeerQueue {
    fn items(&self) -> std::sync::MutexGuard<'_, BoundedQueue<RelayItem>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A peer's queue depth and what it dropped, for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    pub peer: String,
    pub depth: usize,
    pub dropped: u64,
}

/// The relay: one connection pool, one queue and one task per peer.
#[derive(Debug)]
pub struct Relay {
    client: RestClient,
    queues: Mutex<HashMap<String, Arc<PeerQueue>>>,
    capacity: usize,
}

impl Relay {
    /// A relay whose queues hold `capacity` items each.
    pub fn new(capacity: usize) -> Relay {
        let client = RestClient::new("http://127.0.0.1", RELAY_TIMEOUT)
            .expect("a fixed, valid URL")
            .with_max_response_bytes(MAX_RELAY_ANSWER_BYTES);
        Relay {
            client,
            queues: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// Queues `item` for each peer of `targets`, naming this node as `own_url` when known.
    /// Starts a peer's task on its first item.
    pub fn enqueue(&self, targets: &[String], item: &RelayItem, own_url: Option<&str>) {
        for url in targets {
            let Some(queue) = self.queue(url, own_url) else {
                continue;
            };
            if let Some(old) = queue.items().push(item.clone()) {
                tracing::debug!(peer = %url, dropped = %old.what, "relay queue full: dropped the oldest");
            }
            queue.wake.notify_one();
        }
    }

    /// Drops the queue of a peer that left the book (evicted or dead), and ends its task.
    pub fn forget(&self, url: &str) {
        let queue = self
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(url);
        if let Some(queue) = queue {
            queue.closed.store(true, Ordering::Relaxed);
            queue.wake.notify_one();
            tracing::debug!(peer = %url, "relay queue dropped");
        }
    }

    /// Whether a queue (and its task) exists for `url`.
    pub fn has_queue(&self, url: &str) -> bool {
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(url)
    }

    /// Every peer's queue depth and drop count.
    pub fn stats(&self) -> Vec<QueueStats> {
        let queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let mut stats: Vec<QueueStats> = queues
            .iter()
            .map(|(peer, queue)| {
                let items = queue.items();
                QueueStats {
                    peer: peer.clone(),
                    depth: items.len(),
                    dropped: items.dropped(),
                }
            })
            .collect();
        stats.sort_by(|a, b| a.peer.cmp(&b.peer));
        stats
    }

    fn queue(&self, url: &str, own_url: Option<&str>) -> Option<Arc<PeerQueue>> {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(queue) = queues.get(url) {
            return Some(queue.clone());
        }
        let client = self.client.at(url).and_then(|client| match own_url {
            Some(own) => client.with_header(PEER_HEADER, own),
            None => Ok(client),
        });
        let client = match client {
            Ok(client) => client,
            Err(err) => {
                tracing::warn!(peer = %url, error = %err, "cannot relay to this peer");
                return None;
            }
        };
        let queue = Arc::new(PeerQueue {
            items: Mutex::new(BoundedQueue::new(self.capacity)),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
        });
        queues.insert(url.to_owned(), queue.clone());
        tokio::spawn(drain(client, queue.clone()));
        Some(queue)
    }
}

/// A peer's task: posts its queued items one after the other, for ever.
async fn drain(client: RestClient, queue: Arc<PeerQueue>) {
    loop {
        if queue.closed.load(Ordering::Relaxed) {
            return;
        }
        let next = queue.items().pop();
        let Some(item) = next else {
            queue.wake.notified().await;
            continue;
        };
        let result: Result<serde_json::Value, _> = client.post_json(item.path, &*item.body).await;
        match result {
            Ok(_) => tracing::debug!(peer = %client.base_url(), what = %item.what, "relayed"),
            Err(err) => {
                tracing::debug!(peer = %client.base_url(), what = %item.what, error = %err, "relay refused or failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycoin_api::paths;

    #[test]
    fn a_full_queue_drops_the_oldest() {
        let mut queue = BoundedQueue::new(3);
        for i in 0..3 {
            assert_eq!(queue.push(i), None);
        }
        assert_eq!(queue.push(3), Some(0));
        assert_eq!(queue.push(4), Some(1));
        assert_eq!(queue.len(), 3);
        assert_eq!(queue.dropped(), 2);
        assert_eq!(
            std::iter::from_fn(|| queue.pop()).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn a_forgotten_peer_loses_its_queue() {
        let relay = Relay::new(4);
        let item = RelayItem {
            path: paths::peer::BLOCKS,
            what: "block".into(),
            body: Arc::new(serde_json::json!({})),
        };
        let targets = [
            "http://127.0.0.1:1".to_owned(),
            "http://127.0.0.1:2".to_owned(),
        ];
        relay.enqueue(&targets, &item, None);
        assert!(relay.has_queue(&targets[0]) && relay.has_queue(&targets[1]));
        relay.forget(&targets[0]);
        assert!(!relay.has_queue(&targets[0]));
        assert_eq!(relay.stats().len(), 1);
        relay.forget("http://never:1");
    }

    #[test]
    fn a_queue_holds_at_least_one_item() {
        let mut queue = BoundedQueue::new(0);
        assert_eq!(queue.push("a"), None);
        assert_eq!(queue.push("b"), Some("a"));
        assert_eq!(queue.pop(), Some("b"));
    }
}
