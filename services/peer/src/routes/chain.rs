//! `GET /chain`.

use actix_web::web;
use mycoin_api::peer::ChainInfo;
use mycoin_core::pow::work_to_string;

use crate::node::Node;

/// The node's chain: network, genesis, tip, total work, mempool and orphans.
#[utoipa::path(
    get,
    path = "/chain",
    tag = "chain",
    responses((status = 200, description = "The active chain's summary", body = ChainInfo))
)]
pub async fn get_chain(node: web::Data<Node>) -> web::Json<ChainInfo> {
    let chain = node.state();
    web::Json(ChainInfo {
        network: node.network().name().to_owned(),
        genesis: chain.params().genesis_hash(),
        height: chain.height(),
        tip: chain.tip().hash,
        total_work: work_to_string(chain.chain_work()),
        mempool_size: chain.mempool().len(),
        orphans: chain.orphan_count(),
    })
}
