//! OpenAPI document, Swagger UI and `/healthz`: the routes every service has.
//!
//! | route | what |
//! |---|---|
//! | `GET /api-docs/openapi.json` | the service's OpenAPI document, completed by [`complete`] |
//! | `GET /docs/` (and `/docs`, redirected) | Swagger UI, served from files built into the binary |
//! | `GET /healthz` | `{"status": "ok", "service": "<name>"}` |
//! | `GET /metrics` | Prometheus' text format, registered by [`crate::server`] ([`crate::metrics`]) |
//!
//! Each service commits its document as `openapi/<name>.json`; a test of the service keeps the
//! file in step with the code through [`assert_openapi_file`].

use std::fs;
use std::io;
use std::path::Path;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Components, ContentBuilder, OpenApi as OpenApiDoc, Ref, RefOr, Response, ResponseBuilder,
};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::ErrorBody;

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api-docs/openapi.json";
/// Where Swagger UI is served (its index is at `/docs/`).
pub const DOCS_PATH: &str = "/docs";
/// Where the health check is served.
pub const HEALTH_PATH: &str = "/healthz";
/// Name of the bearer security scheme for the stack's API token. Protected operations say
/// `security(("api_token" = []))` in their `#[utoipa::path]`.
pub const API_TOKEN_SCHEME: &str = "api_token";
/// Environment variable that makes [`assert_openapi_file`] rewrite the file instead of comparing.
pub const UPDATE_OPENAPI_ENV: &str = "MYCOIN_UPDATE_OPENAPI";

/// Body of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"status": "ok", "service": "peer"}))]
pub struct Health {
    /// Always `ok`: a service that answers is up.
    pub status: String,
    /// Which service answered: `peer`, `keys`, `wallet` or `miner`.
    pub service: String,
}

/// The name a service reports in `/healthz`.
#[derive(Debug, Clone)]
struct ServiceName(String);

/// Liveness check.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "The service is up", body = Health))
)]
async fn healthz(service: web::Data<ServiceName>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".to_owned(),
        service: service.0.clone(),
    })
}

/// What every service's document shares: `/healthz`, `/metrics` and the error body.
#[derive(OpenApi)]
#[openapi(
    paths(healthz, crate::metrics::serve),
    components(schemas(ErrorBody, Health))
)]
struct CommonApi;

/// Adds the bearer scheme named [`API_TOKEN_SCHEME`] to a document.
///
/// [`complete`] applies it when an operation refers to the scheme; it is public for documents
/// built another way.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiTokenScheme;

impl Modify for ApiTokenScheme {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "The stack's API token, from the file `api-token` in the data directory \
                 or from `--api-token` / `MYCOIN_API_TOKEN`.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Components::default)
            .add_security_scheme(API_TOKEN_SCHEME, SecurityScheme::Http(scheme));
    }
}

/// A service's document as served: its own paths plus `/healthz` and `/metrics`, the
/// [`ErrorBody`] and [`Health`] schemas, the API token scheme when an operation requires it, and
/// on every operation the error statuses the shared plumbing answers ([`CommonResponses`]).
/// Idempotent.
pub fn complete(mut openapi: OpenApiDoc) -> OpenApiDoc {
    openapi.merge(CommonApi::openapi());
    if requires_api_token(&openapi) {
        ApiTokenScheme.modify(&mut openapi);
    }
    CommonResponses.modify(&mut openapi);
    openapi
}

/// Adds to each operation the statuses that the shared plumbing may answer for it, unless the
/// operation already documents them (its own description, more precise, is kept):
///
/// | when | status | codes |
/// |---|---|---|
/// | always | 421 | `misdirected_host` ([`crate::host`]) |
/// | always | 500 | `internal` |
/// | a request body | 400 | `malformed_json`, `invalid_body` (also a body that is not an object) |
/// | a request body | 413 | `payload_too_large` |
/// | a request body | 415 | `unsupported_media_type` |
/// | the API token | 401 | `missing_token`, `invalid_token` |
/// | path parameters | 400 | `invalid_path` |
/// | query parameters | 400 | `invalid_query` |
#[derive(Debug, Clone, Copy, Default)]
pub struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                add_common_responses(operation);
            }
        }
    }
}

fn add_common_responses(operation: &mut Operation) {
    let parameter_in = |place: ParameterIn| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|parameter| match parameter {
                RefOr::T(parameter) => parameter.parameter_in == place,
                RefOr::Ref(_) => false,
            })
    };
    let mut added: Vec<(&str, &str)> = Vec::new();
    if operation.request_body.is_some() {
        added.push((
            "400",
            "Malformed JSON (`malformed_json`), or a body that is not a JSON object or does not \
             fit the schema (`invalid_body`)",
        ));
        added.push(("413", "Body too large (`payload_too_large`)"));
        added.push((
            "415",
            "The body is not sent as `Content-Type: application/json` (`unsupported_media_type`)",
        ));
    }
    if parameter_in(ParameterIn::Path) {
        added.push(("400", "A path parameter of the wrong type (`invalid_path`)"));
    }
    if parameter_in(ParameterIn::Query) {
        added.push(("400", "A bad query parameter (`invalid_query`)"));
    }
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        added.push((
            "401",
            "Missing or wrong API token (`missing_token`, `invalid_token`)",
        ));
    }
    added.push((
        "421",
        "The `Host` header names a host this service does not answer to (`misdirected_host`)",
    ));
    added.push((
        "500",
        "Internal error (`internal`); the detail is only in the service's log",
    ));
    for (status, description) in added {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(error_response(description)));
    }
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn requires_api_token(openapi: &OpenApiDoc) -> bool {
    let requirement = SecurityRequirement::new(API_TOKEN_SCHEME, Vec::<String>::new());
    openapi.paths.paths.values().any(|item| {
        [
            &item.get,
            &item.put,
            &item.post,
            &item.delete,
            &item.options,
            &item.head,
            &item.patch,
            &item.trace,
        ]
        .into_iter()
        .flatten()
        .filter_map(|operation| operation.security.as_ref())
        .any(|requirements| requirements.contains(&requirement))
    })
}

