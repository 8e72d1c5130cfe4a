//! `/blocks`: read blocks, ask for a template, submit a solved block.

use std::sync::Arc;

use actix_web::{HttpRequest, web};
use mycoin_api::peer::{
    BlockStatus, BlockTemplate, BlockView, BlocksQuery, DEFAULT_BLOCKS_PER_REQUEST,
    MAX_BLOCKS_PER_REQUEST, MAX_LOCATOR_HASHES, PEER_HEADER, SubmitBlockRequest,
    SubmitBlockResponse, SyncRequest, TemplateQuery, TipView, decode_hex, encode_hex,
};
use mycoin_core::{Address, Block, BlockAccepted, BlockHash, ChainState, ChainStore};
use mycoin_web::{ApiError, ErrorBody, JsonObject};

use crate::configuration::parse_peer_url;
use crate::error::{address_error, chain_error, invalid_hash, raw_error, store_error, writer_gone};
use crate::node::Node;
use crate::p2p;

/// The peer URL a relaying node names in `X-Mycoin-Peer`, when it is a valid one.
pub fn sender_peer(request: &HttpRequest) -> Option<String> {
    let value = request.headers().get(PEER_HEADER)?.to_str().ok()?;
    parse_peer_url(value).ok()
}

/// Most bytes of blocks one `GET /blocks` answer carries (at least one block is always sent).
pub const MAX_BLOCK_BYTES_PER_REQUEST: usize = 4 * 1024 * 1024;

fn unknown_block(what: impl std::fmt::Display) -> ApiError {
    ApiError::not_found("unknown_block", format!("no block {what} is known"))
}

/// The view of the stored block `hash`, or `None` when the block tree of `state` does not hold
/// it.
async fn block_view(
    node: &Node,
    state: &ChainState,
    hash: &BlockHash,
) -> Result<Option<BlockView>, ApiError> {
    let Some(entry) = state.entry(hash).copied() else {
        return Ok(None);
    };
    let Some(block) = node.store().block(hash).await.map_err(store_error)? else {
        return Err(ApiError::internal(format!(
            "block {hash} is in the index but not in the store"
        )));
    };
    let tip = state.is_active(hash).then(|| state.height());
    Ok(Some(BlockView::new(
        &block,
        entry.height,
        tip,
        state.params().network,
    )))
}

/// A block by hash, from the active chain or a side chain.
#[utoipa::path(
    get,
    path = "/blocks/{hash}",
    tag = "blocks",
    params(("hash" = String, Path, description = "Block hash, 64 hex digits in display order")),
    responses(
        (status = 200, description = "The block", body = BlockView),
        (status = 400, description = "Not a block hash", body = ErrorBody),
        (status = 404, description = "No such block", body = ErrorBody),
    )
)]
pub async fn get_block(
    node: web::Data<Node>,
    hash: web::Path<String>,
) -> Result<web::Json<BlockView>, ApiError> {
    let hash: BlockHash = hash.parse().map_err(|_| invalid_hash("block hash"))?;
    block_view(&node, &node.state(), &hash)
        .await?
        .map(web::Json)
        .ok_or_else(|| unknown_block(hash))
}

/// The active chain's block at a height.
#[utoipa::path(
    get,
    path = "/blocks/height/{height}",
    tag = "blocks",
    params(("height" = u32, Path, description = "Height in the active chain (genesis is 0)")),
    responses(
        (status = 200, description = "The block", body = BlockView),
        (status = 400, description = "Not a height", body = ErrorBody),
        (status = 404, description = "The active chain is not that high", body = ErrorBody),
    )
)]
pub async fn get_block_at_height(
    node: web::Data<Node>,
    height: web::Path<u32>,
) -> Result<web::Json<BlockView>, ApiError> {
    let height = height.into_inner();
    let state = node.state();
    let Some(hash) = state.hash_at(height) else {
        return Err(unknown_block(format_args!(
            "at height {height}: the active chain ends at {}",
            state.height()
        )));
    };
    block_view(&node, &state, &hash)
        .await?
        .map(web::Json)
        .ok_or_else(|| unknown_block(hash))
}

