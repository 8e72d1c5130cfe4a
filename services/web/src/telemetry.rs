//! Logging: the subscriber of a service binary, and one log line per request.
//!
//! Request logs carry the method, the path (without the query string), the status and the time
//! taken. They never carry a header or a body, so neither the API token nor a key can leak
//! into them.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::ApiError;

/// Installs the process's log subscriber: human-readable lines on standard error, filtered by
/// `RUST_LOG` (default `info`). Does nothing if a subscriber is already installed, so that
/// `mycoind`, which runs four services in one process, may call it once per service.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _already_installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Middleware (for `actix_web::middleware::from_fn`) that runs each request in a `request` span
/// (method, path) and logs its outcome (status, error code, milliseconds): `info` below 500,
/// `error` from 500.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let span = tracing::info_span!("request", method = %req.method(), path = %req.path());
    let started = Instant::now();
    async move {
        let result = next.call(req).await;
        let (status, error) = match &result {
            Ok(response) => (response.status(), response.response().error()),
            Err(err) => (err.as_response_error().status_code(), Some(err)),
        };
        // The code of an `ApiError` (e.g. `invalid_token`) says why a request failed; its
        // message may repeat the client's input, so it is left out.
        let code = error
            .and_then(|err| err.as_error::<ApiError>())
            .map(ApiError::code);
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if status.is_server_error() {
            tracing::error!(
                status = status.as_u16(),
                error = code,
                elapsed_ms,
                "request failed"
            );
        } else {
            tracing::info!(
                status = status.as_u16(),
                error = code,
                elapsed_ms,
                "request handled"
            );
        }
        result
    }
    .instrument(span)
    .await
}