/// The completed document as pretty JSON with a final newline: the exact bytes served at
/// [`OPENAPI_PATH`] (modulo formatting) and committed as `openapi/<name>.json`.
pub fn openapi_json(openapi: OpenApiDoc) -> String {
    let mut json = complete(openapi)
        .to_pretty_json()
        .expect("an OpenAPI document always serializes to JSON");
    json.push('\n');
    json
}

/// Writes [`openapi_json`] to `path`, creating its directory.
pub fn write_openapi(openapi: OpenApiDoc, path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, openapi_json(openapi))
}

/// For a service's test: panics unless the committed file at `path` equals [`openapi_json`].
/// With `MYCOIN_UPDATE_OPENAPI=1` in the environment it rewrites the file instead.
///
/// ```no_run
/// # use utoipa::OpenApi;
/// # #[derive(OpenApi)] struct ApiDoc;
/// #[test]
/// fn committed_openapi_document_is_up_to_date() {
///     let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/keys.json");
///     mycoin_web::docs::assert_openapi_file(ApiDoc::openapi(), path);
/// }
/// ```
pub fn assert_openapi_file(openapi: OpenApiDoc, path: impl AsRef<Path>) {
    let path = path.as_ref();
    if std::env::var_os(UPDATE_OPENAPI_ENV).is_some_and(|value| value == "1") {
        write_openapi(openapi, path)
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
        return;
    }
    let expected = openapi_json(openapi);
    let committed = fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is not the service's current OpenAPI document; \
         regenerate it with `{UPDATE_OPENAPI_ENV}=1 cargo test` and commit it",
        path.display()
    );
}

/// Registers [`OPENAPI_PATH`], Swagger UI under [`DOCS_PATH`] and [`HEALTH_PATH`] for the
/// service `name`. `openapi` is completed here; pass the service's own document.
pub fn configure(cfg: &mut web::ServiceConfig, name: &str, openapi: OpenApiDoc) {
    cfg.service(
        web::resource(HEALTH_PATH)
            .app_data(web::Data::new(ServiceName(name.to_owned())))
            .route(web::get().to(healthz)),
    )
    .service(web::redirect(DOCS_PATH, format!("{DOCS_PATH}/")))
    .service(
        SwaggerUi::new(format!("{DOCS_PATH}/{{_:.*}}"))
            .url(OPENAPI_PATH, complete(openapi))
            // Swagger UI would otherwise ask validator.swagger.io to check the document:
            // nothing here may reach the internet.
            .config(Config::new([OPENAPI_PATH]).validator_url("none")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(OpenApi)]
    #[openapi(info(title = "test"))]
    struct Empty;

    #[test]
    fn complete_adds_health_and_error_schema_once() {
        let once = complete(Empty::openapi());
        assert!(once.paths.paths.contains_key(HEALTH_PATH));
        let schemas = &once.components.as_ref().unwrap().schemas;
        assert!(schemas.contains_key("ErrorBody"));
        assert!(complete(once.clone()) == once);
    }

    #[test]
    fn the_token_scheme_is_added_only_when_used() {
        let without = complete(Empty::openapi());
        assert!(without.components.unwrap().security_schemes.is_empty());

        let mut doc = Empty::openapi();
        let mut operation = utoipa::openapi::path::Operation::new();
        operation.security = Some(vec![SecurityRequirement::new(
            API_TOKEN_SCHEME,
            Vec::<String>::new(),
        )]);
        let mut item = utoipa::openapi::PathItem::default();
        item.post = Some(operation);
        doc.paths.paths.insert("/secret".to_owned(), item);
        let with = complete(doc);
        assert!(
            with.components
                .unwrap()
                .security_schemes
                .contains_key(API_TOKEN_SCHEME)
        );
    }

    #[test]
    fn common_error_statuses_are_added_where_they_apply() {
        let mut doc = Empty::openapi();
        let mut write = utoipa::openapi::path::Operation::new();
        write.security = Some(vec![SecurityRequirement::new(
            API_TOKEN_SCHEME,
            Vec::<String>::new(),
        )]);
        write.request_body = Some(RefOr::T(utoipa::openapi::request_body::RequestBody::new()));
        write
            .responses
            .responses
            .insert("400".to_owned(), RefOr::T(error_response("its own words")));
        let mut item = utoipa::openapi::PathItem::default();
        item.post = Some(write);
        item.get = Some(utoipa::openapi::path::Operation::new());
        doc.paths.paths.insert("/thing".to_owned(), item);
        let done = complete(doc);
        let item = &done.paths.paths["/thing"];
        let statuses = |operation: &Option<Operation>| -> Vec<String> {
            operation
                .as_ref()
                .unwrap()
                .responses
                .responses
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(
            statuses(&item.post),
            ["400", "401", "413", "415", "421", "500"]
        );
        assert_eq!(statuses(&item.get), ["421", "500"]);
        let kept = &item.post.as_ref().unwrap().responses.responses["400"];
        assert!(matches!(kept, RefOr::T(r) if r.description == "its own words"));
        assert!(complete(done.clone()) == done);
    }
}
