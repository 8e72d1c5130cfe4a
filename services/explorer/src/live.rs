//! The live parts: the peer's events, relayed to the browsers. (The fork tree asks the peer
//! for its side branches, `GET /chain/tips`: nothing is remembered here.)
//!
//! One task follows the peer's `GET /events` (reconnecting when it breaks) and republishes
//! each event on a broadcast channel; each browser's `GET /live` is a Server-Sent Events
//! stream of that channel. A browser that lags loses the oldest events and gets a `lagged`
//! one: nothing waits for it. The browser's script only uses an event as a sign to fetch the
//! race's live fragment again, rendered here like the rest of the page.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::web::Bytes;
use futures_util::Stream;
use mycoin_api::client::PeerClient;
use mycoin_api::events::PeerEvent;
use tokio::sync::broadcast::{self, error::RecvError};

/// Events a browser may fall behind before it loses the oldest.
pub const LIVE_BUFFER: usize = 256;
/// How long a quiet stream to a browser waits before a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The wait before following the peer's events again after the stream broke.
const RECONNECT: Duration = Duration::from_millis(500);

/// The relay of the peer's events.
#[derive(Debug)]
pub struct Live {
    events: broadcast::Sender<PeerEvent>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            events: broadcast::channel(LIVE_BUFFER).0,
        }
    }
}

impl Live {
    /// A new browser's subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<PeerEvent> {
        self.events.subscribe()
    }

    /// Relays `event` to the browsers following.
    pub fn publish(&self, event: PeerEvent) {
        let _ = self.events.send(event);
    }

    /// Follows the peer's events for ever, reconnecting after a break.
    pub async fn follow(&self, peer: PeerClient) {
        loop {
            match peer.events(None).await {
                Ok(mut stream) => {
                    tracing::info!(peer = peer.base_url(), "following the peer's events");
                    while let Some(event) = stream.next_event().await {
                        match event {
                            Ok(event) => self.publish(event),
                            Err(err) => {
                                tracing::warn!(error = %err, "the peer's event stream broke");
                                break;
                            }
                        }
                    }
                }
                Err(err) => tracing::debug!(error = %err, "cannot follow the peer's events yet"),
            }
            tokio::time::sleep(RECONNECT).await;
        }
    }
}

/// The SSE stream of `events` for a browser: `data:` only (so `EventSource.onmessage` sees
/// every kind), a comment first, keep-alives in silences, `lagged` when it fell behind.
pub fn browser_stream(
    events: broadcast::Receiver<PeerEvent>,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    futures_util::stream::unfold((events, true), |(mut events, first)| async move {
        if first {
            return Some((Ok(Bytes::from_static(b": live\n\n")), (events, false)));
        }
        let message = match tokio::time::timeout(KEEP_ALIVE, events.recv()).await {
            Err(_) => Bytes::from_static(b": keep-alive\n\n"),
            Ok(Ok(event)) => data(&event),
            Ok(Err(RecvError::Lagged(missed))) => data(&PeerEvent::Lagged { missed }),
            Ok(Err(RecvError::Closed)) => return None,
        };
        Some((Ok(message), (events, false)))
    })
}

fn data(event: &PeerEvent) -> Bytes {
    let json = serde_json::to_string(event).expect("an event serialises");
    Bytes::from(format!("data: {json}\n\n"))
}
