//! The peer's own metrics, served at `GET /metrics` beside the HTTP metrics of every service
//! (`mycoin_web::metrics`).
//!
//! | metric | what |
//! |---|---|
//! | `mycoin_chain_height` | height of the active chain's tip |
//! | `mycoin_mempool_transactions` | transactions in the mempool |
//! | `mycoin_mempool_bytes` | their canonical size, summed |
//! | `mycoin_orphan_blocks` | blocks waiting for their parent |
//! | `mycoin_peers{state}` | listed peers by state: `reached`, `unreached`, `banned` |
//!
//! | `mycoin_writer_queue` | changes waiting for the chain's writer |
//! | `mycoin_relay_queue{peer}` | items waiting in each peer's relay queue |
//! | `mycoin_relay_dropped{peer}` | items each peer's full relay queue dropped, ever |
//!
//! Each value is read when Prometheus scrapes, chain values from the latest snapshot: a scrape
//! never waits for the writer.

use actix_web::web;
use mycoin_core::ChainState;
use mycoin_web::metrics::{GaugeFamilyFn, GaugeFn, Registry, as_gauge, gauge_family_fn, gauge_fn};

use crate::node::Node;
use crate::relay::QueueStats;

/// Registers the peer's metrics (names without the `mycoin_` prefix, which the registry adds).
/// One line per metric: a new one (a relay queue's depth, say) is one more `register` call.
pub fn register(registry: &mut Registry, node: &web::Data<Node>) {
    registry.register(
        "chain_height",
        "Height of the active chain's tip",
        chain_gauge(node, |chain| i64::from(chain.height())),
    );
    registry.register(
        "mempool_transactions",
        "Transactions in the mempool",
        chain_gauge(node, |chain| as_gauge(chain.mempool().len())),
    );
    registry.register(
        "mempool_bytes",
        "Size of the mempool's transactions in their canonical encoding, in bytes",
        chain_gauge(node, |chain| as_gauge(chain.mempool().bytes())),
    );
    registry.register(
        "orphan_blocks",
        "Blocks received before their parent, waiting for it",
        chain_gauge(node, |chain| as_gauge(chain.orphan_count())),
    );
    registry.register(
        "orphan_bytes",
        "Size of the orphan blocks in their canonical encoding, in bytes (capped by --orphan-max-bytes)",
        chain_gauge(node, |chain| as_gauge(chain.orphan_bytes())),
    );
    let clock = node.clone();
    registry.register(
        "mempool_min_fee_rate",
        "The fee rate a transaction must pay to enter the mempool now, in base units per 1,000 bytes",
        chain_gauge(node, move |chain| {
            let rate = chain.min_fee_rate(clock.now_secs()).units_per_kb();
            i64::try_from(rate).unwrap_or(i64::MAX)
        }),
    );
    let writer = node.clone();
    registry.register(
        "writer_queue",
        "Changes (blocks, sync batches, transactions) waiting for the chain's writer",
        gauge_fn(move || as_gauge(writer.writer().queued())),
    );
    registry.register(
        "relay_queue",
        "Blocks and transactions waiting in each peer's relay queue",
        relay_gauge(node, |stats| as_gauge(stats.depth)),
    );
    registry.register(
        "relay_dropped",
        "Items each peer's full relay queue dropped (the oldest first), since start",
        relay_gauge(node, |stats| {
            i64::try_from(stats.dropped).unwrap_or(i64::MAX)
        }),
    );
    registry.register(
        "peers",
        "Listed peers by state: reached (answered GET /chain), unreached (never answered), \
         banned",
        peers_by_state(node),
    );
}

/// A gauge read from the chain's latest snapshot at each scrape.
fn chain_gauge(
    node: &web::Data<Node>,
    read: impl Fn(&ChainState) -> i64 + Send + Sync + 'static,
) -> GaugeFn<i64> {
    let node = node.clone();
    gauge_fn(move || read(&node.state()))
}

/// A gauge per peer with a relay queue, from the relay's statistics.
fn relay_gauge(
    node: &web::Data<Node>,
    read: impl Fn(&QueueStats) -> i64 + Send + Sync + 'static,
) -> GaugeFamilyFn<i64> {
    let node = node.clone();
    gauge_family_fn("peer", move || {
        node.relay()
            .stats()
            .iter()
            .map(|stats| (stats.peer.clone(), read(stats)))
            .collect()
    })
}

/// The peers of the book, counted by state (every state, zeros included).
fn peers_by_state(node: &web::Data<Node>) -> GaugeFamilyFn<i64> {
    let node = node.clone();
    gauge_family_fn("state", move || {
        let (mut reached, mut unreached, mut banned) = (0usize, 0usize, 0usize);
        for peer in node.peer_views() {
            if peer.banned_until.is_some() {
                banned += 1;
            } else if peer.last_contact.is_some() {
                reached += 1;
            } else {
                unreached += 1;
            }
        }
        [
            ("reached", reached),
            ("unreached", unreached),
            ("banned", banned),
        ]
        .into_iter()
        .map(|(state, count)| (state.to_owned(), as_gauge(count)))
        .collect()
    })
}
