//! The keys service seen from a real HTTP client: each test spawns the service on a free port
//! with its own temporary data directory and SQLite file, and calls it with reqwest.

use mycoin_api::paths;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::dev::ServerHandle;
use mycoin_api::keys::{KeyInfo, NewKey, SignResponse, WifResponse};
use mycoin_core::{Address, Database, Network, PrivateKey, PubKeyHash};
use mycoin_keys::{ApiDoc, KeyStoreError, Settings, StartupError, build};
use mycoin_web::metrics::{Sample, parse_text, sample_value};
use mycoin_web::{ApiToken, ErrorBody};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;
use tempfile::TempDir;
use utoipa::OpenApi;

const TOKEN: &str = "keys-test-token-0123456789abcdef";
const NETWORK: Network = Network::Regtest;
const DIGEST: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

// ---------------------------------------------------------------------------------------------
// Harness

/// Every log line of this test binary, to check that no secret reaches the log.
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(logs.clone());
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init();
        logs
    })
}

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs_contain(needle: &str) -> bool {
    let logs = captured_logs().lock().unwrap();
    String::from_utf8_lossy(&logs).contains(needle)
}

#[derive(Debug)]
struct TestApp {
    address: String,
    http: reqwest::Client,
    handle: ServerHandle,
    database_url: String,
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    async fn get_with_token(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn post_raw(&self, path: &str, token: Option<&str>, body: &str) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.url(path))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    async fn create_key(&self) -> NewKey {
        let response = self
            .http
            .post(self.url(paths::keys::KEYS))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    async fn list(&self) -> Vec<KeyInfo> {
        let response = self.get(paths::keys::KEYS).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn sign(&self, address: &Address, digest: &str) -> SignResponse {
        let response = self
            .post_json(
                &paths::keys::sign_raw(&address.to_string()),
                &json!({ "digest": digest }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn export(&self, address: &Address) -> WifResponse {
        let response = self
            .get_with_token(&paths::keys::wif_raw(&address.to_string()), TOKEN)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// A directory path with the `path()` of a `TempDir`.
struct DirPath(std::path::PathBuf);

impl DirPath {
    fn path(&self) -> &Path {
        &self.0
    }
}

fn settings_in(dir: &Path) -> Settings {
    Settings::new(NETWORK, dir, 0, ApiToken::new(TOKEN).unwrap())
}

async fn try_spawn(settings: Settings) -> Result<TestApp, StartupError> {
    captured_logs();
    let database_url = settings.database_url.clone();
    let app = build(settings).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    Ok(TestApp {
        address,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        handle,
        database_url,
    })
}

async fn spawn_in(settings: Settings) -> TestApp {
    try_spawn(settings).await.expect("the keys service starts")
}

/// A keys service on a free port, with its own data directory (kept alive by the returned
/// `TempDir`) and SQLite file.
async fn spawn_app() -> (TestApp, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(settings_in(dir.path())).await;
    (app, dir)
}

/// Asserts the status and the error code, returns the message.
async fn assert_error(response: reqwest::Response, status: StatusCode, code: &str) -> String {
    let actual = response.status();
    let body: ErrorBody = response
        .json()
        .await
        .expect("an error body in the JSON shape");
    assert_eq!(actual, status, "{body:?}");
    assert_eq!(body.error, code, "{body:?}");
    assert!(!body.message.is_empty());
    body.message
}

fn other_network_address() -> String {
    Address::new(Network::Demo, PubKeyHash([7; 20])).to_string()
}

fn unknown_address() -> Address {
    Address::new(NETWORK, PrivateKey::generate().public_key().pubkey_hash())
}

fn digest_bytes(hex_digest: &str) -> [u8; 32] {
    hex::decode(hex_digest).unwrap().try_into().unwrap()
}

async fn count_rows(database_url: &str) -> i64 {
    let db = Database::connect(database_url).await.unwrap();
    let row = sqlx::query("SELECT COUNT(*) AS n FROM keys_entries")
        .fetch_one(db.pool())
        .await
        .unwrap();
    row.try_get("n").unwrap()
}

// ---------------------------------------------------------------------------------------------
// Happy paths

#[tokio::test]
async fn create_list_and_get_keys() {
    let (app, _dir) = spawn_app().await;
    assert!(app.list().await.is_empty());

    let first = app.create_key().await;
    let second = app.create_key().await;
    assert_ne!(first.address, second.address);
    for key in [&first, &second] {
        assert_eq!(key.address.network(), NETWORK);
        assert_eq!(key.address.pubkey_hash(), key.public_key.pubkey_hash());
    }

    let listed = app.list().await;
    let addresses: Vec<Address> = listed.iter().map(|key| key.address).collect();
    assert_eq!(addresses, [first.address, second.address], "oldest first");

    let response = app
        .get(&paths::keys::key_raw(&first.address.to_string()))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let info: KeyInfo = response.json().await.unwrap();
    assert_eq!(info, listed[0]);
    assert_eq!(info.public_key, first.public_key);
    assert!(info.created_at > 1_700_000_000);
}

#[tokio::test]
async fn signatures_verify_are_deterministic_and_match_the_exported_key() {
    let (app, _dir) = spawn_app().await;
    let key = app.create_key().await;

    let signed = app.sign(&key.address, DIGEST).await;
    assert_eq!(signed.public_key, key.public_key);
    let digest = digest_bytes(DIGEST);
    assert_eq!(key.public_key.verify(&digest, &signed.signature), Ok(()));
    let other = digest_bytes(&"ab".repeat(32));
    assert!(key.public_key.verify(&other, &signed.signature).is_err());

    // RFC 6979: the same digest gives the same signature; upper-case hex is the same digest.
    let again = app.sign(&key.address, &DIGEST.to_uppercase()).await;
    assert_eq!(again.signature, signed.signature);

    let wif = app.export(&key.address).await;
    let private = PrivateKey::from_wif(&wif.wif, NETWORK).unwrap();
    assert_eq!(private.public_key(), key.public_key);
    assert_eq!(private.sign(&digest), signed.signature);
}

#[tokio::test]
async fn an_exported_wif_imports_into_another_app() {
    let (first, _dir1) = spawn_app().await;
    let (second, _dir2) = spawn_app().await;
    let key = first.create_key().await;
    let exported = first.export(&key.address).await;
    assert_eq!(exported.address, key.address);

    let response = second
        .post_json(paths::keys::IMPORT, &json!({ "wif": exported.wif }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let imported: NewKey = response.json().await.unwrap();
    assert_eq!(imported, key);

    // A second import changes nothing.
    let response = second
        .post_json(paths::keys::IMPORT, &json!({ "wif": exported.wif }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<NewKey>().await.unwrap(), key);
    assert_eq!(second.list().await.len(), 1);

    // Both sign alike.
    assert_eq!(
        second.sign(&key.address, DIGEST).await.signature,
        first.sign(&key.address, DIGEST).await.signature
    );
    assert_eq!(second.export(&key.address).await.wif, exported.wif);
}

/// `GET /metrics`, checked as Prometheus' text format and parsed.
async fn metrics(app: &TestApp) -> Vec<Sample> {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    parse_text(&text).unwrap_or_else(|err| panic!("{err}\n{text}"))
}

#[tokio::test]
async fn metrics_count_keys_and_requests_and_need_no_token() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let app = spawn_in(settings_in(&dir)).await;
    assert_eq!(
        sample_value(&metrics(&app).await, "mycoin_keys", &[]),
        Some(0.0)
    );
    let key = app.create_key().await;
    app.create_key().await;
    let wif = app
        .get(&paths::keys::wif_raw(&key.address.to_string()))
        .await;
    assert_eq!(wif.status(), StatusCode::UNAUTHORIZED);

    let samples = metrics(&app).await;
    assert_eq!(sample_value(&samples, "mycoin_keys", &[]), Some(2.0));
    let count = |method: &str, route: &str, status: &str| {
        let labels = [("method", method), ("route", route), ("status", status)];
        sample_value(&samples, "mycoin_http_requests_total", &labels)
    };
    assert_eq!(count("POST", paths::keys::KEYS, "201"), Some(2.0));
    assert_eq!(
        count("GET", &paths::keys::wif_raw("{address}"), "401"),
        Some(1.0)
    );
    app.stop().await;

    // The count is read from the store when it opens.
    let app = spawn_in(settings_in(&dir)).await;
    assert_eq!(
        sample_value(&metrics(&app).await, "mycoin_keys", &[]),
        Some(2.0)
    );
    app.stop().await;
}

#[tokio::test]
async fn keys_survive_a_restart_with_the_key_file() {
    let root = tempfile::tempdir().unwrap();
    // A data directory that does not exist yet is created.
    let dir = root.path().join("data").join("user1");
    let dir = &DirPath(dir);
    let app = spawn_in(settings_in(dir.path())).await;
    let key = app.create_key().await;
    let signature = app.sign(&key.address, DIGEST).await.signature;
    app.stop().await;

    let key_file = dir.path().join("keys.key");
    assert_eq!(std::fs::read(&key_file).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "data directory mode {mode:o}");
    }

    let app = spawn_in(settings_in(dir.path())).await;
    let listed = app.list().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].address, key.address);
    assert_eq!(app.sign(&key.address, DIGEST).await.signature, signature);
    app.stop().await;

    // Another key file does not open the store, and a lost one is not silently replaced.
    std::fs::write(&key_file, [1u8; 32]).unwrap();
    let err = try_spawn(settings_in(dir.path())).await.unwrap_err();
    assert!(
        matches!(err, StartupError::KeyStore(KeyStoreError::WrongKeyFile(_))),
        "{err}"
    );
    assert!(err.to_string().contains("keys.key"), "{err}");
    std::fs::remove_file(&key_file).unwrap();
    let err = try_spawn(settings_in(dir.path())).await.unwrap_err();
    assert!(
        matches!(
            err,
            StartupError::KeyStore(KeyStoreError::KeyFileMissing(_))
        ),
        "{err}"
    );
    assert!(!key_file.exists());

    // A store made with a key file does not take a passphrase.
    let err = try_spawn(settings_in(dir.path()).with_passphrase("a passphrase"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StartupError::KeyStore(KeyStoreError::KeyFileRequired)),
        "{err}"
    );
}

#[tokio::test]
async fn keys_survive_a_restart_with_a_passphrase_and_a_wrong_one_is_refused() {
    const PASSPHRASE: &str = "correct horse battery staple";
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(settings_in(dir.path()).with_passphrase(PASSPHRASE)).await;
    let key = app.create_key().await;
    let signature = app.sign(&key.address, DIGEST).await.signature;
    app.stop().await;
    assert!(
        !dir.path().join("keys.key").exists(),
        "no key file with a passphrase"
    );

    let app = spawn_in(settings_in(dir.path()).with_passphrase(PASSPHRASE)).await;
    assert_eq!(app.list().await[0].address, key.address);
    assert_eq!(app.sign(&key.address, DIGEST).await.signature, signature);
    app.stop().await;

    let err = try_spawn(settings_in(dir.path()).with_passphrase("wrong horse battery staple"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StartupError::KeyStore(KeyStoreError::WrongPassphrase)),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("passphrase does not unlock"), "{message}");
    assert!(!message.contains("horse"), "{message}");

    let err = try_spawn(settings_in(dir.path())).await.unwrap_err();
    assert!(
        matches!(
            err,
            StartupError::KeyStore(KeyStoreError::PassphraseRequired)
        ),
        "{err}"
    );
    assert!(err.to_string().contains("MYCOIN_PASSPHRASE"), "{err}");

    assert!(!logs_contain(PASSPHRASE));
    assert!(!logs_contain("wrong horse"));
}

#[tokio::test]
async fn private_keys_are_not_stored_in_plain_text() {
    let (app, dir) = spawn_app().await;
    let mut secrets = Vec::new();
    for _ in 0..3 {
        let key = app.create_key().await;
        let wif = app.export(&key.address).await.wif;
        secrets.push((
            PrivateKey::from_wif(&wif, NETWORK).unwrap().secret_bytes(),
            wif,
        ));
    }

    let db = Database::connect(&app.database_url).await.unwrap();
    let rows = sqlx::query("SELECT nonce, ciphertext, public_key FROM keys_entries")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let nonce: Vec<u8> = row.try_get("nonce").unwrap();
        let ciphertext: Vec<u8> = row.try_get("ciphertext").unwrap();
        assert_eq!(nonce.len(), 24);
        assert_eq!(ciphertext.len(), 32 + 16, "secret and Poly1305 tag");
        for (secret, _) in &secrets {
            assert!(
                !ciphertext
                    .windows(8)
                    .any(|w| secret.windows(8).any(|s| s == w))
            );
        }
    }

    // Not in any file of the data directory either (database, WAL, key file), nor in the log.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for (secret, wif) in &secrets {
            assert!(!bytes.windows(32).any(|w| w == secret));
            let hex_secret = hex::encode(secret);
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(&hex_secret));
            assert!(!text.contains(wif.as_str()));
        }
    }
    for (secret, wif) in &secrets {
        assert!(!logs_contain(&hex::encode(secret)));
        assert!(!logs_contain(wif));
    }
    assert!(!logs_contain(TOKEN));
    drop(app);
}

#[tokio::test]
async fn concurrent_creations_all_succeed() {
    let (app, _dir) = spawn_app().await;
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.create_key().await.address })
        })
        .collect();
    let mut addresses = Vec::new();
    for task in tasks {
        addresses.push(task.await.unwrap());
    }
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 12);
    assert_eq!(app.list().await.len(), 12);
}

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/keys.json");
    mycoin_web::docs::assert_openapi_file(ApiDoc::openapi(), path);

    let (app, _dir) = spawn_app().await;
    let response = app.get("/api-docs/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let served: Value = response.json().await.unwrap();
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(served, committed);
    for (path, method) in [
        (paths::keys::KEYS.to_string(), "post"),
        (paths::keys::sign_raw("{address}"), "post"),
        (paths::keys::wif_raw("{address}"), "get"),
        (paths::keys::IMPORT.to_string(), "post"),
    ] {
        assert_eq!(
            served["paths"][path.as_str()][method]["security"],
            json!([{ "api_token": [] }]),
            "{method} {path}"
        );
        assert!(
            served["paths"][path.as_str()][method]["responses"]["401"].is_object(),
            "{method} {path}"
        );
    }
    assert!(served["paths"][paths::keys::KEYS]["get"]["security"].is_null());

    let health: Value = app.get("/healthz").await.json().await.unwrap();
    assert_eq!(health["service"], "keys");
}

