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
//! Each value is read when Prometheus scrapes. A chain value is read only when the chain's lock
//! is free at once: a scrape never waits for a writer, and while one holds the lock the gauge
//! repeats the last value it read.

use std::sync::atomic::{AtomicI64, Ordering};

use actix_web::web;
use mycoin_core::{Chain, SqlStore};
use mycoin_web::metrics::{GaugeFamilyFn, GaugeFn, Registry, as_gauge, gauge_family_fn, gauge_fn};

use crate::node::Node;

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
        chain_gauge(node, |chain| {
            as_gauge(chain.mempool().iter().map(|entry| entry.size).sum())
        }),
    );
    registry.register(
        "orphan_blocks",
        "Blocks received before their parent, waiting for it",
        chain_gauge(node, |chain| as_gauge(chain.orphan_count())),
    );
    registry.register(
        "peers",
        "Listed peers by state: reached (answered GET /chain), unreached (never answered), \
         banned",
        peers_by_state(node),
    );
}

/// A gauge read from the chain at each scrape, or its last value while the chain is locked
/// for writing.
fn chain_gauge(
    node: &web::Data<Node>,
    read: impl Fn(&Chain<SqlStore>) -> i64 + Send + Sync + 'static,
) -> GaugeFn<i64> {
    let node = node.clone();
    let last = AtomicI64::new(0);
    gauge_fn(move || match node.chain().try_read() {
        Ok(chain) => {
            let value = read(&chain);
            last.store(value, Ordering::Relaxed);
            value
        }
        Err(_) => last.load(Ordering::Relaxed),
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
