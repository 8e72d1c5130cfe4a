//! The peer service's routes and its OpenAPI document.

pub mod addresses;
pub mod blocks;
pub mod chain;
pub mod events;
pub mod headers;
pub mod mempool;
pub mod peers;
pub mod transactions;

use actix_web::web;
use mycoin_core::Params;
use mycoin_web::json::json_config;
use utoipa::OpenApi;

use crate::node::Node;

/// The peer service's OpenAPI document, generated from the handlers.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "mycoin peer service",
        description = "A mycoin node: the chain, validation, the mempool, and peers. \
            Amounts are base units (10^8 per coin); hashes and txids are hex in display order; \
            raw blocks and transactions are their canonical encoding in hex. Errors are \
            `{\"error\": code, \"message\": sentence}`; a consensus rejection is 422 with the \
            rule's code."
    ),
    paths(
        chain::get_chain,
        chain::get_chain_tips,
        events::get_events,
        blocks::list_blocks,
        blocks::submit_block,
        blocks::block_template,
        blocks::sync_blocks,
        blocks::get_block_at_height,
        blocks::get_block,
        headers::get_block_header,
        headers::list_headers,
        transactions::submit_transaction,
        transactions::verify_transaction,
        transactions::get_transaction,
        transactions::get_merkle_proof,
        transactions::get_outspends,
        mempool::get_mempool,
        addresses::get_utxos,
        addresses::get_balance,
        addresses::post_utxos,
        addresses::get_address,
        addresses::get_address_transactions,
        peers::list_peers,
        peers::add_peer,
    ),
    tags(
        (name = "chain", description = "The node's chain"),
        (name = "blocks", description = "Blocks: read, template, submit"),
        (name = "transactions", description = "Transactions and the mempool"),
        (name = "addresses", description = "Unspent outputs, balances and history"),
        (name = "peers", description = "Other users' peer services"),
    )
)]
pub struct ApiDoc;

/// Largest request bodies, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// `POST /blocks`: the hex of the largest block, and room for the JSON around it.
    pub block: usize,
    /// `POST /transactions` and `/transactions/verify`: the hex of the largest transaction.
    pub transaction: usize,
    /// `POST /peers`.
    pub peer: usize,
    /// `POST /sync`: a locator.
    pub sync: usize,
    /// `POST /addresses/utxos`: a wallet's addresses.
    pub addresses: usize,
}

/// Room for the JSON around a hex string.
const JSON_OVERHEAD: usize = 1024;

impl BodyLimits {
    /// The limits that fit the largest block and transaction of a network.
    pub fn for_params(params: &Params) -> Self {
        BodyLimits {
            block: params.max_block_size.saturating_mul(2) + JSON_OVERHEAD,
            transaction: params.max_tx_size.saturating_mul(2) + JSON_OVERHEAD,
            peer: 4 * 1024,
            sync: 16 * 1024,
            // 10,000 addresses of 34 characters in quotes, with commas.
            addresses: 512 * 1024,
        }
    }
}

/// Registers the routes, with `node` as app data.
pub fn configure(cfg: &mut web::ServiceConfig, node: web::Data<Node>, limits: BodyLimits) {
    cfg.app_data(node)
        .service(web::resource("/chain").route(web::get().to(chain::get_chain)))
        .service(web::resource("/chain/tips").route(web::get().to(chain::get_chain_tips)))
        .service(web::resource("/events").route(web::get().to(events::get_events)))
        // Fixed paths before `/blocks/{hash}`, which would match them too.
        .service(web::resource("/blocks/template").route(web::get().to(blocks::block_template)))
        .service(
            web::resource("/blocks/height/{height}")
                .route(web::get().to(blocks::get_block_at_height)),
        )
        .service(
            web::resource("/blocks")
                .app_data(json_config(limits.block))
                .route(web::get().to(blocks::list_blocks))
                .route(web::post().to(blocks::submit_block)),
        )
        .service(web::resource("/blocks/{hash}").route(web::get().to(blocks::get_block)))
        .service(
            web::resource("/blocks/{hash}/header").route(web::get().to(headers::get_block_header)),
        )
        .service(web::resource("/headers").route(web::get().to(headers::list_headers)))
        .service(
            web::resource("/transactions")
                .app_data(json_config(limits.transaction))
                .route(web::post().to(transactions::submit_transaction)),
        )
        .service(
            web::resource("/transactions/verify")
                .app_data(json_config(limits.transaction))
                .route(web::post().to(transactions::verify_transaction)),
        )
        .service(
            web::resource("/transactions/{txid}")
                .route(web::get().to(transactions::get_transaction)),
        )
        .service(
            web::resource("/transactions/{txid}/merkle-proof")
                .route(web::get().to(transactions::get_merkle_proof)),
        )
        .service(
            web::resource("/transactions/{txid}/outspends")
                .route(web::get().to(transactions::get_outspends)),
        )
        .service(
            web::resource("/sync")
                .app_data(json_config(limits.sync))
                .route(web::post().to(blocks::sync_blocks)),
        )
        .service(web::resource("/mempool").route(web::get().to(mempool::get_mempool)))
        .service(
            web::resource("/addresses/utxos")
                .app_data(json_config(limits.addresses))
                .route(web::post().to(addresses::post_utxos)),
        )
        .service(
            web::resource("/addresses/{address}/utxos").route(web::get().to(addresses::get_utxos)),
        )
        .service(web::resource("/addresses/{address}").route(web::get().to(addresses::get_address)))
        .service(
            web::resource("/addresses/{address}/transactions")
                .route(web::get().to(addresses::get_address_transactions)),
        )
        .service(
            web::resource("/addresses/{address}/balance")
                .route(web::get().to(addresses::get_balance)),
        )
        .service(
            web::resource("/peers")
                .app_data(json_config(limits.peer))
                .route(web::get().to(peers::list_peers))
                .route(web::post().to(peers::add_peer)),
        );
}
