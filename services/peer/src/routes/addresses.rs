//! `/addresses`: unspent outputs and balances of addresses, from the address index of the
//! latest snapshot (a look-up per address, never a scan of every unspent output); and their
//! history, from the store's address history index and the mempool.

use actix_web::web;
use mycoin_api::peer::{
    AddressInfo, AddressTxView, AddressTxsQuery, AddressUtxos, AddressesRequest, Balance,
    DEFAULT_ADDRESS_TXS_PER_REQUEST, MAX_ADDRESS_TXS_PER_REQUEST, MAX_ADDRESSES_PER_REQUEST,
    TxState, TxStatus, UtxoView,
};
use mycoin_core::history::{AddressStats, Effect};
use mycoin_core::{Address, ChainState, ChainStore, PubKeyHash, TxLocation, Txid};
use mycoin_web::{ApiError, ErrorBody, JsonObject};

use crate::error::{address_error, invalid_hash, store_error};
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
    let (mut answer, pubkey_hashes) = web::block(move || {
        let addresses = body
            .addresses
            .iter()
            .map(|a| Address::parse_for(a, network).map_err(address_error))
            .collect::<Result<Vec<Address>, ApiError>>()?;
        let pending_in = node::pending_in(&state);
        let answer = addresses
            .iter()
            .map(|address| {
                let pubkey_hash = address.pubkey_hash();
                let pending = pending_in.get(&pubkey_hash).copied().unwrap_or(0);
                let utxos = node::utxo_views(&state, &pubkey_hash);
                AddressUtxos {
                    address: address.to_string(),
                    balance: node::balance(address, &utxos, pending),
                    utxos,
                    used: false,
                }
            })
            .collect::<Vec<AddressUtxos>>();
        let pubkey_hashes: Vec<PubKeyHash> = addresses.iter().map(|a| a.pubkey_hash()).collect();
        Ok::<_, ApiError>((answer, pubkey_hashes))
    })
    .await
    .map_err(ApiError::internal)??;
    let used = node
        .store()
        .used_addresses(&pubkey_hashes)
        .await
        .map_err(store_error)?;
    for (found, pubkey_hash) in answer.iter_mut().zip(&pubkey_hashes) {
        found.used = used.contains(pubkey_hash);
    }
    Ok(web::Json(answer))
}

#[utoipa::path(
    get,
    path = "/addresses/{address}",
    tag = "addresses",
    params(("address" = String, Path, description = "Base58Check address of this node's network")),
    responses(
        (status = 200, description = "Totals of its transactions, confirmed and in the mempool (Esplora's shape)", body = AddressInfo),
        (status = 400, description = "Not an address of this network", body = ErrorBody),
    )
)]
pub async fn get_address(
    node: web::Data<Node>,
    address: web::Path<String>,
) -> Result<web::Json<AddressInfo>, ApiError> {
    let address = Address::parse_for(&address, node.network()).map_err(address_error)?;
    let pubkey_hash = address.pubkey_hash();
    let state = node.state();
    let chain_stats = node
        .store()
        .address_stats(&pubkey_hash)
        .await
        .map_err(store_error)?;
    let mut mempool_stats = AddressStats::default();
    for (_, effect) in state.mempool_effects(&pubkey_hash) {
        mempool_stats.add(&effect);
    }
    Ok(web::Json(AddressInfo {
        address: address.to_string(),
        chain_stats: chain_stats.into(),
        mempool_stats: mempool_stats.into(),
    }))
}

/// What a transaction did to an address, as a view.
fn tx_view(txid: Txid, status: TxStatus, effect: &Effect, fee: u64) -> AddressTxView {
    AddressTxView {
        txid,
        status,
        received: effect.received,
        sent: effect.sent,
        // Each below the money supply: the difference fits.
        net: effect.received as i64 - effect.sent as i64,
        fee,
    }
}

fn confirmed(state: &ChainState, height: u32) -> TxStatus {
    TxStatus {
        state: TxState::Confirmed,
        block_hash: state.hash_at(height),
        height: Some(height),
        confirmations: Some(state.height().saturating_sub(height).saturating_add(1)),
    }
}

/// Where a page of history starts.
enum Start {
    /// At this index of the address's mempool transactions, then every confirmed one.
    Mempool(usize),
    /// At the confirmed transactions before this height and position.
    Confirmed(u32, u32),
}

#[utoipa::path(
    get,
    path = "/addresses/{address}/transactions",
    tag = "addresses",
    params(("address" = String, Path, description = "Base58Check address of this node's network"), AddressTxsQuery),
    responses(
        (status = 200, description = "A page of its transactions, as Esplora orders them: those in the mempool first, then the confirmed ones, each newest first; the next page starts `after_txid` the last of this one, and an empty page is the end", body = [AddressTxView]),
        (status = 400, description = "Not an address of this network, not a txid, or limit outside 1 to 100", body = ErrorBody),
        (status = 404, description = "`after_txid` is neither in the active chain nor among the address's mempool transactions", body = ErrorBody),
    )
)]
pub async fn get_address_transactions(
    node: web::Data<Node>,
    address: web::Path<String>,
    query: web::Query<AddressTxsQuery>,
) -> Result<web::Json<Vec<AddressTxView>>, ApiError> {
    let address = Address::parse_for(&address, node.network()).map_err(address_error)?;
    let limit = query.limit.unwrap_or(DEFAULT_ADDRESS_TXS_PER_REQUEST);
    if !(1..=MAX_ADDRESS_TXS_PER_REQUEST).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit is 1 to {MAX_ADDRESS_TXS_PER_REQUEST}"),
        ));
    }
    let limit = limit as usize;
    let pubkey_hash = address.pubkey_hash();
    let state = node.state();
    let pending = state.mempool_effects(&pubkey_hash);
    let start = match &query.after_txid {
        None => Start::Mempool(0),
        Some(after) => {
            let txid: Txid = after.parse().map_err(|_| invalid_hash("after_txid"))?;
            match pending.iter().position(|(entry, _)| entry.txid == txid) {
                Some(index) => Start::Mempool(index + 1),
                None => match state
                    .locate_transaction(node.store(), &txid)
                    .await
                    .map_err(store_error)?
                {
                    Some(TxLocation::Confirmed {
                        height, position, ..
                    }) => Start::Confirmed(height, position),
                    _ => {
                        return Err(ApiError::not_found(
                            "unknown_transaction",
                            format!(
                                "after_txid {txid} is neither in the active chain nor among \
                                 {address}'s mempool transactions"
                            ),
                        ));
                    }
                },
            }
        }
    };
    let mut page = Vec::with_capacity(limit);
    let before = match start {
        Start::Mempool(index) => {
            let mempool = TxStatus {
                state: TxState::Mempool,
                block_hash: None,
                height: None,
                confirmations: None,
            };
            page.extend(
                pending
                    .iter()
                    .skip(index)
                    .take(limit)
                    .map(|(entry, effect)| {
                        tx_view(entry.txid, mempool.clone(), effect, entry.fee.units())
                    }),
            );
            None
        }
        Start::Confirmed(height, position) => Some((height, position)),
    };
    if page.len() < limit {
        let rows = node
            .store()
            .address_history(&pubkey_hash, before, limit - page.len())
            .await
            .map_err(store_error)?;
        // The store may be a block ahead of this snapshot: its rows wait for the next one.
        page.extend(
            rows.iter()
                .filter(|row| row.height <= state.height())
                .map(|row| {
                    tx_view(
                        row.txid,
                        confirmed(&state, row.height),
                        &row.effect,
                        row.fee,
                    )
                }),
        );
    }
    Ok(web::Json(page))
}
