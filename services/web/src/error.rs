//! One error shape for every mycoin service.
//!
//! Every 4xx and 5xx response of every service has the same JSON body, [`ErrorBody`]:
//!
//! ```json
//! {"error": "invalid_token", "message": "the API token in the Authorization header is wrong"}
//! ```
//!
//! `error` is a stable snake_case code that programs match on; `message` is one sentence for
//! people, naming what was wrong. Handlers return [`ApiError`], which actix turns into such a
//! response through [`ResponseError`].
//!
//! A 500 is built with [`ApiError::internal`]: the detail goes to the log, the client only
//! learns `"internal error"`.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The `Retry-After` of every 503 answer, in seconds: what is unavailable (an overloaded
/// service, a service this one needs) is expected back within moments.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "error": "invalid_body",
    "message": "the request body does not fit this endpoint: missing field `amount`"
}))]
pub struct ErrorBody {
    /// Stable machine-readable code in snake_case, e.g. `not_found`, `invalid_token`.
    pub error: String,
    /// One human-readable sentence saying what was wrong.
    pub message: String,
}

/// An error answered to an HTTP client: a status, a snake_case code and a message.
///
/// ```
/// use mycoin_web::ApiError;
///
/// let err = ApiError::not_found("unknown_block", "no block has the hash 00ab…");
/// assert_eq!(err.status().as_u16(), 404);
/// assert_eq!(err.code(), "unknown_block");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
}

impl ApiError {
    /// An error with any status. Prefer the named constructors below.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// 400: the request is malformed (bad JSON, wrong types, bad parameters).
    pub fn bad_request(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: the request needs the stack's API token, and it was missing or wrong.
    pub fn unauthorized(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// 404: the thing asked for does not exist.
    pub fn not_found(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409: the request conflicts with the current state (e.g. a double spend).
    pub fn conflict(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 413: the request body is larger than the endpoint accepts.
    pub fn payload_too_large(
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
    }

    /// 422: the request is well-formed but breaks a rule (e.g. a bad signature).
    pub fn unprocessable(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 503: a service this one depends on cannot be reached, or this one is not ready.
    pub fn service_unavailable(
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// 503 `busy`: this service is overloaded for now (e.g. every connection of its database
    /// pool stayed busy for the pool's whole wait); the client may try again after
    /// [`RETRY_AFTER_SECONDS`]. Not a 500: nothing is broken.
    pub fn busy(message: impl Into<String>) -> Self {
        Self::service_unavailable("busy", message)
    }

    /// 500: a bug or a failure the client can do nothing about.
    ///
    /// `detail` is logged with `tracing::error!` and never sent: the client gets
    /// `{"error": "internal", "message": "internal error"}`. Never put secrets in `detail`.
    pub fn internal(detail: impl fmt::Display) -> Self {
        tracing::error!(detail = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The snake_case code sent as `error`.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The human-readable sentence sent as `message`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The JSON body of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_string(),
            message: self.message.clone(),
        }
    }

    /// Rebuilds an error received from another service (status and decoded body).
    pub fn from_body(status: StatusCode, body: ErrorBody) -> Self {
        Self::new(status, body.error, body.message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750: tell the client which scheme is expected.
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // RFC 9110 §10.2.3: a 503 says when to try again.
            response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS));
        }
        response.json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_detail() {
        let err = ApiError::internal("database file /secret/path is locked");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            err.body(),
            ErrorBody {
                error: "internal".into(),
                message: "internal error".into()
            }
        );
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn constructors_set_their_status() {
        let cases = [
            (ApiError::bad_request("a", "b"), 400),
            (ApiError::unauthorized("a", "b"), 401),
            (ApiError::not_found("a", "b"), 404),
            (ApiError::conflict("a", "b"), 409),
            (ApiError::payload_too_large("a", "b"), 413),
            (ApiError::unprocessable("a", "b"), 422),
            (ApiError::service_unavailable("a", "b"), 503),
            (ApiError::busy("b"), 503),
        ];
        for (err, status) in cases {
            assert_eq!(err.status().as_u16(), status, "{err}");
            assert_eq!(err.error_response().status().as_u16(), status);
        }
    }

    #[test]
    fn a_503_says_when_to_try_again_and_no_other_status_does() {
        for err in [
            ApiError::busy("overloaded"),
            ApiError::service_unavailable("upstream_unavailable", "down"),
        ] {
            let response = err.error_response();
            assert_eq!(
                response.headers().get(header::RETRY_AFTER).unwrap(),
                &RETRY_AFTER_SECONDS.to_string()
            );
        }
        assert_eq!(ApiError::busy("overloaded").code(), "busy");
        for err in [ApiError::internal("a bug"), ApiError::bad_request("a", "b")] {
            assert!(
                err.error_response()
                    .headers()
                    .get(header::RETRY_AFTER)
                    .is_none()
            );
        }
    }
}
