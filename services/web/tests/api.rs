//! The plumbing seen from a real HTTP client: a tiny app on a free port, called with reqwest.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use mycoin_web::client::DEFAULT_TIMEOUT;
use mycoin_web::{
    ApiError, ApiToken, Application, Authorized, ClientError, ErrorBody, RestClient, ServerSettings,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

const TOKEN: &str = "test-token-0123456789abcdef";
const BODY_LIMIT: usize = 1024;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Payment {
    to: String,
    amount: u64,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Receipt {
    accepted: u64,
}

async fn pay(payment: web::Json<Payment>) -> Result<HttpResponse, ApiError> {
    if payment.amount == 0 {
        return Err(ApiError::unprocessable(
            "zero_amount",
            "a payment must move at least one unit",
        ));
    }
    Ok(HttpResponse::Ok().json(Receipt {
        accepted: payment.amount,
    }))
}

async fn secret(_auth: Authorized) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"secret": "revealed"}))
}

/// A toy route with a numeric path parameter. The plumbing's tests name their own routes: the
/// services' paths live in mycoin-api, which depends on this crate.
async fn item(number: web::Path<u64>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"number": number.into_inner()}))
}

async fn slow() -> HttpResponse {
    tokio::time::sleep(Duration::from_secs(3)).await;
    HttpResponse::Ok().json(serde_json::json!({}))
}

async fn big() -> HttpResponse {
    HttpResponse::Ok().json(vec![0u8; 10_000])
}

#[derive(OpenApi)]
#[openapi(info(title = "test service", version = "0.1.0"))]
struct ApiDoc;

struct TestApp {
    address: String,
    http: reqwest::Client,
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }
}

