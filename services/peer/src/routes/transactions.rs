//! `/transactions`: submit, verify and look up transactions.

use actix_web::{HttpRequest, web};
use mycoin_api::peer::{
    MerkleProofView, OutspendView, SubmitTransactionResponse, TransactionInfo, TransactionRequest,
    TxStatus, TxView, VerifyResponse, decode_hex, encode_hex,
};
use mycoin_core::{ChainStore, Outspend, Transaction, TxLocation, Txid};
use mycoin_web::{ApiError, ErrorBody, JsonObject};

use crate::error::{invalid_hash, raw_error, store_error, tx_rejected, violation, writer_gone};
use crate::node::{Node, input_verdicts};
use crate::p2p;
use crate::routes::blocks::sender_peer;

fn decode_tx(body: &TransactionRequest) -> Result<Transaction, ApiError> {
    decode_hex(&body.hex).map_err(|err| raw_error(err, "transaction"))
}

/// Submits a signed transaction to the mempool, after validating it against the active chain
/// and the mempool. An accepted transaction is relayed to the peers in the background.
#[utoipa::path(
    post,
    path = "/transactions",
    tag = "transactions",
    request_body = TransactionRequest,
    responses(
        (status = 200, description = "Accepted into the mempool", body = SubmitTransactionResponse),
        (status = 400, description = "Bad JSON, bad hex, or not a transaction's encoding", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "The transaction breaks a consensus rule, or this node's relay policy (`fee_too_low`, `dust`, `mempool_full`, `too_large_for_mempool`); `error` is the rule's code", body = ErrorBody),
    )
)]
pub async fn submit_transaction(
    node: web::Data<Node>,
    request: HttpRequest,
    body: JsonObject<TransactionRequest>,
) -> Result<web::Json<SubmitTransactionResponse>, ApiError> {
    let tx = decode_tx(&body)?;
    let tx = node.writer().verify_transaction(tx).await;
    let admitted = node
        .writer()
        .submit_transaction(tx, node.now_secs())
        .await
        .map_err(writer_gone)?
        .map_err(|err| tx_rejected(&err))?;
    let (txid, fee) = (admitted.txid, admitted.fee.units());
    tracing::info!(%txid, fee, evicted = admitted.evicted.len(), "transaction accepted");
    p2p::relay_transaction(&node, txid, body.into_inner().hex, sender_peer(&request));
    Ok(web::Json(SubmitTransactionResponse { txid, fee }))
}

/// Checks a signed transaction without submitting it (the book's verify.py): the verdict on
/// the whole, and one per input.
#[utoipa::path(
    post,
    path = "/transactions/verify",
    tag = "transactions",
    request_body = TransactionRequest,
    responses(
        (status = 200, description = "The verdict, valid or not", body = VerifyResponse),
        (status = 400, description = "Bad JSON, bad hex, or not a transaction's encoding", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    )
)]
pub async fn verify_transaction(
    node: web::Data<Node>,
    body: JsonObject<TransactionRequest>,
) -> Result<web::Json<VerifyResponse>, ApiError> {
    let tx = decode_tx(&body)?;
    let state = node.state();
    // Signatures not in the cache are verified here, each once: on a blocking thread.
    let (tx, verification) = node
        .writer()
        .run_blocking(move || {
            let verification = state.verify_in_detail(&tx);
            let inputs = input_verdicts(&state, &tx, verification.inputs);
            (tx, (verification.verdict, inputs))
        })
        .await;
    let (verdict, inputs) = verification;
    Ok(web::Json(VerifyResponse {
        txid: tx.txid(),
        valid: verdict.is_ok(),
        fee: verdict.as_ref().ok().map(|fee| fee.units()),
        error: verdict.as_ref().err().map(violation),
        inputs,
    }))
}

/// A transaction of the mempool or of the active chain, with its status.
#[utoipa::path(
    get,
    path = "/transactions/{txid}",
    tag = "transactions",
    params(("txid" = String, Path, description = "Txid, 64 hex digits in display order")),
    responses(
        (status = 200, description = "The transaction and where it is", body = TransactionInfo),
        (status = 400, description = "Not a txid", body = ErrorBody),
        (status = 404, description = "Neither in the mempool nor in the active chain", body = ErrorBody),
    )
)]
pub async fn get_transaction(
    node: web::Data<Node>,
    txid: web::Path<String>,
) -> Result<web::Json<TransactionInfo>, ApiError> {
    let txid: Txid = txid.parse().map_err(|_| invalid_hash("txid"))?;
    let unknown = || {
        ApiError::not_found(
            "unknown_transaction",
            format!("transaction {txid} is neither in the mempool nor in the active chain"),
        )
    };
    let state = node.state();
    let location = state
        .locate_transaction(node.store(), &txid)
        .await
        .map_err(store_error)?
        .ok_or_else(unknown)?;
    let status = TxStatus::at(&location, state.height());
    let tx = match location {
        TxLocation::Mempool => state.mempool().get(&txid).ok_or_else(unknown)?.tx.clone(),
        TxLocation::Confirmed {
            block, position, ..
        } => {
            let stored = node.store().block(&block).await.map_err(store_error)?;
            stored
                .and_then(|b| b.transactions.into_iter().nth(position as usize))
                .ok_or_else(|| {
                    ApiError::internal(format!("transaction {txid} is missing from block {block}"))
                })?
        }
    };
    let network = state.params().network;
    Ok(web::Json(TransactionInfo {
        txid,
        status,
        transaction: TxView::new(&tx, network),
        hex: encode_hex(&tx),
    }))
}

