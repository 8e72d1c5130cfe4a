//! `/peers`: the other users' peer services this node knows.

use actix_web::web;
use mycoin_api::peer::{AddPeerRequest, PeerView};
use mycoin_web::{ApiError, Authorized, ErrorBody, JsonObject};

use crate::configuration::{MAX_PEERS, parse_peer_url};
use crate::node::{AddPeerError, Node};

/// The known peers, with what this node last learnt of each: the tip and work it announced,
/// when it last answered, its penalty and, while it is ignored, until when.
#[utoipa::path(
    get,
    path = "/peers",
    tag = "peers",
    responses((status = 200, description = "The peers and their state", body = [PeerView]))
)]
pub async fn list_peers(node: web::Data<Node>) -> web::Json<Vec<PeerView>> {
    web::Json(node.peer_views())
}

/// Adds a peer (once; adding a known peer changes nothing) and syncs with it at once.
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
        (status = 422, description = "The peer list is full", body = ErrorBody),
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
        Err(AddPeerError::TooMany) => Err(ApiError::unprocessable(
            "too_many_peers",
            format!("this node keeps at most {MAX_PEERS} peers"),
        )),
    }
}