// ---------------------------------------------------------------------------------------------
// Bad input: a 4xx with the JSON error shape, nothing stored, the service keeps serving.

#[tokio::test]
async fn bad_addresses_are_400_and_unknown_ones_404_on_every_address_route() {
    let (app, _dir) = spawn_app().await;
    let key = app.create_key().await;
    let unknown = unknown_address();
    let bad = [
        "garbage".to_owned(),
        "0OIl".to_owned(),
        other_network_address(),
        key.address.to_string().replacen(|_: char| true, "x", 1),
        "x".repeat(300),
    ];

    for address in &bad {
        assert_error(
            app.get(&paths::keys::key_raw(&address.to_string())).await,
            StatusCode::BAD_REQUEST,
            "invalid_address",
        )
        .await;
        assert_error(
            app.post_json(
                &paths::keys::sign_raw(&address.to_string()),
                &json!({ "digest": DIGEST }),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_address",
        )
        .await;
        assert_error(
            app.get_with_token(&paths::keys::wif_raw(&address.to_string()), TOKEN)
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_address",
        )
        .await;
    }
    let message = assert_error(
        app.get(&paths::keys::key_raw(
            &(other_network_address()).to_string(),
        ))
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_address",
    )
    .await;
    assert!(message.contains("network"), "{message}");

    assert_error(
        app.get(&paths::keys::key_raw(&unknown.to_string())).await,
        StatusCode::NOT_FOUND,
        "unknown_key",
    )
    .await;
    assert_error(
        app.post_json(
            &paths::keys::sign_raw(&unknown.to_string()),
            &json!({ "digest": DIGEST }),
        )
        .await,
        StatusCode::NOT_FOUND,
        "unknown_key",
    )
    .await;
    assert_error(
        app.get_with_token(&paths::keys::wif_raw(&unknown.to_string()), TOKEN)
            .await,
        StatusCode::NOT_FOUND,
        "unknown_key",
    )
    .await;

    assert_eq!(app.list().await.len(), 1);
    app.sign(&key.address, DIGEST).await;
}

#[tokio::test]
async fn bad_sign_requests_are_refused() {
    let (app, _dir) = spawn_app().await;
    let key = app.create_key().await;
    let path = paths::keys::sign_raw(&key.address.to_string());

    for (body, code) in [
        ("{\"digest\": ", "malformed_json"),
        ("not json", "malformed_json"),
        ("", "malformed_json"),
        ("{\"digest\": 5}", "invalid_body"),
        ("{\"digest\": null}", "invalid_body"),
        ("{\"digest\": [1, 2]}", "invalid_body"),
        ("[]", "invalid_body"),
        ("{}", "invalid_body"),
        (
            &format!("{{\"digest\": \"{DIGEST}\", \"extra\": 1}}"),
            "invalid_body",
        ),
        (
            &format!("{{\"digest\": \"{}\"}}", &DIGEST[..62]),
            "invalid_digest",
        ),
        (&format!("{{\"digest\": \"{DIGEST}00\"}}"), "invalid_digest"),
        (
            &format!("{{\"digest\": \"{}zz\"}}", &DIGEST[..62]),
            "invalid_digest",
        ),
        (
            &format!("{{\"digest\": \"{}\"}}", &DIGEST[..63]),
            "invalid_digest",
        ),
        ("{\"digest\": \"\"}", "invalid_digest"),
    ] {
        let response = app.post_raw(&path, Some(TOKEN), body).await;
        assert_error(response, StatusCode::BAD_REQUEST, code).await;
    }

    let oversized = format!("{{\"digest\": \"{}\"}}", "a".repeat(64 * 1024));
    assert_error(
        app.post_raw(&path, Some(TOKEN), &oversized).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;

    let response = app
        .http
        .post(app.url(&path))
        .bearer_auth(TOKEN)
        .header("Content-Type", "text/plain")
        .body(format!("{{\"digest\": \"{DIGEST}\"}}"))
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    assert_error(
        app.get(&path).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;

    // Still serving, nothing stored.
    assert_eq!(app.list().await.len(), 1);
    app.sign(&key.address, DIGEST).await;
}

#[tokio::test]
async fn bad_imports_are_refused_and_store_nothing() {
    let (app, _dir) = spawn_app().await;
    let demo_wif = PrivateKey::generate().to_wif(Network::Demo);
    let regtest_wif = PrivateKey::generate().to_wif(NETWORK);
    let mut tampered: Vec<char> = regtest_wif.chars().collect();
    tampered[10] = if tampered[10] == 'x' { 'y' } else { 'x' };
    let tampered: String = tampered.into_iter().collect();
    let address_not_wif = unknown_address().to_string();

    for (body, code) in [
        ("{\"wif\": ".to_owned(), "malformed_json"),
        ("{\"wif\": \"abc".to_owned(), "malformed_json"),
        ("{\"wif\": 12}".to_owned(), "invalid_body"),
        ("{\"wif\": {}}".to_owned(), "invalid_body"),
        ("{}".to_owned(), "invalid_body"),
        ("{\"key\": \"x\"}".to_owned(), "invalid_body"),
        ("{\"wif\": \"\"}".to_owned(), "invalid_wif"),
        ("{\"wif\": \"not a wif 0OIl\"}".to_owned(), "invalid_wif"),
        (format!("{{\"wif\": \"{tampered}\"}}"), "invalid_wif"),
        (format!("{{\"wif\": \"{address_not_wif}\"}}"), "invalid_wif"),
        (
            format!("{{\"wif\": \"{}\"}}", "1".repeat(200)),
            "invalid_wif",
        ),
        (format!("{{\"wif\": \"{demo_wif}\"}}"), "invalid_wif"),
    ] {
        let response = app.post_raw(paths::keys::IMPORT, Some(TOKEN), &body).await;
        let message = assert_error(response, StatusCode::BAD_REQUEST, code).await;
        for secret in [&demo_wif, &tampered] {
            assert!(!message.contains(secret.as_str()), "{message}");
        }
    }
    let message = assert_error(
        app.post_json(paths::keys::IMPORT, &json!({ "wif": demo_wif }))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_wif",
    )
    .await;
    assert!(message.contains("network"), "{message}");

    let oversized = format!("{{\"wif\": \"{}\"}}", "1".repeat(64 * 1024));
    assert_error(
        app.post_raw(paths::keys::IMPORT, Some(TOKEN), &oversized)
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;

    assert!(app.list().await.is_empty());
    assert_eq!(count_rows(&app.database_url).await, 0);
    assert!(!logs_contain(&demo_wif));
    assert!(!logs_contain(&tampered));

    // Still serving: a good WIF goes in.
    let response = app
        .post_json(paths::keys::IMPORT, &json!({ "wif": regtest_wif }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.list().await.len(), 1);
}

#[tokio::test]
async fn protected_routes_need_the_right_token() {
    let (app, _dir) = spawn_app().await;
    let key = app.create_key().await;
    let wif = PrivateKey::generate().to_wif(NETWORK);
    let sign_path = paths::keys::sign_raw(&key.address.to_string());
    let wif_path = paths::keys::wif_raw(&key.address.to_string());
    let sign_body = format!("{{\"digest\": \"{DIGEST}\"}}");
    let import_body = format!("{{\"wif\": \"{wif}\"}}");

    for (token, code) in [
        (None, "missing_token"),
        (Some("wrong-token-0123456789abcdef"), "invalid_token"),
        (Some(""), "invalid_token"),
    ] {
        assert_error(
            app.post_raw(&sign_path, token, &sign_body).await,
            StatusCode::UNAUTHORIZED,
            code,
        )
        .await;
        // The token is checked before the body and the address.
        assert_error(
            app.post_raw(&sign_path, token, "{\"digest\": ").await,
            StatusCode::UNAUTHORIZED,
            code,
        )
        .await;
        assert_error(
            app.post_raw(paths::keys::IMPORT, token, &import_body).await,
            StatusCode::UNAUTHORIZED,
            code,
        )
        .await;
        assert_error(
            app.post_raw(paths::keys::KEYS, token, "").await,
            StatusCode::UNAUTHORIZED,
            code,
        )
        .await;
        let mut request = app.http.get(app.url(&wif_path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_error(response, StatusCode::UNAUTHORIZED, code).await;
    }
    let response = app
        .http
        .get(app.url(&wif_path))
        .header("Authorization", format!("Basic {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // A cross-site form post (text/plain, no token, as a web page sends it) makes no key and
    // imports none.
    for (path, body) in [
        (paths::keys::KEYS, String::new()),
        (paths::keys::IMPORT, import_body.clone()),
    ] {
        let response = app
            .http
            .post(app.url(path))
            .header("Content-Type", "text/plain")
            .header("Origin", "http://evil.example")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "missing_token").await;
    }

    assert_eq!(app.list().await.len(), 1, "the import stored nothing");
    assert_eq!(count_rows(&app.database_url).await, 1);
    assert!(!logs_contain(&wif));
    // The public routes need no token.
    assert_eq!(
        app.get(&paths::keys::key_raw(&key.address.to_string()))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn wrong_methods_and_routes_get_json_errors() {
    let (app, _dir) = spawn_app().await;
    let key = app.create_key().await;
    let response = app
        .http
        .delete(app.url(paths::keys::KEYS))
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let response = app
        .http
        .delete(app.url(&paths::keys::key_raw(&key.address.to_string())))
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    assert_error(
        app.get(paths::keys::IMPORT).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    assert_error(
        app.get(&format!("{}/nothing", paths::keys::key(&key.address)))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // A body on POST /keys is ignored: the route takes none.
    let response = app
        .post_raw(paths::keys::KEYS, Some(TOKEN), "{\"junk\": ")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.list().await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// A fresh database on the server of `MYCOIN_TEST_DATABASE_URL`, or `None` (with a note) when
/// the variable is not set.
async fn postgres_database() -> Option<String> {
    let Ok(url) = std::env::var("MYCOIN_TEST_DATABASE_URL") else {
        eprintln!("skipped: set MYCOIN_TEST_DATABASE_URL=postgres://… to run the PostgreSQL test");
        return None;
    };
    let maintenance = Database::connect(&url)
        .await
        .expect("MYCOIN_TEST_DATABASE_URL is reachable");
    let name = format!(
        "mycoin_keys_test_{}",
        hex::encode(PrivateKey::generate().secret_bytes())[..16].to_owned()
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(maintenance.pool())
        .await
        .expect("CREATE DATABASE");
    let mut test_url = reqwest::Url::parse(&url).unwrap();
    test_url.set_path(&format!("/{name}"));
    Some(test_url.to_string())
}

#[tokio::test]
async fn the_happy_path_on_postgres() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let settings = || {
        settings_in(dir.path())
            .with_database_url(url.clone())
            .with_passphrase("postgres passphrase")
    };
    let app = spawn_in(settings()).await;
    let key = app.create_key().await;
    assert_eq!(app.list().await, [app_info(&app, &key.address).await]);
    let signed = app.sign(&key.address, DIGEST).await;
    assert_eq!(
        key.public_key
            .verify(&digest_bytes(DIGEST), &signed.signature),
        Ok(())
    );
    let wif = app.export(&key.address).await.wif;
    let response = app
        .post_json(paths::keys::IMPORT, &json!({ "wif": wif }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let other = PrivateKey::generate().to_wif(NETWORK);
    let response = app
        .post_json(paths::keys::IMPORT, &json!({ "wif": other }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_error(
        app.post_json(
            &paths::keys::sign_raw(&key.address.to_string()),
            &json!({ "digest": "zz" }),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_digest",
    )
    .await;
    assert_eq!(count_rows(&app.database_url).await, 2);
    app.stop().await;

    let app = spawn_in(settings()).await;
    assert_eq!(app.list().await.len(), 2);
    assert_eq!(
        app.sign(&key.address, DIGEST).await.signature,
        signed.signature
    );
    app.stop().await;
    let err = try_spawn(settings().with_passphrase("not the passphrase"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StartupError::KeyStore(KeyStoreError::WrongPassphrase)),
        "{err}"
    );
}

async fn app_info(app: &TestApp, address: &Address) -> KeyInfo {
    app.get(&paths::keys::key_raw(&address.to_string()))
        .await
        .json()
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Hostile neighbours: Host allowlist, JSON that is not an object, file modes.

/// A page whose name was rebound to 127.0.0.1 reads no key and makes none: 421.
#[tokio::test]
async fn a_foreign_host_is_misdirected() {
    let (app, _dir) = spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let foreign = format!("evil.example:{port}");
    let response = app
        .http
        .get(app.url(paths::keys::KEYS))
        .header("Host", &foreign)
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::MISDIRECTED_REQUEST,
        "misdirected_host",
    )
    .await;
    let response = app
        .http
        .post(app.url(paths::keys::KEYS))
        .header("Host", &foreign)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::MISDIRECTED_REQUEST,
        "misdirected_host",
    )
    .await;
    assert!(app.list().await.is_empty());
    let response = app
        .http
        .get(app.url(paths::keys::KEYS))
        .header("Host", format!("localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// `["…"]` would fill a request struct field by field; a JSON body must be an object.
#[tokio::test]
async fn json_bodies_that_are_not_objects_are_refused() {
    let (app, _dir) = spawn_app().await;
    let key = app.create_key().await;
    let wif = PrivateKey::generate().to_wif(NETWORK);
    let sign_path = paths::keys::sign_raw(&key.address.to_string());
    let array_sign = format!("[\"{DIGEST}\"]");
    let array_import = format!("[\"{wif}\"]");
    for (path, body) in [
        (sign_path.as_str(), array_sign.as_str()),
        (paths::keys::IMPORT, array_import.as_str()),
        (paths::keys::IMPORT, "[]"),
        (paths::keys::IMPORT, "\"x\""),
        (paths::keys::IMPORT, "7"),
        (paths::keys::IMPORT, "null"),
    ] {
        assert_error(
            app.post_raw(path, Some(TOKEN), body).await,
            StatusCode::BAD_REQUEST,
            "invalid_body",
        )
        .await;
    }
    assert_eq!(app.list().await.len(), 1, "nothing imported");
}

/// The data directory ends 0700 and every file in it 0600 (SQLite's -wal and -shm included),
/// whether the service made it or found it looser.
#[cfg(unix)]
#[tokio::test]
async fn data_files_are_private_in_a_fresh_and_in_an_existing_directory() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let root = tempfile::tempdir().unwrap();
    for existing in [false, true] {
        let dir = root
            .path()
            .join(if existing { "existing" } else { "fresh" });
        if existing {
            std::fs::create_dir(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            for name in [
                "mycoin.sqlite",
                "mycoin.sqlite-wal",
                "mycoin.sqlite-shm",
                "api-token",
            ] {
                let path = dir.join(name);
                std::fs::write(&path, b"").unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            }
            // An empty -wal/-shm pair is what SQLite leaves; the token file is rewritten below.
            std::fs::write(dir.join("api-token"), format!("{TOKEN}\n")).unwrap();
        }
        let app = spawn_in(settings_in(&dir)).await;
        app.create_key().await;
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        for name in [
            "mycoin.sqlite",
            "mycoin.sqlite-wal",
            "mycoin.sqlite-shm",
            "keys.key",
        ] {
            assert!(dir.join(name).exists(), "{name} missing in {files:?}");
        }
        for file in files {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
}
