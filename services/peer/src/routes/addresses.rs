//! `/addresses`: unspent outputs and balances of addresses, from the address index of the
//! latest snapshot (a look-up per address, never a scan of every unspent output).

use actix_web::web;
use mycoin_api::peer::{
    AddressUtxos, AddressesRequest, Balance, MAX_ADDRESSES_PER_REQUEST, UtxoView,
};
use mycoin_core::Address;
use mycoin_web::{ApiError, ErrorBody, JsonObject};

use crate::error::address_error;
use crate::node::{self, Node};

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
    Ok(web::Json(node::utxo_views(
        &node.state(),
        &address.pubkey_hash(),
    )))
}

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
    let state = node.state();
    let pending_in = node::pending_in(&state)
        .get(&address.pubkey_hash())
        .copied()
        .unwrap_or(0);
    let utxos = node::utxo_views(&state, &address.pubkey_hash());
    Ok(web::Json(node::balance(&address, &utxos, pending_in)))
}

/// The unspent outputs and balance of many addresses at once (a wallet's keys), all from the
/// same snapshot: what `GET /addresses/{a}/utxos` and `GET /addresses/{a}/balance` answer for
/// each, in the order asked.
#[utoipa::path(
    post,
    path = "/addresses/utxos",
    tag = "addresses",
    request_body = AddressesRequest,
    responses(
        (status = 200, description = "Each address's unspent outputs and balance", body = [AddressUtxos]),
        (status = 400, description = "Bad JSON, an address not of this network, or more than 10,000 addresses", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
pub async fn post_utxos(
    node: web::Data<Node>,
    body: JsonObject<AddressesRequest>,
) -> Result<web::Json<Vec<AddressUtxos>>, ApiError> {
    if body.addresses.len() > MAX_ADDRESSES_PER_REQUEST {
        return Err(ApiError::bad_request(
            "too_many_addresses",
            format!("at most {MAX_ADDRESSES_PER_REQUEST} addresses per request"),
        ));
    }
    // Thousands of addresses cost milliseconds of CPU (decoding them, then the answer): on a
    // blocking thread, so that this HTTP worker goes on serving others meanwhile.
    let network = node.network();
    let state = node.state();
    let answer = web::block(move || {
        let addresses = body
            .addresses
            .iter()
            .map(|a| Address::parse_for(a, network).map_err(address_error))
            .collect::<Result<Vec<Address>, ApiError>>()?;
        let pending_in = node::pending_in(&state);
        Ok::<_, ApiError>(
            addresses
                .iter()
                .map(|address| {
                    let pubkey_hash = address.pubkey_hash();
                    let pending = pending_in.get(&pubkey_hash).copied().unwrap_or(0);
                    let utxos = node::utxo_views(&state, &pubkey_hash);
                    AddressUtxos {
                        address: address.to_string(),
                        balance: node::balance(address, &utxos, pending),
                        utxos,
                    }
                })
                .collect::<Vec<AddressUtxos>>(),
        )
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(web::Json(answer))
}
