//! `/peers`: the other users' peer services this node knows.

use actix_web::web;
use mycoin_api::peer::{AddPeerRequest, PeerView};
use mycoin_web::{ApiError, ErrorBody};

use crate::configuration::{MAX_PEERS, parse_peer_url};
use crate::node::{AddPeerError, Node};

fn views(urls: Vec<String>) -> Vec<PeerView> {
    urls.into_iter().map(|url| PeerView { url }).collect()
}

/// The known peers.
#[utoipa::path(
    get,
    path = "/peers",
    tag = "peers",
    responses((status = 200, description = "The peers", body = [PeerView]))
)]
pub async fn list_peers(node: web::Data<Node>) -> web::Json<Vec<PeerView>> {
    web::Json(views(node.peers()))
}

/// Adds a peer (once; adding a known peer changes nothing).
#[utoipa::path(
    post,
    path = "/peers",
    tag = "peers",
    request_body = AddPeerRequest,
    responses(
        (status = 200, description = "The peers, the new one included", body = [PeerView]),
        (status = 400, description = "Bad JSON, or not an http://HOST:PORT URL", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "The peer list is full", body = ErrorBody),
    )
)]
pub async fn add_peer(
    node: web::Data<Node>,
    body: web::Json<AddPeerRequest>,
) -> Result<web::Json<Vec<PeerView>>, ApiError> {
    let url = parse_peer_url(&body.url).map_err(|reason| {
        ApiError::bad_request("invalid_url", format!("invalid peer URL: {reason}"))
    })?;
    match node.add_peer(url) {
        Ok(peers) => Ok(web::Json(views(peers))),
        Err(AddPeerError::TooMany) => Err(ApiError::unprocessable(
            "too_many_peers",
            format!("this node keeps at most {MAX_PEERS} peers"),
        )),
    }
}
