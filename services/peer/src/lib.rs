//! mycoin's peer (node) service: the chain, validation, the mempool and the peer list, over
//! REST (see `docs/API-CONTRACT.md` and `openapi/peer.json`).
//!
//! Handlers parse the request, call the core crate and map the answer; every consensus
//! decision is the core's. Start it with [`build`] from [`Settings`] (from the command line
//! through [`Cli`], or built in code by a process that runs several services).

pub mod configuration;
pub mod error;
pub mod metrics;
pub mod node;
pub mod p2p;
pub mod peerbook;
pub mod routes;
pub mod startup;

pub use configuration::{Cli, PeerArgs, Settings};
pub use node::Node;
pub use routes::ApiDoc;
pub use startup::{Application, build};
