//! The stack's API token, and the extractor that demands it.
//!
//! Every endpoint that changes state or spends resources (making, importing, signing with or
//! revealing a key, making an address, sending, mining, starting or stopping the miner, adding a
//! peer) needs the API token of the user's stack, sent as
//! `Authorization: Bearer <token>`. The token is a random 32-byte value in hex, kept in
//! `<data_dir>/api-token` (mode 0600) so that every service of the stack, and the user's `curl`,
//! can read it; `--api-token` / `MYCOIN_API_TOKEN` may set it instead.
//!
//! A handler asks for the token by taking an [`Authorized`] argument:
//!
//! ```
//! use actix_web::HttpResponse;
//! use mycoin_web::Authorized;
//!
//! async fn export_key(_auth: Authorized) -> HttpResponse {
//!     HttpResponse::Ok().finish()
//! }
//! ```
//!
//! The token must be in the app data as `web::Data<ApiToken>`; [`crate::Application`] puts it
//! there from [`crate::ServerSettings::api_token`].

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::future::{Ready, ready};
use std::io::{self, Write};
use std::path::Path;
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use subtle::ConstantTimeEq;

use crate::{ApiError, SecretString};

/// Shortest token accepted from the command line or a file.
pub const MIN_TOKEN_LEN: usize = 16;
/// Longest token accepted (it travels in a header).
pub const MAX_TOKEN_LEN: usize = 512;
/// Random bytes in a generated token (shown as twice as many hex digits).
const GENERATED_TOKEN_BYTES: usize = 32;

/// The stack's API token. `Debug` and `Display` print `[redacted]`.
///
/// It has no `PartialEq` on purpose: compare with [`ApiToken::matches`], in constant time.
#[derive(Clone)]
pub struct ApiToken(SecretString);

/// A token that cannot be used: too short, too long, or with characters a header cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an API token must be {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} visible ASCII characters without spaces"
)]
pub struct InvalidApiToken;

impl ApiToken {
    /// Name of the token file in the data directory.
    pub const FILE_NAME: &'static str = "api-token";

    /// Checks and wraps a token.
    pub fn new(token: impl Into<String>) -> Result<Self, InvalidApiToken> {
        let token = token.into();
        let visible = token.bytes().all(|b| b.is_ascii_graphic());
        if !visible || !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len()) {
            return Err(InvalidApiToken);
        }
        Ok(Self(SecretString::from(token)))
    }

    /// A new random token: 32 bytes from the operating system's generator, in hex.
    pub fn generate() -> io::Result<Self> {
        let bytes: [u8; GENERATED_TOKEN_BYTES] = random_bytes()?;
        Ok(Self(SecretString::from(hex::encode(bytes))))
    }

    /// Reads `<data_dir>/api-token`, or creates it with a new random token (mode 0600, the
    /// directory created with mode 0700 if missing).
    ///
    /// Safe to call from several services of one stack at once: the file is written under a
    /// temporary name and linked into place, so a reader never sees half a token and all
    /// callers end with the same one.
    pub fn load_or_create(data_dir: &Path) -> io::Result<Self> {
        let path = data_dir.join(Self::FILE_NAME);
        match Self::load(&path) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            other => return other,
        }

        create_private_dir(data_dir)?;
        let token = Self::generate()?;
        let contents = format!("{}\n", token.expose_secret());
        let suffix: [u8; 8] = random_bytes()?;
        let temporary = data_dir.join(format!(".{}.{}.tmp", Self::FILE_NAME, hex::encode(suffix)));
        write_private_file(&temporary, contents.as_bytes())
            .map_err(|err| with_path(err, &temporary))?;
        let linked = fs::hard_link(&temporary, &path);
        // The temporary name is never needed again, whatever happened.
        let _ = fs::remove_file(&temporary);
        match linked {
            Ok(()) => {}
            // Another service of the stack was first: use its token.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return Self::load(&path),
            // A file system without hard links: create the file in place instead.
            Err(_) => match write_private_file(&path, contents.as_bytes()) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return Self::load(&path),
                Err(err) => return Err(with_path(err, &path)),
            },
        }
        tracing::info!(path = %path.display(), "created a new API token");
        Ok(token)
    }

    /// Reads a token file (surrounding whitespace ignored). Warns when other users may read it.
    pub fn load(path: &Path) -> io::Result<Self> {
        let contents = fs::read_to_string(path).map_err(|err| with_path(err, path))?;
        warn_if_readable_by_others(path);
        Self::new(contents.trim()).map_err(|err| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {err}", path.display()),
            )
        })
    }

    /// The token itself, e.g. to send it to another service. Never print it.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether `candidate` is this token, compared in constant time (only the length leaks).
    pub fn matches(&self, candidate: &str) -> bool {
        self.expose_secret()
            .as_bytes()
            .ct_eq(candidate.as_bytes())
            .into()
    }
}