/// A range of the active chain, for syncing: `count` blocks from height `from`.
#[utoipa::path(
    get,
    path = "/blocks",
    tag = "blocks",
    params(BlocksQuery),
    responses(
        (status = 200, description = "The blocks, lowest first; fewer at the tip or beyond 4 MiB", body = [BlockView]),
        (status = 400, description = "Bad query, or count above 500", body = ErrorBody),
    )
)]
pub async fn list_blocks(
    node: web::Data<Node>,
    query: web::Query<BlocksQuery>,
) -> Result<web::Json<Vec<BlockView>>, ApiError> {
    let count = query.count.unwrap_or(DEFAULT_BLOCKS_PER_REQUEST);
    if count > MAX_BLOCKS_PER_REQUEST {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("count is at most {MAX_BLOCKS_PER_REQUEST}"),
        ));
    }
    active_range(&node, &node.state(), query.from, count)
        .await
        .map(web::Json)
}

/// Up to `count` blocks of the active chain from height `from`, at most
/// [`MAX_BLOCK_BYTES_PER_REQUEST`] of them (at least one).
async fn active_range(
    node: &Node,
    state: &Arc<ChainState>,
    from: u32,
    count: u32,
) -> Result<Vec<BlockView>, ApiError> {
    let hashes: Vec<BlockHash> = (0..count)
        .map_while(|offset| {
            from.checked_add(offset)
                .and_then(|height| state.hash_at(height))
        })
        .collect();
    let mut views = Vec::new();
    let mut bytes = 0usize;
    // A few blocks per query: one round trip to the store per chunk, not per block, and never
    // much more read than the answer's byte limit lets through.
    for chunk in hashes.chunks(BLOCKS_PER_READ) {
        let blocks = node.store().blocks(chunk).await.map_err(store_error)?;
        let mut stored = Vec::with_capacity(blocks.len());
        for (hash, block) in chunk.iter().zip(blocks) {
            let block = block.ok_or_else(|| {
                ApiError::internal(format!("active block {hash} is not in the store"))
            })?;
            stored.push(block);
        }
        // Views (txids, addresses, hex) are CPU work: off the HTTP workers.
        let state = Arc::clone(state);
        let chunk_views = web::block(move || {
            stored
                .iter()
                .map(|block| {
                    let hash = block.block_hash();
                    let height = state.entry(&hash).map(|e| e.height).unwrap_or_default();
                    BlockView::new(block, height, Some(state.height()), state.params().network)
                })
                .collect::<Vec<BlockView>>()
        })
        .await
        .map_err(|err| ApiError::internal(format!("building block views: {err}")))?;
        for view in chunk_views {
            bytes = bytes.saturating_add(view.size);
            if !views.is_empty() && bytes > MAX_BLOCK_BYTES_PER_REQUEST {
                return Ok(views);
            }
            views.push(view);
        }
    }
    Ok(views)
}

/// How many blocks [`active_range`] reads from the store at once.
const BLOCKS_PER_READ: usize = 25;

/// For a syncing peer: the active chain's blocks after the fork point with the asker's chain
/// (the first hash of its locator that is on this node's active chain; genesis when none
/// is), lowest first, at most `count` (≤ 500) and about 4 MiB of blocks.
#[utoipa::path(
    post,
    path = "/sync",
    tag = "blocks",
    request_body = SyncRequest,
    responses(
        (status = 200, description = "The blocks after the fork point, lowest first; empty when the asker has the tip", body = [BlockView]),
        (status = 400, description = "Bad JSON, more than 64 locator hashes, or count above 500", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
pub async fn sync_blocks(
    node: web::Data<Node>,
    body: JsonObject<SyncRequest>,
) -> Result<web::Json<Vec<BlockView>>, ApiError> {
    let count = body.count.unwrap_or(DEFAULT_BLOCKS_PER_REQUEST);
    if count > MAX_BLOCKS_PER_REQUEST {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("count is at most {MAX_BLOCKS_PER_REQUEST}"),
        ));
    }
    if body.locator.len() > MAX_LOCATOR_HASHES {
        return Err(ApiError::bad_request(
            "invalid_locator",
            format!("a locator holds at most {MAX_LOCATOR_HASHES} hashes"),
        ));
    }
    let state = node.state();
    let fork = state.find_fork(&body.locator);
    active_range(&node, &state, fork.saturating_add(1), count)
        .await
        .map(web::Json)
}

