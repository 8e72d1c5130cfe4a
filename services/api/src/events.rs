//! The peer's event stream, `GET /events`: Server-Sent Events, one JSON [`PeerEvent`] per
//! `data:` line, its kind repeated in the `event:` line (so a browser's `EventSource` can listen
//! to one kind).
//!
//! A block that moves the tip gives, in this order: a [`PeerEvent::Reorganisation`] when blocks
//! left the active chain, a [`PeerEvent::BlockDisconnected`] for each of those (tip first), a
//! [`PeerEvent::BlockConnected`] for each new block of the active chain (lowest first), then one
//! [`PeerEvent::TipChanged`]. A valid block that does not move the tip is a
//! [`PeerEvent::SideBlock`]. A client too slow to keep up loses the oldest events and is told how
//! many with a [`PeerEvent::Lagged`]: the node never waits for a reader.

use mycoin_core::{BlockHash, Txid};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Why a transaction left the mempool without being confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvictionReason {
    /// The pool was full and a transaction paying a better fee rate took its room.
    MempoolFull,
}

/// One event of `GET /events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PeerEvent {
    /// The active chain's tip is now this block.
    TipChanged {
        #[schema(value_type = String)]
        hash: BlockHash,
        height: u32,
    },
    /// A block joined the active chain.
    BlockConnected {
        #[schema(value_type = String)]
        hash: BlockHash,
        height: u32,
    },
    /// A block left the active chain (a reorganisation); it stays in the block tree.
    BlockDisconnected {
        #[schema(value_type = String)]
        hash: BlockHash,
        height: u32,
    },
    /// A valid block stored on a side branch: the active chain has at least as much work.
    SideBlock {
        #[schema(value_type = String)]
        hash: BlockHash,
        height: u32,
        #[schema(value_type = String)]
        parent: BlockHash,
    },
    /// The active chain moved to another branch: `depth` blocks above `fork_height` were
    /// disconnected, and the branch of `new_tip` connected.
    Reorganisation {
        #[schema(value_type = String)]
        old_tip: BlockHash,
        #[schema(value_type = String)]
        new_tip: BlockHash,
        /// Height of the last block both branches share.
        fork_height: u32,
        /// Blocks disconnected from the old branch.
        depth: u32,
    },
    /// A transaction entered the mempool (sent to this node, relayed, or returned there by a
    /// reorganisation).
    TxAccepted {
        #[schema(value_type = String)]
        txid: Txid,
        /// Its fee in base units.
        fee: u64,
    },
    /// A transaction left the mempool without being confirmed.
    TxEvicted {
        #[schema(value_type = String)]
        txid: Txid,
        reason: EvictionReason,
    },
    /// This client fell behind: `missed` events were dropped for it. What it shows may be
    /// stale; it should read the state again.
    Lagged { missed: u64 },
}

/// The kinds of [`PeerEvent`], as named in the `type` field, the `event:` line and the `types`
/// filter of `GET /events`.
pub const EVENT_KINDS: [&str; 8] = [
    "tip_changed",
    "block_connected",
    "block_disconnected",
    "side_block",
    "reorganisation",
    "tx_accepted",
    "tx_evicted",
    "lagged",
];

impl PeerEvent {
    /// Its kind: one of [`EVENT_KINDS`].
    pub fn kind(&self) -> &'static str {
        match self {
            PeerEvent::TipChanged { .. } => "tip_changed",
            PeerEvent::BlockConnected { .. } => "block_connected",
            PeerEvent::BlockDisconnected { .. } => "block_disconnected",
            PeerEvent::SideBlock { .. } => "side_block",
            PeerEvent::Reorganisation { .. } => "reorganisation",
            PeerEvent::TxAccepted { .. } => "tx_accepted",
            PeerEvent::TxEvicted { .. } => "tx_evicted",
            PeerEvent::Lagged { .. } => "lagged",
        }
    }

    /// The event as one Server-Sent Events message: `event:`, `data:` and a blank line.
    pub fn to_sse(&self) -> String {
        let data = serde_json::to_string(self).expect("an event serialises");
        format!("event: {}\ndata: {data}\n\n", self.kind())
    }
}

/// Query of `GET /events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only these kinds, comma-separated (e.g. `tip_changed,reorganisation`); all when absent.
    /// `lagged` is always sent. An unknown kind is refused (400 `invalid_query`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<String>,
}

impl EventsQuery {
    /// The kinds asked for (`None`: all), or the first unknown one.
    pub fn kinds(&self) -> Result<Option<Vec<&'static str>>, String> {
        let Some(types) = &self.types else {
            return Ok(None);
        };
        types
            .split(',')
            .map(|name| {
                EVENT_KINDS
                    .iter()
                    .find(|kind| **kind == name.trim())
                    .copied()
                    .ok_or_else(|| name.to_owned())
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// Reads Server-Sent Events from a byte stream, chunk by chunk: the `data:` of each message
/// that ends, in order. Comments (`:` lines, the keep-alives) and other fields are skipped.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buffer: String,
    data: Vec<String>,
}

impl SseDecoder {
    /// Feeds a chunk of the stream (UTF-8 text; a character split across chunks waits for the
    /// next one) and returns the messages it completed.
    pub fn feed(&mut self, chunk: &str) -> Vec<String> {
        self.buffer.push_str(chunk);
        let mut messages = Vec::new();
        while let Some(end) = self.buffer.find('\n') {
            let line: String = self.buffer.drain(..=end).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    messages.push(std::mem::take(&mut self.data).join("\n"));
                }
            } else if let Some(data) = line.strip_prefix("data:") {
                self.data
                    .push(data.strip_prefix(' ').unwrap_or(data).to_owned());
            }
        }
        messages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_round_trips_through_its_sse_message() {
        let event = PeerEvent::Reorganisation {
            old_tip: BlockHash([1; 32]),
            new_tip: BlockHash([2; 32]),
            fork_height: 3,
            depth: 2,
        };
        let message = event.to_sse();
        assert!(message.starts_with("event: reorganisation\ndata: {"));
        let mut decoder = SseDecoder::default();
        // Split anywhere, with a keep-alive comment in between.
        let (a, b) = message.split_at(17);
        assert!(decoder.feed(": keep-alive\n\n").is_empty());
        assert!(decoder.feed(a).is_empty());
        let data = decoder.feed(b);
        assert_eq!(data.len(), 1);
        assert_eq!(serde_json::from_str::<PeerEvent>(&data[0]).unwrap(), event);
    }

    #[test]
    fn every_kind_is_listed_and_the_filter_refuses_unknown_ones() {
        let query = EventsQuery {
            types: Some("tip_changed, side_block".into()),
        };
        assert_eq!(
            query.kinds().unwrap(),
            Some(vec!["tip_changed", "side_block"])
        );
        let bad = EventsQuery {
            types: Some("tip_changed,<script>".into()),
        };
        assert_eq!(bad.kinds().unwrap_err(), "<script>");
        assert_eq!(EventsQuery::default().kinds().unwrap(), None);
        assert_eq!(
            PeerEvent::Lagged { missed: 1 }.kind(),
            EVENT_KINDS[EVENT_KINDS.len() - 1]
        );
    }
}