async fn spawn_app() -> TestApp {
    let settings = ServerSettings::new("test", "127.0.0.1", 0)
        .with_api_token(ApiToken::new(TOKEN).unwrap())
        .with_body_limit(BODY_LIMIT);
    let app = Application::build(settings, ApiDoc::openapi(), |cfg| {
        cfg.service(web::resource("/pay").route(web::post().to(pay)))
            .service(web::resource("/secret").route(web::get().to(secret)))
            .service(web::resource("/items/{number}").route(web::get().to(item)))
            .service(web::resource("/slow").route(web::get().to(slow)))
            .service(web::resource("/big").route(web::get().to(big)));
    })
    .expect("server binds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

/// Asserts the status and the error code, returns the message.
async fn assert_error(response: reqwest::Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: ErrorBody = response.json().await.expect("error body in the JSON shape");
    assert_eq!(body.error, code, "{body:?}");
    assert!(!body.message.is_empty());
    body.message
}

#[tokio::test]
async fn a_valid_json_body_is_accepted() {
    let app = spawn_app().await;

    let response = app
        .post_raw("/pay", "application/json", r#"{"to":"alice","amount":5}"#)
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Receipt>().await.unwrap(),
        Receipt { accepted: 5 }
    );
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;

    let response = app
        .post_raw("/pay", "application/json", r#"{"to":"alice","#)
        .await;

    assert_error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
}

#[tokio::test]
async fn json_of_the_wrong_types_is_a_400_naming_the_problem() {
    let app = spawn_app().await;

    let response = app
        .post_raw(
            "/pay",
            "application/json",
            r#"{"to":"alice","amount":"five"}"#,
        )
        .await;

    let message = assert_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
    assert!(message.contains("invalid type"), "{message}");
}

#[tokio::test]
async fn a_missing_field_is_a_400() {
    let app = spawn_app().await;

    let response = app
        .post_raw("/pay", "application/json", r#"{"to":"alice"}"#)
        .await;

    let message = assert_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
    assert!(message.contains("amount"), "{message}");
}

#[tokio::test]
async fn an_oversized_body_is_a_413() {
    let app = spawn_app().await;
    let body = format!(r#"{{"to":"{}","amount":1}}"#, "a".repeat(BODY_LIMIT));

    let response = app.post_raw("/pay", "application/json", body).await;

    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn an_oversized_chunked_body_is_a_413() {
    let app = spawn_app().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let body = format!(r#"{{"to":"{}","amount":1}}"#, "a".repeat(BODY_LIMIT));
    // Chunked: no Content-Length, so the limit is enforced while reading.
    let request = format!(
        "POST /pay HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );

    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();

    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains(r#""error":"payload_too_large""#),
        "{answer}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415() {
    let app = spawn_app().await;

    let response = app
        .post_raw("/pay", "text/plain", r#"{"to":"alice","amount":5}"#)
        .await;

    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn handler_errors_keep_their_status_and_code() {
    let app = spawn_app().await;

    let response = app
        .post_raw("/pay", "application/json", r#"{"to":"alice","amount":0}"#)
        .await;

    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "zero_amount").await;
}

#[tokio::test]
async fn a_bad_path_parameter_is_a_400() {
    let app = spawn_app().await;

    let ok = app.get("/items/7").await;
    let bad = app.get("/items/seven").await;

    assert_eq!(ok.status(), StatusCode::OK);
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_path").await;
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_app().await;

    let response = app.get("/no/such/route").await;

    let message = assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert!(message.contains("/no/such/route"), "{message}");
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let app = spawn_app().await;

    let response = app.get("/pay").await;

    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn a_protected_route_needs_the_token() {
    let app = spawn_app().await;

    let missing = app.get("/secret").await;
    let wrong = app
        .http
        .get(app.url("/secret"))
        .bearer_auth("test-token-0123456789abcdeX")
        .send()
        .await
        .unwrap();
    let wrong_scheme = app
        .http
        .get(app.url("/secret"))
        .basic_auth("user", Some(TOKEN))
        .send()
        .await
        .unwrap();
    let right = app
        .http
        .get(app.url("/secret"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();

    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert_error(missing, StatusCode::UNAUTHORIZED, "missing_token").await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_error(wrong_scheme, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(right.status(), StatusCode::OK);
}

#[tokio::test]
async fn healthz_names_the_service() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok", "service": "test"}));
}

#[tokio::test]
async fn the_openapi_document_is_served_with_the_common_parts() {
    let app = spawn_app().await;

    let response = app.get("/api-docs/openapi.json").await;

    assert_eq!(response.status(), StatusCode::OK);
    let doc: serde_json::Value = response.json().await.unwrap();
    assert_eq!(doc["info"]["title"], "test service");
    assert!(doc["paths"]["/healthz"]["get"].is_object(), "{doc}");
    assert!(
        doc["components"]["schemas"]["ErrorBody"].is_object(),
        "{doc}"
    );
    let committed: serde_json::Value =
        serde_json::from_str(&mycoin_web::docs::openapi_json(ApiDoc::openapi())).unwrap();
    assert_eq!(doc, committed);
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = spawn_app().await;

    let redirect = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/docs"))
        .send()
        .await
        .unwrap();
    let index = app.get("/docs/").await;
    let bundle = app.get("/docs/swagger-ui-bundle.js").await;
    let initializer = app.get("/docs/swagger-initializer.js").await;
    let missing = app.get("/docs/no-such-file.js").await;

    assert!(redirect.status().is_redirection());
    assert_eq!(redirect.headers()["location"], "/docs/");
    assert_eq!(index.status(), StatusCode::OK);
    assert!(index.text().await.unwrap().contains("swagger-ui"));
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(
        bundle.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
    let initializer = initializer.text().await.unwrap();
    assert!(
        initializer.contains("/api-docs/openapi.json"),
        "{initializer}"
    );
    // No call to the online validator: the docs work offline.
    assert!(
        initializer.contains(r#""validatorUrl": "none""#),
        "{initializer}"
    );
    assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_client_decodes_answers_and_errors() {
    let app = spawn_app().await;
    let client = RestClient::new(&app.address, DEFAULT_TIMEOUT).unwrap();

    let receipt: Receipt = client
        .post_json(
            "/pay",
            &Payment {
                to: "bob".into(),
                amount: 3,
            },
        )
        .await
        .unwrap();
    let refused = client
        .post_json::<_, Receipt>(
            "/pay",
            &Payment {
                to: "bob".into(),
                amount: 0,
            },
        )
        .await
        .unwrap_err();
    let wrong_shape = client.get_json::<Receipt>("/healthz").await.unwrap_err();

    assert_eq!(receipt, Receipt { accepted: 3 });
    assert_eq!(refused.status(), Some(422));
    assert_eq!(refused.error_body().unwrap().error, "zero_amount");
    assert!(
        matches!(wrong_shape, ClientError::BadBody { .. }),
        "{wrong_shape}"
    );
}

#[tokio::test]
async fn the_client_sends_its_token() {
    let app = spawn_app().await;
    let anonymous = RestClient::new(&app.address, DEFAULT_TIMEOUT).unwrap();
    let trusted = anonymous.clone().with_token(ApiToken::new(TOKEN).unwrap());

    let refused = anonymous
        .get_json::<serde_json::Value>("/secret")
        .await
        .unwrap_err();
    let secret: serde_json::Value = trusted.get_json("/secret").await.unwrap();

    assert_eq!(refused.status(), Some(401));
    assert_eq!(secret["secret"], "revealed");
}

#[tokio::test]
async fn the_client_tells_timeouts_oversized_answers_and_unreachable_services_apart() {
    let app = spawn_app().await;
    let impatient = RestClient::new(&app.address, Duration::from_millis(300)).unwrap();
    let frugal = RestClient::new(&app.address, DEFAULT_TIMEOUT)
        .unwrap()
        .with_max_response_bytes(1_000);
    // A port that was just free: nothing listens there.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nobody =
        RestClient::new(format!("http://127.0.0.1:{closed_port}"), DEFAULT_TIMEOUT).unwrap();

    let timeout = impatient
        .get_json::<serde_json::Value>("/slow")
        .await
        .unwrap_err();
    let too_large = frugal
        .get_json::<serde_json::Value>("/big")
        .await
        .unwrap_err();
    let unreachable = nobody
        .get_json::<serde_json::Value>("/healthz")
        .await
        .unwrap_err();

    assert!(matches!(timeout, ClientError::Timeout { .. }), "{timeout}");
    assert!(
        matches!(too_large, ClientError::TooLarge { .. }),
        "{too_large}"
    );
    assert!(
        matches!(unreachable, ClientError::Unreachable { .. }),
        "{unreachable}"
    );
    assert_eq!(ApiError::from(unreachable).status().as_u16(), 503);
}

#[test]
fn the_token_file_is_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("user1");

    let created = ApiToken::load_or_create(&data_dir).unwrap();
    let reloaded = ApiToken::load_or_create(&data_dir).unwrap();

    assert_eq!(created.expose_secret(), reloaded.expose_secret());
    assert_eq!(created.expose_secret().len(), 64);
    let file = data_dir.join(ApiToken::FILE_NAME);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        created.expose_secret()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(&data_dir).unwrap().count(), 1);
}

#[test]
fn services_starting_together_share_one_token() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();

    let tokens: Vec<ApiToken> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| ApiToken::load_or_create(&data_dir).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    assert!(
        tokens
            .windows(2)
            .all(|pair| pair[0].expose_secret() == pair[1].expose_secret())
    );
}

#[test]
fn the_token_never_shows_in_debug_or_display() {
    let token = ApiToken::generate().unwrap();
    let secret = token.expose_secret().to_owned();

    assert!(!format!("{token:?}").contains(&secret));
    assert!(!format!("{token}").contains(&secret));
    assert!(!format!("{:?}", Some(token.clone())).contains(&secret));
    let client = RestClient::new("http://127.0.0.1:1", DEFAULT_TIMEOUT)
        .unwrap()
        .with_token(token);
    assert!(!format!("{client:?}").contains(&secret));
}
