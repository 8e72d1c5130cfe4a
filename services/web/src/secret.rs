//! A string that never prints.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

/// A secret string (a passphrase, a token): `Debug` and `Display` print `[redacted]`, so it can
/// sit in a settings struct that is logged. Read it with [`SecretString::expose_secret`], only
/// where it is used.
///
/// ```
/// use mycoin_web::SecretString;
///
/// let passphrase = SecretString::from("correct horse battery staple".to_owned());
/// assert_eq!(format!("{passphrase:?}"), "[redacted]");
/// assert_eq!(passphrase.expose_secret(), "correct horse battery staple");
/// ```
#[derive(Clone)]
pub struct SecretString(Box<str>);

impl SecretString {
    /// The secret itself. Call it where the secret is used, never to print it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(secret: String) -> Self {
        Self(secret.into_boxed_str())
    }
}

impl FromStr for SecretString {
    type Err = Infallible;

    fn from_str(secret: &str) -> Result<Self, Self::Err> {
        Ok(Self(secret.into()))
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