/// The Merkle inclusion proof of a confirmed transaction: check it against the block's header
/// (`GET /blocks/{hash}/header`) with `mycoin_core::verify_merkle_proof` (PROTOCOL.md §6.4).
#[utoipa::path(
    get,
    path = "/transactions/{txid}/merkle-proof",
    tag = "transactions",
    params(("txid" = String, Path, description = "Txid, 64 hex digits in display order")),
    responses(
        (status = 200, description = "The proof (Esplora's shape, with the block's hash)", body = MerkleProofView),
        (status = 400, description = "Not a txid", body = ErrorBody),
        (status = 404, description = "Not in the active chain: unknown, or still in the mempool (`unconfirmed_transaction`)", body = ErrorBody),
    )
)]
pub async fn get_merkle_proof(
    node: web::Data<Node>,
    txid: web::Path<String>,
) -> Result<web::Json<MerkleProofView>, ApiError> {
    let txid: Txid = txid.parse().map_err(|_| invalid_hash("txid"))?;
    let state = node.state();
    let location = state
        .locate_transaction(node.store(), &txid)
        .await
        .map_err(store_error)?;
    let (block_hash, height, position) = match location {
        Some(TxLocation::Confirmed {
            block,
            height,
            position,
        }) => (block, height, position),
        Some(TxLocation::Mempool) => {
            return Err(ApiError::not_found(
                "unconfirmed_transaction",
                format!("transaction {txid} is in the mempool: no block holds it yet"),
            ));
        }
        None => {
            return Err(ApiError::not_found(
                "unknown_transaction",
                format!("transaction {txid} is not in the active chain"),
            ));
        }
    };
    let block = node
        .store()
        .block(&block_hash)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::internal(format!("block {block_hash} is not stored")))?;
    // Hashing the block's transactions costs a few milliseconds for the largest blocks.
    let proof = web::block(move || block.merkle_proof(position as usize))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::internal(format!("block {block_hash} has no transaction {position}"))
        })?;
    Ok(web::Json(MerkleProofView {
        block_hash,
        block_height: height,
        pos: proof.position,
        merkle: proof.siblings,
    }))
}

/// Where each output of a transaction went, in output order (Esplora's
/// `GET /tx/:txid/outspends`): `{"spent": false}`, or the spending transaction, its input and
/// its status (confirmed in the active chain, or in the mempool). Exact: an output in the
/// unspent outputs is unspent unless a mempool transaction spends it; the spender of any other
/// is found in the address history index.
#[utoipa::path(
    get,
    path = "/transactions/{txid}/outspends",
    tag = "transactions",
    params(("txid" = String, Path, description = "Txid, 64 hex digits in display order")),
    responses(
        (status = 200, description = "One entry per output", body = Vec<OutspendView>),
        (status = 400, description = "Not a txid", body = ErrorBody),
        (status = 404, description = "Neither in the mempool nor in the active chain", body = ErrorBody),
    )
)]
pub async fn get_outspends(
    node: web::Data<Node>,
    txid: web::Path<String>,
) -> Result<web::Json<Vec<OutspendView>>, ApiError> {
    let txid: Txid = txid.parse().map_err(|_| invalid_hash("txid"))?;
    let state = node.state();
    let outspends = state
        .outspends(node.store(), &txid)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_transaction",
                format!("transaction {txid} is neither in the mempool nor in the active chain"),
            )
        })?;
    let tip = state.height();
    Ok(web::Json(
        outspends
            .into_iter()
            .map(|outspend| match outspend {
                Outspend::Unspent => OutspendView::unspent(),
                Outspend::Spent {
                    txid,
                    vin,
                    location,
                } => OutspendView {
                    spent: true,
                    txid: Some(txid),
                    vin: Some(vin),
                    status: Some(TxStatus::at(&location, tip)),
                },
            })
            .collect(),
    ))
}
