//! `GET /events`: the node's changes as Server-Sent Events.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::web::{self, Bytes};
use futures_util::Stream;
use mycoin_api::events::{EVENT_KINDS, EventsQuery, PeerEvent};
use mycoin_web::ApiError;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::node::Node;

/// How long a quiet stream waits before it sends a comment, so that proxies and clients see
/// it alive.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The node's changes as they happen: tip changed, block connected or disconnected, side
/// block, reorganisation (with its depth), transaction accepted or evicted. Each message is
/// `event: <type>` and `data: <PeerEvent as JSON>`; a comment line opens the stream and keeps
/// it alive every 15 s. A client that falls more than 1,024 events behind gets a `lagged`
/// event saying how many it lost, and the stream goes on: the node never waits for it.
#[utoipa::path(
    get,
    path = "/events",
    tag = "chain",
    params(EventsQuery),
    responses(
        (status = 200, description = "A stream of Server-Sent Events, each `data:` one PeerEvent",
            content_type = "text/event-stream", body = PeerEvent),
        (status = 400, description = "An unknown event type in `types`", body = mycoin_web::ErrorBody),
    )
)]
pub async fn get_events(
    node: web::Data<Node>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let kinds = query.kinds().map_err(|name| {
        ApiError::bad_request(
            "invalid_query",
            format!(
                "unknown event type {name:?}; the types are {}",
                EVENT_KINDS.join(", ")
            ),
        )
    })?;
    let events = node.writer().subscribe();
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(event_stream(events, kinds, KEEP_ALIVE)))
}

/// The SSE messages of `events`, only those of `kinds` (all when `None`; `lagged` always),
/// opened by a comment (the client then knows it is subscribed), with a keep-alive comment
/// after `keep_alive` of silence. Ends when the writer stops.
pub fn event_stream(
    events: broadcast::Receiver<PeerEvent>,
    kinds: Option<Vec<&'static str>>,
    keep_alive: Duration,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    futures_util::stream::unfold(
        (events, kinds, true),
        move |(mut events, kinds, first)| async move {
            if first {
                let opening = Bytes::from_static(b": subscribed\n\n");
                return Some((Ok(opening), (events, kinds, false)));
            }
            loop {
                let message = match tokio::time::timeout(keep_alive, events.recv()).await {
                    Err(_) => Bytes::from_static(b": keep-alive\n\n"),
                    Ok(Ok(event)) => {
                        if kinds.as_ref().is_some_and(|k| !k.contains(&event.kind())) {
                            continue;
                        }
                        Bytes::from(event.to_sse())
                    }
                    Ok(Err(RecvError::Lagged(missed))) => {
                        Bytes::from(PeerEvent::Lagged { missed }.to_sse())
                    }
                    Ok(Err(RecvError::Closed)) => return None,
                };
                return Some((Ok(message), (events, kinds, false)));
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use mycoin_api::events::SseDecoder;
    use mycoin_core::BlockHash;

    use super::*;

    fn tip(height: u32) -> PeerEvent {
        PeerEvent::TipChanged {
            hash: BlockHash([height as u8; 32]),
            height,
        }
    }

    async fn next_data(
        stream: &mut (impl Stream<Item = Result<Bytes, Infallible>> + Unpin),
    ) -> Vec<String> {
        let chunk = stream.next().await.unwrap().unwrap();
        SseDecoder::default().feed(std::str::from_utf8(&chunk).unwrap())
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_what_it_lost_and_the_sender_never_waits() {
        let (sender, receiver) = broadcast::channel(2);
        let mut stream = Box::pin(event_stream(receiver, None, KEEP_ALIVE));
        assert!(
            next_data(&mut stream).await.is_empty(),
            "the opening comment"
        );
        // Five events into a buffer of two: the sender goes on, the oldest three are lost.
        for height in 1..=5 {
            sender.send(tip(height)).unwrap();
        }
        let lagged = next_data(&mut stream).await;
        assert_eq!(
            serde_json::from_str::<PeerEvent>(&lagged[0]).unwrap(),
            PeerEvent::Lagged { missed: 3 }
        );
        for height in 4..=5 {
            let data = next_data(&mut stream).await;
            assert_eq!(
                serde_json::from_str::<PeerEvent>(&data[0]).unwrap(),
                tip(height)
            );
        }
        drop(sender);
        assert!(stream.next().await.is_none(), "ends with the writer");
    }

    #[tokio::test]
    async fn only_the_kinds_asked_for_are_sent_and_silence_is_kept_alive() {
        let (sender, receiver) = broadcast::channel(8);
        let mut stream = Box::pin(event_stream(
            receiver,
            Some(vec!["side_block"]),
            Duration::from_millis(50),
        ));
        next_data(&mut stream).await;
        sender.send(tip(1)).unwrap();
        let side = PeerEvent::SideBlock {
            hash: BlockHash([9; 32]),
            height: 1,
            parent: BlockHash([0; 32]),
        };
        sender.send(side.clone()).unwrap();
        let data = next_data(&mut stream).await;
        assert_eq!(serde_json::from_str::<PeerEvent>(&data[0]).unwrap(), side);
        let quiet = stream.next().await.unwrap().unwrap();
        assert_eq!(&quiet[..], b": keep-alive\n\n");
    }
}
