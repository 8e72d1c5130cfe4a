//! `/addresses/{address}`: unspent outputs and balance of an address.

use actix_web::web;
use mycoin_api::peer::{Balance, UtxoView};
use mycoin_core::Address;
use mycoin_web::{ApiError, ErrorBody};

use crate::error::address_error;
use crate::node::{self, Node};

/// The unspent outputs of the active chain paying an address, oldest first.
#[utoipa::path(
    get,
    path = "/addresses/{address}/utxos",
    tag = "addresses",
    params(("address" = String, Path, description = "Base58Check address of this node's network")),
    responses(
        (status = 200, description = "The unspent outputs", body = [UtxoView]),
        (status = 400, description = "Not an address of this network", body = ErrorBody),
    )
)]
pub async fn get_utxos(
    node: web::Data<Node>,
    address: web::Path<String>,
) -> Result<web::Json<Vec<UtxoView>>, ApiError> {
    let address = Address::parse_for(&address, node.network()).map_err(address_error)?;
    let chain = node.chain().read().await;
    Ok(web::Json(node::utxo_views(&chain, &address.pubkey_hash())))
}

/// The balance of an address, in base units.
#[utoipa::path(
    get,
    path = "/addresses/{address}/balance",
    tag = "addresses",
    params(("address" = String, Path, description = "Base58Check address of this node's network")),
    responses(
        (status = 200, description = "The balance", body = Balance),
        (status = 400, description = "Not an address of this network", body = ErrorBody),
    )
)]
pub async fn get_balance(
    node: web::Data<Node>,
    address: web::Path<String>,
) -> Result<web::Json<Balance>, ApiError> {
    let address = Address::parse_for(&address, node.network()).map_err(address_error)?;
    let chain = node.chain().read().await;
    Ok(web::Json(node::balance(&chain, &address)))
}
