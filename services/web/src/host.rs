//! The `Host` allowlist, against DNS rebinding.
//!
//! A web page on `evil.example` whose name its owner points at 127.0.0.1 may send requests to
//! a mycoin service on this machine, and its browser lets it read the answers: to the browser
//! they come from `evil.example`. Such requests carry `Host: evil.example[:port]`, so every
//! service answers only requests whose `Host` is
//!
//! - the bound address with the bound port (e.g. `192.168.1.5:8001` when bound to it),
//! - `localhost`, `127.0.0.1` or `[::1]` with the bound port,
//! - or a name given with `--allowed-host` / `MYCOIN_ALLOWED_HOSTS` ([`AllowedHosts::allow`]):
//!   `NAME` allows that name with any port, `NAME:PORT` with that port only. Containers that
//!   call each other by service name (`user1-keys`) need it.
//!
//! Any other `Host`, or none, gets 421 Misdirected Request, `misdirected_host`, before any
//! handler runs. Names compare without regard to case and to a trailing dot; a `Host` without
//! a port means port 80.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

use crate::ApiError;

/// A name in the allowlist: a host, and the one port it is allowed with (any when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    name: String,
    port: Option<u16>,
}

/// A name `--allowed-host` cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an allowed host is a name or address, optionally with :PORT (no scheme, no path): {0:?}")]
pub struct InvalidHostPattern(pub String);

impl HostPattern {
    /// Parses `NAME`, `NAME:PORT`, `IPV4[:PORT]` or `[IPV6][:PORT]`.
    pub fn parse(input: &str) -> Result<Self, InvalidHostPattern> {
        let invalid = || InvalidHostPattern(input.to_owned());
        let (name, port) = split_host(input.trim()).ok_or_else(invalid)?;
        let valid_name = !name.is_empty()
            && name.len() <= 253
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
        if !valid_name {
            return Err(invalid());
        }
        Ok(Self { name, port })
    }

    fn matches(&self, name: &str, port: u16) -> bool {
        self.name == name && self.port.is_none_or(|allowed| allowed == port)
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

impl std::str::FromStr for HostPattern {
    type Err = InvalidHostPattern;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

/// `name` (lowercase, without a trailing dot) and port of a `Host` value or pattern; `None`
/// when it cannot be one. No port: `None` as the port.
fn split_host(value: &str) -> Option<(String, Option<u16>)> {
    let (name, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (format!("[{inside}]"), port)
    } else {
        match value.rsplit_once(':') {
            Some((name, port)) => (name.to_owned(), Some(port)),
            None => (value.to_owned(), None),
        }
    };
    let port = match port {
        None => None,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse::<u16>().ok()?)
        }
        Some(_) => return None,
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.contains(':') && !name.starts_with('[') {
        return None;
    }
    Some((name, port))
}

/// The `Host` values a service answers: see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    port: u16,
    bound: Option<String>,
    extra: Vec<HostPattern>,
}

impl AllowedHosts {
    /// The loopback names and the bound address, with the bound port.
    pub fn for_address(address: SocketAddr) -> Self {
        let bound = match address.ip() {
            ip if ip.is_unspecified() => None,
            IpAddr::V4(ip) => Some(ip.to_string()),
            IpAddr::V6(ip) => Some(format!("[{ip}]")),
        };
        Self {
            port: address.port(),
            bound,
            extra: Vec::new(),
        }
    }

    /// The same allowlist with more names.
    pub fn allow(mut self, patterns: impl IntoIterator<Item = HostPattern>) -> Self {
        self.extra.extend(patterns);
        self
    }

    /// Whether a request with `Host: value` may be answered.
    pub fn allows(&self, value: &str) -> bool {
        let Some((name, port)) = split_host(value) else {
            return false;
        };
        let port = port.unwrap_or(80);
        let local = matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]")
            || self.bound.as_deref() == Some(name.as_str());
        (local && port == self.port) || self.extra.iter().any(|p| p.matches(&name, port))
    }
}

/// Middleware: 421 `misdirected_host` unless the request's `Host` is in the
/// `web::Data<AllowedHosts>` of the app (installed by [`crate::Application`]).
pub async fn check_host(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let allowed = match req.app_data::<web::Data<AllowedHosts>>() {
        None => true,
        Some(hosts) => req
            .headers()
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| hosts.allows(value)),
    };
    if allowed {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let shown: String = req
        .headers()
        .get(header::HOST)
        .map(|value| {
            String::from_utf8_lossy(value.as_bytes())
                .chars()
                .take(100)
                .collect()
        })
        .unwrap_or_default();
    tracing::warn!(host = %shown, "refused a request for a host name this service does not serve");
    let error = ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        "misdirected_host",
        format!(
            "this service does not answer for the host {shown:?}: use 127.0.0.1 or localhost with \
             its port, or name the host with --allowed-host (MYCOIN_ALLOWED_HOSTS)"
        ),
    );
    Ok(req.into_response(error.error_response()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> AllowedHosts {
        AllowedHosts::for_address("127.0.0.1:8001".parse().unwrap()).allow([
            HostPattern::parse("user1-peer").unwrap(),
            HostPattern::parse("Node.Example:9001").unwrap(),
        ])
    }

    #[test]
    fn loopback_names_with_the_port_and_allowed_names_pass() {
        let hosts = hosts();
        for ok in [
            "127.0.0.1:8001",
            "localhost:8001",
            "LOCALHOST.:8001",
            "[::1]:8001",
            "user1-peer:8001",
            "user1-peer:1234",
            "user1-peer",
            "node.example:9001",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
    }

    #[test]
    fn other_names_and_ports_are_refused() {
        let hosts = hosts();
        for bad in [
            "evil.example:8001",
            "evil.example",
            "localhost:8002",
            "localhost",
            "127.0.0.2:8001",
            "node.example:8001",
            "user1-peer.evil.example:8001",
            "",
            ":8001",
            "localhost:80x",
            "[::1",
            "a:b:c",
        ] {
            assert!(!hosts.allows(bad), "{bad}");
        }
    }

    #[test]
    fn the_bound_address_passes_unless_it_is_unspecified() {
        let bound = AllowedHosts::for_address("192.168.1.5:8001".parse().unwrap());
        assert!(bound.allows("192.168.1.5:8001"));
        assert!(!bound.allows("192.168.1.5:8002"));
        let any = AllowedHosts::for_address("0.0.0.0:8001".parse().unwrap());
        assert!(!any.allows("0.0.0.0:8001"));
        assert!(any.allows("127.0.0.1:8001"));
        let v6 = AllowedHosts::for_address("[fd00::5]:8001".parse().unwrap());
        assert!(v6.allows("[fd00::5]:8001"));
    }

    #[test]
    fn patterns_are_checked() {
        for bad in ["http://x", "x/y", "", "x:port", "a b"] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            HostPattern::parse("[::1]:80").unwrap().to_string(),
            "[::1]:80"
        );
    }
}
