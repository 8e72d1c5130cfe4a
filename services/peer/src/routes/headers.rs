//! Headers for light clients: one block's 80 raw bytes, and runs of the active chain's headers
//! to check as a [`mycoin_core::HeaderChain`] (Esplora's `/block/:hash/header`, Bitcoin Core's
//! `/rest/headers`).

use actix_web::{HttpResponse, web};
use mycoin_api::peer::{HeadersQuery, MAX_HEADERS_PER_REQUEST};
use mycoin_core::{BlockHash, Encode};
use mycoin_web::{ApiError, ErrorBody};

use crate::error::invalid_hash;
use crate::node::Node;

/// A block's header: its 80 bytes in hex, as text (Esplora's shape), from any branch.
#[utoipa::path(
    get,
    path = "/blocks/{hash}/header",
    tag = "blocks",
    params(("hash" = String, Path, description = "Block hash, 64 hex digits in display order")),
    responses(
        (status = 200, description = "The 80-byte header in hex", content_type = "text/plain",
         body = String),
        (status = 400, description = "Not a block hash", body = ErrorBody),
        (status = 404, description = "No such block", body = ErrorBody),
    )
)]
pub async fn get_block_header(
    node: web::Data<Node>,
    hash: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let hash: BlockHash = hash.parse().map_err(|_| invalid_hash("block hash"))?;
    let state = node.state();
    let entry = state
        .entry(&hash)
        .ok_or_else(|| ApiError::not_found("unknown_block", format!("no block {hash} is known")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(hex::encode(entry.header.to_bytes())))
}

/// The active chain's headers from a height: each 80 bytes in hex, lowest first. A light client
/// asks from 0 in runs of 2,000 and checks each run as a [`mycoin_core::HeaderChain`].
#[utoipa::path(
    get,
    path = "/headers",
    tag = "blocks",
    params(HeadersQuery),
    responses(
        (status = 200, description = "The headers in hex, lowest first; none above the tip", body = [String]),
        (status = 400, description = "Bad query, or count outside 1 to 2,000", body = ErrorBody),
    )
)]
pub async fn list_headers(
    node: web::Data<Node>,
    query: web::Query<HeadersQuery>,
) -> Result<web::Json<Vec<String>>, ApiError> {
    let count = query.count.unwrap_or(MAX_HEADERS_PER_REQUEST);
    if !(1..=MAX_HEADERS_PER_REQUEST).contains(&count) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("count is 1 to {MAX_HEADERS_PER_REQUEST}"),
        ));
    }
    let state = node.state();
    let headers = (query.from..query.from.saturating_add(count))
        .map_while(|height| state.hash_at(height))
        .map(|hash| hex::encode(state.entry(&hash).expect("active").header.to_bytes()))
        .collect();
    Ok(web::Json(headers))
}
