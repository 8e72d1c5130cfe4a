//! `mycoin-healthcheck`: exits 0 when a mycoin service answers `GET /healthz` with 200.
//!
//! For container healthchecks in an image that has no shell and no curl (the FROM-scratch
//! image of `scripts/docker-image.sh`):
//!
//! ```text
//! mycoin-healthcheck 8001              # GET http://127.0.0.1:8001/healthz
//! mycoin-healthcheck user1-peer:8001   # another host
//! ```
//!
//! Standard library only: one plain HTTP/1.1 request, a 3-second timeout, no retries (the
//! container engine retries). Exit status 0 when healthy, 1 otherwise, with the reason on
//! standard error.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

/// Time allowed to connect, to send the request and to read the answer, each.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Most bytes of the answer read: `/healthz` answers a few dozen.
const MAX_ANSWER: u64 = 16 * 1024;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target] = args.as_slice() else {
        eprintln!("usage: mycoin-healthcheck PORT | HOST:PORT  (asks GET /healthz)");
        return ExitCode::FAILURE;
    };
    match check(target) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mycoin-healthcheck: {target}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `HOST:PORT` of `target`: a bare port means 127.0.0.1.
fn authority(target: &str) -> String {
    if target.parse::<u16>().is_ok() {
        format!("127.0.0.1:{target}")
    } else {
        target.to_owned()
    }
}

/// Asks `GET /healthz` of `target`; `Ok` on a 200 answer.
fn check(target: &str) -> Result<(), String> {
    let authority = authority(target);
    let address = authority
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve: {err}"))?
        .next()
        .ok_or("the name has no address")?;
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)
        .map_err(|err| format!("cannot connect: {err}"))?;
    let io_error = |err: std::io::Error| err.to_string();
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io_error)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io_error)?;
    // One write: `write!` would send the request in pieces.
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(io_error)?;
    let mut answer = Vec::new();
    stream
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .map_err(io_error)?;
    let status_line = answer
        .split(|&byte| byte == b'\n')
        .next()
        .map(|line| String::from_utf8_lossy(line).trim_end().to_owned())
        .unwrap_or_default();
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ => Err(format!("answered {status_line:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// A one-request server answering `status_line`; returns its port.
    fn serve_once(status_line: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // The whole request, or closing with some of it unread resets the connection.
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                request.push(byte[0]);
            }
            let body = r#"{"status":"ok","service":"peer"}"#;
            write!(
                stream,
                "{status_line}\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        });
        port
    }

    #[test]
    fn a_200_answer_is_healthy() {
        let port = serve_once("HTTP/1.1 200 OK");
        assert_eq!(check(&port.to_string()), Ok(()));
    }

    #[test]
    fn another_status_or_no_server_is_unhealthy() {
        let port = serve_once("HTTP/1.1 503 Service Unavailable");
        let err = check(&format!("127.0.0.1:{port}")).unwrap_err();
        assert!(err.contains("503"), "{err}");

        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(check(&closed.to_string()).is_err());
    }

    #[test]
    fn a_bare_port_means_loopback() {
        assert_eq!(authority("8001"), "127.0.0.1:8001");
        assert_eq!(authority("user1-peer:8001"), "user1-peer:8001");
    }
}
