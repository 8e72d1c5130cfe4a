//! `/mine` and `/miner`: mine one block, or mine in the background.

use std::sync::atomic::AtomicBool;

use actix_web::web;
use mycoin_api::miner::{MineRequest, MineResponse, MinerStatus};
use mycoin_web::{ApiError, Authorized, ErrorBody, JsonObject};

use crate::miner::Miner;

/// Mines one block: template from the peer service, nonce search, proof-of-work check,
/// submission. Without an address the reward pays a fresh key of the keys service.
#[utoipa::path(
    post,
    path = "/mine",
    tag = "miner",
    request_body = MineRequest,
    security(("api_token" = [])),
    responses(
        (status = 200, description = "The block found and submitted", body = MineResponse),
        (status = 400, description = "Malformed body, or an address of another network", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json`", body = ErrorBody),
        (status = 422, description = "The peer service refused the block", body = ErrorBody),
        (status = 502, description = "The peer or keys service answered wrongly", body = ErrorBody),
        (status = 503, description = "The peer or keys service is unreachable", body = ErrorBody),
    )
)]
pub async fn mine(
    _auth: Authorized,
    miner: web::Data<Miner>,
    body: JsonObject<MineRequest>,
) -> Result<web::Json<MineResponse>, ApiError> {
    let address = miner.payout_address(body.into_inner().address).await?;
    // Never raised: a request that goes away drops the search, which stops it.
    let cancel = AtomicBool::new(false);
    let mined = miner.mine_block(&address, &cancel).await?;
    Ok(web::Json(MineResponse {
        hash: mined.hash,
        height: mined.height,
        attempts: mined.attempts,
        elapsed_ms: u64::try_from(mined.elapsed.as_millis()).unwrap_or(u64::MAX),
        rate: mined.rate(),
        address: mined.address.clone(),
        status: mined.status,
        block: mined.block,
    }))
}

/// The background miner's state and the service's live hash rate.
#[utoipa::path(
    get,
    path = "/miner",
    tag = "miner",
    responses((status = 200, description = "The miner's state", body = MinerStatus))
)]
pub async fn status(miner: web::Data<Miner>) -> web::Json<MinerStatus> {
    web::Json(miner.status())
}

/// Starts background mining: template → search → submit, again and again, restarting on a
/// new tip. Without an address the reward pays a fresh key of the keys service.
#[utoipa::path(
    post,
    path = "/miner/start",
    tag = "miner",
    request_body = MineRequest,
    security(("api_token" = [])),
    responses(
        (status = 200, description = "Mining started", body = MinerStatus),
        (status = 400, description = "Malformed body, or an address of another network", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json`", body = ErrorBody),
        (status = 409, description = "Background mining already runs (`already_running`)", body = ErrorBody),
        (status = 503, description = "The keys service is unreachable", body = ErrorBody),
    )
)]
pub async fn start(
    _auth: Authorized,
    miner: web::Data<Miner>,
    body: JsonObject<MineRequest>,
) -> Result<web::Json<MinerStatus>, ApiError> {
    if miner.status().running {
        return Err(crate::error::MinerError::AlreadyRunning.into());
    }
    let address = miner.payout_address(body.into_inner().address).await?;
    miner.clone().into_inner().start(Some(address)).await?;
    Ok(web::Json(miner.status()))
}

/// Stops background mining.
#[utoipa::path(
    post,
    path = "/miner/stop",
    tag = "miner",
    security(("api_token" = [])),
    responses(
        (status = 200, description = "Mining stopped", body = MinerStatus),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 409, description = "Background mining does not run (`not_running`)", body = ErrorBody),
    )
)]
pub async fn stop(
    _auth: Authorized,
    miner: web::Data<Miner>,
) -> Result<web::Json<MinerStatus>, ApiError> {
    miner.stop().await?;
    Ok(web::Json(miner.status()))
}
