//! Calling another service's REST API.
//!
//! Services talk to each other only through their documented endpoints. [`RestClient`] wraps
//! reqwest for that: JSON in and out, a bearer token when the callee needs it, timeouts on
//! connecting and on the whole request, a cap on the size of answers, and a [`ClientError`] that
//! says whether the callee was unreachable, too slow, refused the request (with its decoded
//! [`ErrorBody`]) or answered something unreadable.
//!
//! ```no_run
//! # use mycoin_web::{RestClient, client::DEFAULT_TIMEOUT};
//! # #[derive(serde::Deserialize)] struct Tip { height: u64 }
//! # async fn run() -> Result<(), mycoin_web::ClientError> {
//! let peer = RestClient::new("http://127.0.0.1:8001", DEFAULT_TIMEOUT)?;
//! let tip: Tip = peer.get_json("/chain/tip").await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use actix_web::http::StatusCode;
use reqwest::{RequestBuilder, Response, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::server::KEEP_ALIVE;
use crate::{ApiError, ApiToken, ErrorBody};

/// Default limit for connecting and for a whole request: 5 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle pooled connection is kept: half the services' [`KEEP_ALIVE`].
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_millis(KEEP_ALIVE.as_millis() as u64 / 2);
/// Default cap on the size of an answer: 16 MiB (a peer's whole demo chain fits).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// A JSON client for one service, e.g. the peer service at `http://127.0.0.1:8001`.
///
/// Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct RestClient {
    base_url: String,
    http: reqwest::Client,
    timeout: Duration,
    token: Option<ApiToken>,
    max_response_bytes: usize,
    headers: reqwest::header::HeaderMap,
}

/// An open answer read as it comes: [`RestClient::get_stream`].
#[derive(Debug)]
pub struct ByteStream {
    url: String,
    response: Response,
    client: RestClient,
}

impl ByteStream {
    /// The next chunk of the body, or `None` when the service ended it.
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        match self.response.chunk().await {
            Ok(chunk) => Ok(chunk.map(|bytes| bytes.to_vec())),
            Err(err) => Err(self.client.transport_error(&self.url, err)),
        }
    }

    /// The URL this stream comes from.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Why a call to another service failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not an `http://` URL.
    #[error("invalid service URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header given to [`RestClient::with_header`] that HTTP cannot carry.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// The header's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No connection could be made, or it broke before the answer was complete.
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What the HTTP client reported.
        #[source]
        source: reqwest::Error,
    },
    /// Connecting or answering took longer than the timeout.
    #[error("{url} did not answer within {timeout:?}")]
    Timeout {
        /// The URL called.
        url: String,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The service answered with a status other than 2xx.
    #[error("{url} answered HTTP {status}{}", describe_body(.body.as_ref()))]
    Status {
        /// The URL called.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The error body, when the answer had the mycoin error shape.
        body: Option<ErrorBody>,
    },
    /// The answer was larger than the client accepts.
    #[error("the answer of {url} is larger than {limit} bytes")]
    TooLarge {
        /// The URL called.
        url: String,
        /// The cap in bytes.
        limit: usize,
    },
    /// The answer was 2xx but not the expected JSON.
    #[error("the answer of {url} is not the expected JSON: {reason}")]
    BadBody {
        /// The URL called.
        url: String,
        /// What the JSON decoder reported.
        reason: String,
    },
}

fn describe_body(body: Option<&ErrorBody>) -> String {
    body.map(|body| format!(" {}: {}", body.error, body.message))
        .unwrap_or_default()
}

impl ClientError {
    /// The HTTP status of a [`ClientError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The decoded error body of a [`ClientError::Status`].
    pub fn error_body(&self) -> Option<&ErrorBody> {
        match self {
            Self::Status { body, .. } => body.as_ref(),
            _ => None,
        }
    }
}

/// How a failed call surfaces in the caller's own answer:
/// - unreachable, too slow, or itself answering 503 (busy for now): 503
///   `upstream_unavailable`, with `Retry-After` as every 503;
/// - a 4xx with an error body: the same status and body (e.g. the peer's verdict on a
///   transaction that the wallet forwarded);
/// - anything else the callee got wrong: 502 `upstream_error`;
/// - an invalid URL: 500, a configuration bug.
///
/// A handler wanting another mapping matches on the [`ClientError`] itself.
impl From<ClientError> for ApiError {
    fn from(err: ClientError) -> Self {
        match err {
            ClientError::Unreachable { ref url, .. }
            | ClientError::Timeout { ref url, .. }
            | ClientError::Status {
                status: 503,
                ref url,
                ..
            } => {
                tracing::warn!(error = %err, "a service this one needs is unavailable");
                ApiError::service_unavailable(
                    "upstream_unavailable",
                    format!(
                        "a service this one needs, at {}, cannot be reached",
                        origin(url)
                    ),
                )
            }
            ClientError::Status {
                status,
                body: Some(body),
                ..
            } if (400..500).contains(&status) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                ApiError::from_body(status, body)
            }
            ClientError::InvalidUrl { .. } | ClientError::InvalidHeader { .. } => {
                ApiError::internal(err)
            }
            ClientError::Status { ref url, .. }
            | ClientError::TooLarge { ref url, .. }
            | ClientError::BadBody { ref url, .. } => {
                tracing::warn!(error = %err, "a service this one needs answered wrongly");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_error",
                    format!(
                        "a service this one needs, at {}, failed to answer",
                        origin(url)
                    ),
                )
            }
        }
    }
}

