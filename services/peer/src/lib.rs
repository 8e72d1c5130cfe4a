//! mycoin's peer (node) service: the chain, validation, the mempool and the peer list, over
//! REST (see `docs/API-CONTRACT.md` and `openapi/peer.json`).
//!
//! Handlers parse the request, call the core crate and map the answer; every consensus
//! decision is the core's. One task owns the chain ([`writer`]): changes reach it through a
//! bounded queue after their signatures were verified on blocking threads, and readers answer
//! from the snapshot it publishes after each change, so no request waits on another's CPU
//! work or I/O. Gossip leaves through one pooled client and a bounded queue per peer
//! ([`relay`]). Start it with [`build`] from [`Settings`] (from the command line
//! through [`Cli`], or built in code by a process that runs several services).

pub mod configuration;
pub mod error;
pub mod metrics;
pub mod node;
pub mod p2p;
pub mod peerbook;
pub mod relay;
pub mod routes;
pub mod startup;
pub mod writer;

pub use configuration::{Cli, PeerArgs, Settings};
pub use node::Node;
pub use routes::ApiDoc;
pub use startup::{Application, build};
