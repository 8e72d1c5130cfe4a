//! The miner service's request and response bodies.
//!
//! | endpoint | request | response |
//! |---|---|---|
//! | `POST /mine` | [`MineRequest`] | [`MineResponse`] |
//! | `POST /miner/start` | [`MineRequest`] | [`MinerStatus`] |
//! | `POST /miner/stop` | — | [`MinerStatus`] |
//! | `GET /miner` | — | [`MinerStatus`] |

use mycoin_core::BlockHash;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::peer::{BlockStatus, BlockView};

/// Body of `POST /mine` and `POST /miner/start`: where the coinbase pays. Without an address
/// the miner asks the keys service for a fresh key (`POST /keys`) and pays to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"address": "MJp6tQWwVvDtv7Ju5XADEzBDQSDkAcgHBt"}))]
pub struct MineRequest {
    /// Base58Check address of the service's network that the block reward pays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// Answer of `POST /mine`: the block found and submitted to the peer service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MineResponse {
    /// The block hash.
    #[schema(value_type = String)]
    pub hash: BlockHash,
    /// The block's height.
    pub height: u32,
    /// Nonces hashed for this block, over every template and header time tried.
    pub attempts: u64,
    /// Time from the first template to the found nonce, in milliseconds.
    pub elapsed_ms: u64,
    /// Nonces hashed per second.
    pub rate: f64,
    /// The address the block reward pays.
    pub address: String,
    /// What the peer service made of the block (`new_tip` unless another block came first).
    pub status: BlockStatus,
    /// The block as the peer service shows it.
    pub block: BlockView,
}

/// State of the background miner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "running": true, "hash_rate": 50_000_000.0, "blocks_found": 3,
    "stale_seconds": 0.004, "idle_seconds": 0.012, "tips": 5, "threads": 2,
    "backend": "avx512", "backend_forced": false,
    "backend_rates": [
        {"backend": "portable", "rate": 4_000_000.0},
        {"backend": "sha_ni", "rate": 12_500_000.0},
        {"backend": "avx2", "rate": 14_000_000.0},
        {"backend": "avx512", "rate": 26_000_000.0}
    ],
    "address": "MJp6tQWwVvDtv7Ju5XADEzBDQSDkAcgHBt"
}))]
pub struct MinerStatus {
    /// Whether background mining runs.
    pub running: bool,
    /// Nonces hashed per second over the last second, by all mining of the service.
    pub hash_rate: f64,
    /// Blocks the background miner found and the peer service accepted since the service started.
    pub blocks_found: u64,
    /// Seconds the background miner hashed on a parent block the peer service had already left
    /// for another tip (from when the peer took the new tip to when the search stopped), since
    /// the service started: work that can only give a side block.
    pub stale_seconds: f64,
    /// Seconds the background miner hashed nothing between two searches (submitting a block,
    /// fetching the next template, retrying after a failure), since the service started.
    pub idle_seconds: f64,
    /// Tips (parent blocks) the background miner searched on since the service started: the
    /// blocks the two times above are spread over.
    pub tips: u64,
    /// Threads that search nonces.
    pub threads: usize,
    /// How the search hashes nonces: the fastest backend measured at start, or the one the
    /// `--backend` setting forces.
    pub backend: SearchBackend,
    /// Whether the `--backend` setting forced `backend` (rather than the measurement).
    pub backend_forced: bool,
    /// Each backend this CPU runs with the nonces per second (one thread) it reached when the
    /// service timed them at start.
    pub backend_rates: Vec<BackendRate>,
    /// Address the background miner pays, while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The last failure of the background miner (e.g. the peer service unreachable), cleared
    /// by the next block found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A way to hash nonces in the miner's search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchBackend {
    /// Any CPU: the `sha2` crate's compression, one nonce at a time.
    Portable,
    /// x86-64 SHA extensions, 4 nonces interleaved.
    ShaNi,
    /// x86-64 AVX2, 8 nonces per vector.
    Avx2,
    /// x86-64 AVX-512, 16 nonces per vector.
    Avx512,
}

/// A backend's rate as the miner measured it at start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BackendRate {
    /// The backend.
    pub backend: SearchBackend,
    /// Nonces per second on one thread.
    pub rate: f64,
}
