//! `GET /mempool`.

use actix_web::web;
use mycoin_api::peer::{MempoolEntryView, MempoolView};

use crate::node::Node;

/// The transactions waiting to be mined, best fee rate first.
#[utoipa::path(
    get,
    path = "/mempool",
    tag = "transactions",
    responses((status = 200, description = "The mempool", body = MempoolView))
)]
pub async fn get_mempool(node: web::Data<Node>) -> web::Json<MempoolView> {
    let chain = node.state();
    let transactions: Vec<MempoolEntryView> = chain
        .mempool()
        .by_fee_rate()
        .map(|entry| MempoolEntryView {
            txid: entry.txid,
            fee: entry.fee.units(),
            size: entry.size,
        })
        .collect();
    web::Json(MempoolView {
        count: transactions.len(),
        bytes: chain.mempool().bytes(),
        max_bytes: chain.policy().mempool_max_bytes,
        min_fee_rate_per_kb: chain.min_fee_rate(node.now_secs()).units_per_kb(),
        transactions,
    })
}
