//! `/peers`: the other users' peer services this node knows.

use actix_web::web;
use mycoin_api::peer::{AddPeerRequest, PeerView};
use mycoin_web::{ApiError, Authorized, ErrorBody, JsonObject};

use crate::configuration::parse_peer_url;
use crate::node::Node;

/// The known peers, with what this node last learnt of each: where it came from (configured
/// or learnt), the tip and work it announced, when it last answered, its penalty and last
/// offence, while it is ignored until when, and its failures in a row and back-off.
#[utoipa::path(
    get,
    path = "/peers",
    tag = "peers",
    responses((status = 200, description = "The peers and their state", body = [PeerView]))
)]
pub async fn list_peers(node: web::Data<Node>) -> web::Json<Vec<PeerView>> {
    web::Json(node.peer_views())
}

/// Adds a peer (once; adding a known peer changes nothing) and syncs with it at once. The book
/// keeps at most 64 peers, at most 32 of them learnt (added here or named by a relaying peer);
/// when it is full, a learnt peer is evicted (banned first, then the most failures in a row,
/// then the highest penalty, then the oldest). Configured peers are never evicted: a book full
/// of them refuses the new peer with 409 `peer_book_full`.
#[utoipa::path(
    post,
    path = "/peers",
    tag = "peers",
    request_body = AddPeerRequest,
    security(("api_token" = [])),
    responses(
        (status = 200, description = "The peers, the new one included", body = [PeerView]),
        (status = 400, description = "Bad JSON, not a JSON object, or not an http://HOST:PORT URL", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json`", body = ErrorBody),
        (status = 409, description = "`peer_book_full`: the book is full and holds no learnt peer to evict", body = ErrorBody),
    )
)]
pub async fn add_peer(
    _auth: Authorized,
    node: web::Data<Node>,
    body: JsonObject<AddPeerRequest>,
) -> Result<web::Json<Vec<PeerView>>, ApiError> {
    let url = parse_peer_url(&body.url).map_err(|reason| {
        ApiError::bad_request("invalid_url", format!("invalid peer URL: {reason}"))
    })?;
    match node.add_peer(url) {
        Ok(peers) => Ok(web::Json(peers)),
        Err(err) => Err(ApiError::conflict("peer_book_full", err.to_string())),
    }
}
