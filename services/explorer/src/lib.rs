//! mycoin's explorer: web pages of one user's stack — the race between users' nodes (live),
//! blocks, transactions, addresses, the mempool, the peers, a chart of difficulty — in
//! Japanese and English.
//!
//! A thin HTTP layer: each page is fetched from the stack's peer, keys, wallet and miner
//! services through the typed clients of mycoin-api, checked where the page explains a rule
//! (target, Merkle tree and proof, input verdicts) by mycoin-core, and rendered on the server
//! ([`pages`], maud, every value escaped). The only script, the explorer's own, refreshes the
//! race when the peer's events ([`live`]) say something changed; every page reads without it.

pub mod chart;
pub mod configuration;
pub mod i18n;
pub mod live;
pub mod pages;
pub mod routes;
pub mod startup;

pub use configuration::{Cli, Settings};
pub use startup::{ApiDoc, Application, build};
