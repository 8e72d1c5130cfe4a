//! Bad requests answered in the JSON error shape.
//!
//! actix answers a body that is not JSON, a path parameter of the wrong type or an unknown route
//! with a plain-text body of its own. The configurations and handlers here make those answers use
//! [`ErrorBody`](crate::ErrorBody) like every other error:
//!
//! | what went wrong | status | `error` |
//! |---|---|---|
//! | body is not JSON | 400 | `malformed_json` |
//! | body is JSON of the wrong shape or types | 400 | `invalid_body` |
//! | body could not be read | 400 | `invalid_payload` |
//! | body larger than the limit | 413 | `payload_too_large` |
//! | `Content-Type` is not JSON | 415 | `unsupported_media_type` |
//! | bad path parameter | 400 | `invalid_path` |
//! | bad query parameter | 400 | `invalid_query` |
//! | no such route | 404 | `not_found` |
//! | route exists, method does not | 405 | `method_not_allowed` |
//!
//! [`crate::Application`] installs all of them; a service only needs this module to give one
//! route a different body limit (`web::resource(..).app_data(json_config(limit))`).
//!
//! A 405 needs the route to be declared as a resource with its methods
//! (`web::resource("/x").route(web::get().to(..))`): with the `#[get]` macros each method is a
//! route of its own and a wrong method falls through to the 404.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::web::{JsonConfig, PathConfig, PayloadConfig, QueryConfig};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::ApiError;

/// Default limit of a request body: 256 KiB, plenty for a block of transactions in JSON.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// How much of a request path an error message repeats back.
const MAX_ECHOED_PATH: usize = 200;

/// `web::Json` extraction: at most `limit` bytes, JSON content type, errors as [`ApiError`].
pub fn json_config(limit: usize) -> JsonConfig {
    JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| json_error(err).into())
}

/// `web::Bytes` / `String` extraction: at most `limit` bytes.
pub fn payload_config(limit: usize) -> PayloadConfig {
    PayloadConfig::new(limit)
}

/// `web::Path` extraction errors as [`ApiError`] (400 `invalid_path`).
pub fn path_config() -> PathConfig {
    PathConfig::default().error_handler(|err, _req| path_error(err).into())
}

/// `web::Query` extraction errors as [`ApiError`] (400 `invalid_query`).
pub fn query_config() -> QueryConfig {
    QueryConfig::default().error_handler(|err, _req| query_error(err).into())
}

/// Maps a JSON body extraction failure to the error shape.
pub fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { length, limit } => too_large(format!(
            "the request body has {length} bytes, more than the {limit} bytes this endpoint accepts"
        )),
        JsonPayloadError::Overflow { limit } => too_large(format!(
            "the request body is larger than the {limit} bytes this endpoint accepts"
        )),
        JsonPayloadError::Payload(PayloadError::Overflow) => {
            too_large("the request body is larger than this endpoint accepts".to_owned())
        }
        JsonPayloadError::ContentType => ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the request body must be JSON, sent with `Content-Type: application/json`",
        ),
        JsonPayloadError::Deserialize(err) if err.is_data() => ApiError::bad_request(
            "invalid_body",
            format!("the request body does not fit this endpoint: {err}"),
        ),
        JsonPayloadError::Deserialize(err) => ApiError::bad_request(
            "malformed_json",
            format!("the request body is not valid JSON: {err}"),
        ),
        JsonPayloadError::Serialize(err) => ApiError::internal(err),
        JsonPayloadError::Payload(err) => ApiError::bad_request(
            "invalid_payload",
            format!("the request body could not be read: {err}"),
        ),
        other => ApiError::bad_request("invalid_body", other.to_string()),
    }
}

fn too_large(message: String) -> ApiError {
    ApiError::payload_too_large("payload_too_large", message)
}

/// Maps a path parameter extraction failure to the error shape.
pub fn path_error(err: PathError) -> ApiError {
    let detail = match &err {
        PathError::Deserialize(inner) => inner.to_string(),
        other => other.to_string(),
    };
    ApiError::bad_request(
        "invalid_path",
        format!("a parameter in the URL path is invalid: {detail}"),
    )
}

/// Maps a query string extraction failure to the error shape.
pub fn query_error(err: QueryPayloadError) -> ApiError {
    let detail = match &err {
        QueryPayloadError::Deserialize(inner) => inner.to_string(),
        other => other.to_string(),
    };
    ApiError::bad_request(
        "invalid_query",
        format!("the query string is invalid: {detail}"),
    )
}