/// Submits a solved block (from the miner or a peer). It is validated in full; the chain
/// reorganises onto it when its chain has the most work. A new block (new tip or side chain)
/// is relayed to the peers in the background. A peer relaying sets `X-Mycoin-Peer` to its own
/// URL: when the block's parent is unknown, the node syncs with that peer, adding it to its
/// peers when it is not listed (unless it is banned or the list is full).
#[utoipa::path(
    post,
    path = "/blocks",
    tag = "blocks",
    request_body = SubmitBlockRequest,
    params(("X-Mycoin-Peer" = Option<String>, Header, description = "The relaying peer's own URL, `http://HOST:PORT`")),
    responses(
        (status = 200, description = "What became of the block", body = SubmitBlockResponse),
        (status = 400, description = "Bad JSON, bad hex, or not a block's encoding", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "The block breaks a consensus rule; `error` is the rule's code", body = ErrorBody),
    )
)]
pub async fn submit_block(
    node: web::Data<Node>,
    request: HttpRequest,
    body: JsonObject<SubmitBlockRequest>,
) -> Result<web::Json<SubmitBlockResponse>, ApiError> {
    let block: Block = decode_hex(&body.hex).map_err(|err| raw_error(err, "block"))?;
    let hash = block.block_hash();
    let sender = sender_peer(&request);
    let mut blocks = node.writer().verify_blocks(vec![block]).await;
    let block = blocks.pop().expect("one block in, one out");
    let now = node.now();
    let accepted = node
        .writer()
        .submit_block(block, now)
        .await
        .map_err(writer_gone)?
        .map_err(chain_error)?;
    let (status, tip, returned) = match accepted {
        BlockAccepted::NewTip {
            tip,
            height,
            returned,
            ..
        } => (
            BlockStatus::NewTip,
            Some(TipView { hash: tip, height }),
            returned,
        ),
        BlockAccepted::SideChain => (BlockStatus::SideChain, None, Vec::new()),
        BlockAccepted::Orphan { .. } => (BlockStatus::Orphan, None, Vec::new()),
        BlockAccepted::Duplicate => (BlockStatus::Duplicate, None, Vec::new()),
    };
    // The block's own height; the tip only when the block took it further than itself.
    let height = node.state().entry(&hash).map(|entry| entry.height);
    let reported_tip = tip.filter(|tip| tip.hash != hash);
    if status == BlockStatus::NewTip {
        tracing::info!(%hash, height, "new tip");
    }
    match status {
        BlockStatus::NewTip | BlockStatus::SideChain => {
            let body = body.into_inner();
            p2p::relay_block(&node, hash, body.hex, sender);
        }
        BlockStatus::Orphan => {
            // Fetch the missing ancestors from the peer that sent it.
            if let Some(sender) = sender {
                tracing::info!(%hash, peer = %sender, "orphan block: syncing with its sender");
                node.sync_with_sender(sender);
            }
        }
        BlockStatus::Duplicate => {}
    }
    if let Some(tip) = tip {
        p2p::relay_returned_transactions(&node, tip.hash, &returned);
    }
    Ok(web::Json(SubmitBlockResponse {
        hash,
        status,
        height,
        tip: reported_tip,
    }))
}

/// A block to mine on the tip, paying reward plus fees to `address`. Solve it by varying the
/// nonce, then submit it with `POST /blocks`.
#[utoipa::path(
    get,
    path = "/blocks/template",
    tag = "blocks",
    params(TemplateQuery),
    responses(
        (status = 200, description = "The unsolved block (nonce 0)", body = BlockTemplate),
        (status = 400, description = "Missing or invalid address, or one of another network", body = ErrorBody),
    )
)]
pub async fn block_template(
    node: web::Data<Node>,
    query: web::Query<TemplateQuery>,
) -> Result<web::Json<BlockTemplate>, ApiError> {
    let address = Address::parse_for(&query.address, node.network()).map_err(address_error)?;
    let now = node.now();
    let extra_nonce = node.next_extra_nonce();
    let state = node.state();
    let block = state.block_template(address.pubkey_hash(), now, extra_nonce);
    let height = state.height().saturating_add(1);
    let subsidy = state.params().block_subsidy(height).units();
    let reward = block
        .transactions
        .first()
        .map(|coinbase| {
            coinbase
                .outputs
                .iter()
                .fold(0u64, |sum, o| sum.saturating_add(o.amount.units()))
        })
        .unwrap_or(0);
    Ok(web::Json(BlockTemplate {
        height,
        prev_hash: block.header.prev_hash,
        bits: block.header.bits.to_string(),
        time: block.header.time,
        reward,
        fees: reward.saturating_sub(subsidy),
        transactions: block.transactions.len(),
        hex: encode_hex(&block),
    }))
}