impl FromStr for ApiToken {
    type Err = InvalidApiToken;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        Self::new(token)
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

fn random_bytes<const N: usize>() -> io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|err| io::Error::other(format!("the system random generator failed: {err}")))?;
    Ok(bytes)
}

fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|err| with_path(err, dir))
}

/// Creates `path` (failing if it exists) readable and writable by its owner only.
fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file: File = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the API token file can be read by other users; run `chmod 600` on it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Proof that the request carried the stack's API token.
///
/// As a handler argument, it rejects the request unless it has `Authorization: Bearer <token>`
/// with the token in `web::Data<ApiToken>`: 401 `missing_token` without the header, 401
/// `invalid_token` with another scheme or token. Without a configured token it answers 500, as
/// that is a bug of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authorized(());

impl Authorized {
    /// Checks the `Authorization` header of `req` against `token`.
    pub fn check(req: &HttpRequest, token: &ApiToken) -> Result<Self, ApiError> {
        let Some(value) = req.headers().get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "missing_token",
                "this endpoint needs the stack's API token: send `Authorization: Bearer <token>` \
                 (the token is in the file `api-token` of the data directory)",
            ));
        };
        let presented = value
            .to_str()
            .ok()
            .and_then(|value| value.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(presented) = presented else {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "the Authorization header must have the form `Bearer <token>`",
            ));
        };
        if !token.matches(presented) {
            // The request span already names the method and path.
            tracing::warn!("rejected a request with a wrong API token");
            return Err(ApiError::unauthorized(
                "invalid_token",
                "the API token in the Authorization header is wrong",
            ));
        }
        Ok(Self(()))
    }
}

impl FromRequest for Authorized {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(match req.app_data::<web::Data<ApiToken>>() {
            Some(token) => Self::check(req, token),
            None => Err(ApiError::internal(
                "a handler needs `Authorized` but no web::Data<ApiToken> is configured",
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked() {
        assert!(ApiToken::new("short").is_err());
        assert!(ApiToken::new("with a space inside it").is_err());
        assert!(ApiToken::new("x".repeat(MAX_TOKEN_LEN + 1)).is_err());
        assert!(ApiToken::new("0123456789abcdef").is_ok());
    }

    #[test]
    fn generated_tokens_are_64_hex_digits_and_differ() {
        let a = ApiToken::generate().unwrap();
        let b = ApiToken::generate().unwrap();
        assert_eq!(a.expose_secret().len(), 64);
        assert!(a.expose_secret().bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!a.matches(b.expose_secret()));
    }

    #[test]
    fn matching_is_exact() {
        let token = ApiToken::new("0123456789abcdef").unwrap();
        assert!(token.matches("0123456789abcdef"));
        assert!(!token.matches("0123456789abcdeF"));
        assert!(!token.matches("0123456789abcde"));
        assert!(!token.matches(""));
    }

    #[test]
    fn the_token_never_prints() {
        let token = ApiToken::new("0123456789abcdef").unwrap();
        assert!(!format!("{token:?} {token}").contains("0123"));
    }
}