/// The default service: 404 `not_found` for a path that no route matches.
pub async fn route_not_found(req: HttpRequest) -> HttpResponse {
    ApiError::not_found(
        "not_found",
        format!("no route matches {} {}", req.method(), echoed_path(&req)),
    )
    .error_response()
}

/// Middleware that rewrites any error response (4xx, 5xx) whose body is not JSON into the
/// error shape, e.g. actix's own 405 or a 404 from the Swagger UI files. JSON error bodies pass
/// unchanged, so the errors of handlers keep their codes and messages; so do HTML ones, the
/// error pages of the explorer.
pub fn error_normalizer<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(normalize_error)
}

fn normalize_error<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.starts_with("application/json")
                || value.contains("+json")
                || value.starts_with("text/html")
        });
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }

    let status = res.status();
    let req = res.request();
    let error = match status.as_u16() {
        404 => ApiError::not_found(
            "not_found",
            format!("no route matches {} {}", req.method(), echoed_path(req)),
        ),
        405 => ApiError::new(
            status,
            "method_not_allowed",
            format!("{} is not allowed on {}", req.method(), echoed_path(req)),
        ),
        500 => ApiError::internal(format!(
            "{} {} answered 500 without a JSON body",
            req.method(),
            echoed_path(req)
        )),
        _ => {
            let reason = status.canonical_reason().unwrap_or("error");
            ApiError::new(
                status,
                reason.to_ascii_lowercase().replace([' ', '-'], "_"),
                format!("the request failed: {}", reason.to_ascii_lowercase()),
            )
        }
    };

    let (req, original) = res.into_parts();
    let mut response = error.error_response();
    // Keep headers such as `Allow` (405) that the original carried; the body and its headers,
    // and the `WWW-Authenticate` that `ApiError` sets itself, are replaced.
    for (name, value) in original.headers() {
        let replaced = [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::CONTENT_ENCODING,
            header::WWW_AUTHENTICATE,
        ];
        if !replaced.contains(name) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    let response = ServiceResponse::new(req, response).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(response))
}

fn echoed_path(req: &HttpRequest) -> &str {
    let path = req.path();
    match path.char_indices().nth(MAX_ECHOED_PATH) {
        Some((end, _)) => &path[..end],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;

    fn deserialize_error(json: &str) -> JsonPayloadError {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            amount: u64,
        }
        JsonPayloadError::Deserialize(serde_json::from_str::<Body>(json).unwrap_err())
    }

    #[test]
    fn syntax_errors_and_type_errors_get_different_codes() {
        let malformed = json_error(deserialize_error("{\"amount\": "));
        assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
        assert_eq!(malformed.code(), "malformed_json");

        let wrong_type = json_error(deserialize_error("{\"amount\": \"ten\"}"));
        assert_eq!(wrong_type.status(), StatusCode::BAD_REQUEST);
        assert_eq!(wrong_type.code(), "invalid_body");
        assert!(wrong_type.message().contains("invalid type"));
    }

    #[test]
    fn oversized_bodies_are_413_and_wrong_content_types_415() {
        let err = json_error(JsonPayloadError::OverflowKnownLength {
            length: 10,
            limit: 5,
        });
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(err.message().contains("10 bytes"));
        assert_eq!(
            json_error(JsonPayloadError::Overflow { limit: 5 }).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            json_error(JsonPayloadError::ContentType).status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }
}

/// A JSON request body that must be an object, decoded into `T`.
///
/// `web::Json<T>` lets serde read a struct from a JSON array too (`["http://a:1"]` fills the
/// first field), so a body the schema calls an object could come as a list. This extractor
/// reads the body as a JSON object first: an array, a string, a number or `null` gets 400
/// `invalid_body` ("invalid type: sequence, expected a map"), like any body of the wrong shape.
/// Content type, size limit and errors are those of `web::Json` ([`json_config`]).
///
/// It dereferences to `T` and has [`JsonObject::into_inner`], as `web::Json` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    /// The decoded body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonObject<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        type Object = actix_web::web::Json<serde_json::Map<String, serde_json::Value>>;
        let object = <Object as actix_web::FromRequest>::from_request(req, payload);
        Box::pin(async move {
            let object = object.await?.into_inner();
            serde_json::from_value(serde_json::Value::Object(object))
                .map(JsonObject)
                .map_err(|err| {
                    ApiError::bad_request(
                        "invalid_body",
                        format!("the request body does not fit this endpoint: {err}"),
                    )
                    .into()
                })
        })
    }
}
