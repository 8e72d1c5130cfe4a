//! Building the miner service: its state, the hash-rate sampler, the server.

use std::io;
use std::sync::Arc;

use actix_web::web;
use mycoin_web::Application;
use mycoin_web::metrics::{Registry, counter_fn, gauge_fn};
use utoipa::OpenApi;

use crate::configuration::Settings;
use crate::miner::Miner;
use crate::routes;

/// The miner service's OpenAPI document (without the common routes, which mycoin-web adds).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mycoin miner service",
        description = "Proof of work on the peer service's block templates (the book's mine.py): \
                       one block on request, or mining in the background."
    ),
    paths(
        routes::miner::mine,
        routes::miner::status,
        routes::miner::start,
        routes::miner::stop,
    ),
    components(schemas(
        mycoin_api::miner::MineRequest,
        mycoin_api::miner::MineResponse,
        mycoin_api::miner::MinerStatus,
    )),
    tags((name = "miner", description = "Mining blocks"))
)]
#[derive(Debug)]
pub struct ApiDoc;

/// Builds the miner of `settings` and binds its server; starts background mining at once when
/// `settings.mine_on_start`. Must run inside a Tokio runtime (as any actix-web server).
///
/// Times the nonce search's backends first (once per process, a fraction of a second) and logs
/// the rates and the choice; fails when `settings` force a backend this CPU lacks.
pub async fn build(settings: Settings) -> io::Result<Application> {
    if let Some(backend) = settings.backend.forced()
        && !backend.is_available()
    {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "the nonce search backend {backend} needs CPU features this CPU lacks: {}",
                backend.features()
            ),
        ));
    }
    let settings = tokio::task::spawn_blocking(move || {
        crate::search::fastest();
        settings
    })
    .await
    .map_err(io::Error::other)?;
    let miner = Arc::new(Miner::new(&settings).map_err(io::Error::other)?);
    let status = miner.status();
    let rates: Vec<String> = miner
        .backend_rates()
        .iter()
        .map(|(backend, rate)| format!("{backend}={:.1}M", rate / 1e6))
        .collect();
    tracing::info!(
        backend = %miner.backend(),
        forced = status.backend_forced,
        rates = %rates.join(" "),
        threads = status.threads,
        "nonce search backend chosen (rates: nonces/s on one thread, measured at start)"
    );
    tokio::spawn(Miner::sample_hash_rate(Arc::downgrade(&miner)));
    if settings.mine_on_start {
        // The address comes from the keys service, asked by the background task (which
        // retries while the other services start).
        miner.start(None).await.map_err(io::Error::other)?;
    }
    let data = web::Data::from(miner.clone());
    Application::build_with_metrics(
        settings.server,
        ApiDoc::openapi(),
        |registry| register_metrics(registry, &miner),
        move |cfg| {
            cfg.app_data(data.clone()).configure(routes::configure);
        },
    )
}

/// The miner's metrics, read at each scrape: `mycoin_miner_hash_rate`,
/// `mycoin_miner_blocks_found_total`, `mycoin_miner_stale_milliseconds_total`,
/// `mycoin_miner_idle_milliseconds_total`, `mycoin_miner_tips_total`, `mycoin_miner_running`.
fn register_metrics(registry: &mut Registry, miner: &Arc<Miner>) {
    let read = miner.clone();
    registry.register(
        "miner_hash_rate",
        "Hashes per second of the nonce search, sampled each second (0 while none runs)",
        gauge_fn(move || read.hash_rate()),
    );
    let read = miner.clone();
    registry.register(
        "miner_blocks_found",
        "Blocks found by this miner and accepted by the peer since the service started",
        counter_fn(move || read.blocks_found()),
    );
    let read = miner.clone();
    registry.register(
        "miner_stale_milliseconds",
        "Milliseconds the background miner hashed on a parent the peer had already left",
        counter_fn(move || (read.stale_seconds() * 1e3) as u64),
    );
    let read = miner.clone();
    registry.register(
        "miner_idle_milliseconds",
        "Milliseconds the background miner hashed nothing between two searches",
        counter_fn(move || (read.idle_seconds() * 1e3) as u64),
    );
    let read = miner.clone();
    registry.register(
        "miner_tips",
        "Tips (parent blocks) the background miner searched on",
        counter_fn(move || read.tips()),
    );
    let read = miner.clone();
    registry.register(
        "miner_running",
        "1 while background mining runs, else 0",
        gauge_fn(move || i64::from(read.is_running())),
    );
}
