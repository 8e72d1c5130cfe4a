//! `GET /chain`, at once or as a long poll on the tip; `GET /chain/tips`, the block tree's
//! leaves.

use std::time::Duration;

use actix_web::web;
use mycoin_api::peer::{ChainInfo, ChainQuery, ChainTipView, ChainTipsQuery};
use mycoin_core::BlockHash;
use mycoin_core::pow::work_to_string;
use mycoin_web::ApiError;

use crate::error::invalid_hash;
use crate::node::Node;

/// The longest a long poll on the tip may wait.
pub const MAX_WAIT_MS: u64 = 30_000;
/// How long a long poll waits when `wait_ms` is not given.
const DEFAULT_WAIT_MS: u64 = 10_000;

/// The node's chain: network, genesis, tip, total work, mempool and orphans. With `wait_tip`,
/// a long poll: the answer comes as soon as the tip is another block (at once when it already
/// is), or after `wait_ms` — how a miner learns of a new tip without polling.
#[utoipa::path(
    get,
    path = "/chain",
    tag = "chain",
    params(ChainQuery),
    responses(
        (status = 200, description = "The active chain's summary", body = ChainInfo),
        (status = 400, description = "wait_tip not a block hash, or wait_ms above 30000", body = mycoin_web::ErrorBody),
    )
)]
pub async fn get_chain(
    node: web::Data<Node>,
    query: web::Query<ChainQuery>,
) -> Result<web::Json<ChainInfo>, ApiError> {
    let wait_ms = query.wait_ms.unwrap_or(DEFAULT_WAIT_MS);
    if wait_ms > MAX_WAIT_MS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("wait_ms is at most {MAX_WAIT_MS}"),
        ));
    }
    if let Some(wait_tip) = &query.wait_tip {
        let wait_tip: BlockHash = wait_tip.parse().map_err(|_| invalid_hash("block hash"))?;
        let mut tip = node.writer().tip();
        // Ends at the deadline, or when the writer is gone (the answer is then the last chain).
        let _ = tokio::time::timeout(
            Duration::from_millis(wait_ms),
            tip.wait_for(|seen| seen.hash != wait_tip),
        )
        .await;
    }
    let seen = *node.writer().tip().borrow();
    let chain = node.state();
    // (The snapshot is published a moment before the tip's time: a tip just taken is 0 ms old.)
    let tip_age_ms = if seen.hash == chain.tip().hash {
        seen.since.elapsed().as_millis()
    } else {
        0
    };
    Ok(web::Json(ChainInfo {
        network: node.network().name().to_owned(),
        genesis: chain.params().genesis_hash(),
        height: chain.height(),
        tip: chain.tip().hash,
        total_work: work_to_string(chain.chain_work()),
        mempool_size: chain.mempool().len(),
        orphans: chain.orphan_count(),
        tip_age_ms: u64::try_from(tip_age_ms).unwrap_or(u64::MAX),
    }))
}

/// The leaves of the block tree, as Bitcoin Core's `getchaintips`: the active tip (`branchlen`
/// 0, `active`) and each side branch's tip, with the blocks from its fork point with the active
/// chain (`branchlen`) and what is known of it (`valid-fork`: connected once, before a
/// reorganisation since the node started; `valid-headers`: headers and bodies checked, its
/// transactions only if it ever connects). Highest first.
#[utoipa::path(
    get,
    path = "/chain/tips",
    tag = "chain",
    params(ChainTipsQuery),
    responses(
        (status = 200, description = "The tips, highest first", body = Vec<ChainTipView>),
        (status = 400, description = "min_height not a height (`invalid_query`)", body = mycoin_web::ErrorBody),
    )
)]
pub async fn get_chain_tips(
    node: web::Data<Node>,
    query: web::Query<ChainTipsQuery>,
) -> web::Json<Vec<ChainTipView>> {
    let state = node.state();
    let tips = state.tips(query.min_height.unwrap_or(0));
    web::Json(tips.into_iter().map(ChainTipView::from).collect())
}