/// `scheme://host:port` of a URL, to name a service without its paths.
fn origin(url: &str) -> String {
    Url::parse(url)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_owned())
}

/// `base_url` when it is a plain `http://` URL without query or fragment, without its trailing
/// `/`.
fn checked_base_url(base_url: String) -> Result<String, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidUrl {
        url: base_url.clone(),
        reason: reason.to_owned(),
    };
    let parsed = Url::parse(&base_url).map_err(|err| invalid(&err.to_string()))?;
    if parsed.scheme() != "http" {
        return Err(invalid(
            "only http:// is supported: services talk plain HTTP on loopback or a private network",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a service URL has no query or fragment"));
    }
    Ok(base_url.trim_end_matches('/').to_owned())
}

impl RestClient {
    /// A client for the service at `base_url` (e.g. `http://127.0.0.1:8001`; a trailing `/` is
    /// ignored). `timeout` bounds connecting and each whole request ([`DEFAULT_TIMEOUT`] is 5 s).
    pub fn new(base_url: impl Into<String>, timeout: Duration) -> Result<Self, ClientError> {
        let base_url = checked_base_url(base_url.into())?;
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: base_url.clone(),
            reason: reason.to_owned(),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            // Drop an idle connection well before the server does (its keep-alive): reused
            // just as the server closes it, a request fails with "connection closed before
            // message completed", and the caller would answer 503 for a service that is up.
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // Services reach each other directly; a proxy from the environment would only get
            // in the way (and could see the API token).
            .no_proxy()
            .user_agent(concat!("mycoin/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| invalid(&err.to_string()))?;
        Ok(Self {
            base_url,
            http,
            timeout,
            token: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            headers: reqwest::header::HeaderMap::new(),
        })
    }

    /// The same client — the same connection pool, timeouts, limits and headers — for the
    /// service at another base URL (one pool serves many peers).
    pub fn at(&self, base_url: impl Into<String>) -> Result<Self, ClientError> {
        Ok(Self {
            base_url: checked_base_url(base_url.into())?,
            ..self.clone()
        })
    }

    /// The same client, sending `Authorization: Bearer <token>` with every request.
    pub fn with_token(mut self, token: ApiToken) -> Self {
        self.token = Some(token);
        self
    }

    /// The same client, refusing answers larger than `limit` bytes.
    pub fn with_max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// The same client, sending the header `name: value` with every request (e.g. a peer
    /// naming itself when it relays). A name or value HTTP cannot carry is refused.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, ClientError> {
        let invalid = |reason: String| ClientError::InvalidHeader {
            name: name.to_owned(),
            reason,
        };
        let header = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|err| invalid(err.to_string()))?;
        let value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|err| invalid(err.to_string()))?;
        self.headers.insert(header, value);
        Ok(self)
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET base_url + path`, decoding a JSON answer.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        let request = self.http.get(&url);
        self.execute(url, request).await
    }

    /// `GET base_url + path ? query`, decoding a JSON answer.
    pub async fn get_json_with_query<Q, T>(&self, path: &str, query: &Q) -> Result<T, ClientError>
    where
        Q: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let url = self.url(path);
        let request = self.http.get(&url).query(query);
        self.execute(url, request).await
    }

    /// `POST base_url + path` with a JSON body, decoding a JSON answer. An empty answer (204)
    /// decodes as JSON `null`, so `T = ()` or `Option<_>` accept it.
    pub async fn post_json<B, T>(&self, path: &str, body: &B) -> Result<T, ClientError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let url = self.url(path);
        let request = self.http.post(&url).json(body);
        self.execute(url, request).await
    }

    /// `GET base_url + path ? query` for an answer that stays open (Server-Sent Events): the
    /// status is checked as for JSON, then the body is read chunk by chunk with
    /// [`ByteStream::chunk`] for as long as the service sends it. Only connecting is bounded by
    /// the timeout.
    pub async fn get_stream<Q>(&self, path: &str, query: &Q) -> Result<ByteStream, ClientError>
    where
        Q: Serialize + ?Sized,
    {
        let url = self.url(path);
        let request = self
            .http
            .get(&url)
            .query(query)
            // A stream lasts as long as it lasts: a year stands for no limit.
            .timeout(Duration::from_secs(365 * 24 * 3600));
        let response = self.send(&url, request).await?;
        Ok(ByteStream {
            url,
            response,
            client: self.clone(),
        })
    }

    /// `GET base_url + path`, the answer as text (a raw header in hex, say).
    pub async fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let url = self.url(path);
        let response = self.send(&url, self.http.get(&url)).await?;
        let body = self.read_capped(&url, response).await?;
        String::from_utf8(body).map_err(|err| ClientError::BadBody {
            url,
            reason: err.to_string(),
        })
    }

    /// Sends `request` with the token and extra headers. An answer that is no success is an
    /// error with its status and its body (read within the size limit, kept if JSON).
    async fn send(&self, url: &str, request: RequestBuilder) -> Result<Response, ClientError> {
        let response = self
            .authorize(request)
            .send()
            .await
            .map_err(|err| self.transport_error(url, err))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = self.read_capped(url, response).await?;
        Err(ClientError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
            body: serde_json::from_slice(&body).ok(),
        })
    }

    /// `request` with the token and the extra headers of this client.
    fn authorize(&self, mut request: RequestBuilder) -> RequestBuilder {
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose_secret());
        }
        if !self.headers.is_empty() {
            request = request.headers(self.headers.clone());
        }
        request
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}/{path}", self.base_url)
        }
    }

    async fn execute<T: DeserializeOwned>(
        &self,
        url: String,
        request: RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = self.send(&url, request).await?;
        let body = self.read_capped(&url, response).await?;
        let body: &[u8] = if body.is_empty() { b"null" } else { &body };
        serde_json::from_slice(body).map_err(|err| ClientError::BadBody {
            url,
            reason: err.to_string(),
        })
    }

    async fn read_capped(&self, url: &str, mut response: Response) -> Result<Vec<u8>, ClientError> {
        let limit = self.max_response_bytes;
        let too_large = || ClientError::TooLarge {
            url: url.to_owned(),
            limit,
        };
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| self.transport_error(url, err))?
        {
            if body.len().saturating_add(chunk.len()) > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport_error(&self, url: &str, err: reqwest::Error) -> ClientError {
        if err.is_timeout() {
            ClientError::Timeout {
                url: url.to_owned(),
                timeout: self.timeout,
            }
        } else {
            ClientError::Unreachable {
                url: url.to_owned(),
                source: err,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_are_accepted() {
        assert!(RestClient::new("http://127.0.0.1:8001/", DEFAULT_TIMEOUT).is_ok());
        for url in [
            "https://127.0.0.1:8001",
            "127.0.0.1:8001",
            "http://h/?q=1",
            "",
        ] {
            assert!(
                matches!(
                    RestClient::new(url, DEFAULT_TIMEOUT),
                    Err(ClientError::InvalidUrl { .. })
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn headers_http_cannot_carry_are_refused() {
        let client = || RestClient::new("http://127.0.0.1:8001", DEFAULT_TIMEOUT).unwrap();
        assert!(client().with_header("X-Mycoin-Peer", "http://h:1").is_ok());
        for (name, value) in [("X Bad", "v"), ("", "v"), ("X-Ok", "line\nbreak")] {
            assert!(
                matches!(
                    client().with_header(name, value),
                    Err(ClientError::InvalidHeader { .. })
                ),
                "{name:?}: {value:?}"
            );
        }
    }

    #[test]
    fn paths_join_the_base_url_with_one_slash() {
        let client = RestClient::new("http://127.0.0.1:8001/", DEFAULT_TIMEOUT).unwrap();
        assert_eq!(client.url("/items"), "http://127.0.0.1:8001/items");
        assert_eq!(client.url("items"), "http://127.0.0.1:8001/items");
    }

    #[test]
    fn callee_4xx_pass_through_and_outages_become_503() {
        let rejected = ClientError::Status {
            url: "http://127.0.0.1:8001/items".into(),
            status: 422,
            body: Some(ErrorBody {
                error: "bad_signature".into(),
                message: "input 0 has a bad signature".into(),
            }),
        };
        let api: ApiError = rejected.into();
        assert_eq!(api.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(api.code(), "bad_signature");

        let broken = ClientError::Status {
            url: "http://127.0.0.1:8001/items".into(),
            status: 500,
            body: None,
        };
        assert_eq!(ApiError::from(broken).status(), StatusCode::BAD_GATEWAY);

        let slow = ClientError::Timeout {
            url: "http://127.0.0.1:8001/items".into(),
            timeout: DEFAULT_TIMEOUT,
        };
        let api = ApiError::from(slow);
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(api.message().contains("http://127.0.0.1:8001"));

        // A callee busy for now (503 `busy`) is unavailable for now, not broken: 503.
        let busy = ClientError::Status {
            url: "http://127.0.0.1:8001/items".into(),
            status: 503,
            body: Some(ApiError::busy("overloaded").body()),
        };
        let api = ApiError::from(busy);
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(api.code(), "upstream_unavailable");
    }
}
