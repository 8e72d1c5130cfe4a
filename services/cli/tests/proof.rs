//! `mycoin proof` through the binary: the real `mycoin` against a real `mycoind`, reached (by
//! `--peer-url`, as a user would point it at another node) through a small HTTP proxy of this
//! test. The proxy passes the peer's answers on unchanged, or changes one thing in them: a
//! sibling of the Merkle proof, the header at the proof's height (swapped for the header at that
//! height of another regtest chain), or every header (the other chain's). The real proof passes
//! through the proxy; each tampered answer is refused with exit code 5 and one line on stderr
//! naming the check that failed.

mod common;

use std::net::TcpListener;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, http::StatusCode, web};
use common::*;
use mycoin_api::paths;
use mycoin_core::Txid;
use serde_json::Value;

/// What the proxy changes in the peer's answers.
#[derive(Debug, Clone, Copy)]
enum Tamper {
    /// Nothing: the peer's answers as they are.
    Nothing,
    /// The first sibling of the Merkle proof, one hex digit changed.
    FlipSibling,
    /// In `GET /headers`, the header at this height is the other chain's.
    ForeignHeader { height: usize },
    /// `GET /headers` answers with the other chain's headers.
    ForeignChain,
}

/// The proxy's state: where to forward, what to change, and the transaction asked about.
struct Proxy {
    peer: String,
    foreign: String,
    txid: Txid,
    tamper: Tamper,
    http: reqwest::Client,
}

/// `GET target` on `base`: its status and JSON body.
async fn fetch(http: &reqwest::Client, base: &str, target: &str) -> (u16, Value) {
    let response = http.get(format!("{base}{target}")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Forwards a request to the peer, and changes its answer as the proxy's [`Tamper`] says.
async fn forward(request: HttpRequest, proxy: web::Data<Proxy>) -> HttpResponse {
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let (status, mut body) = fetch(&proxy.http, &proxy.peer, target).await;
    let path = request.path();
    match proxy.tamper {
        Tamper::FlipSibling if path == paths::peer::merkle_proof(&proxy.txid) => {
            let sibling = body["merkle"][0].as_str().unwrap().to_owned();
            let first = if sibling.starts_with('0') { "1" } else { "0" };
            body["merkle"][0] = Value::from(format!("{first}{}", &sibling[1..]));
        }
        Tamper::ForeignHeader { height } if path == paths::peer::HEADERS => {
            let (_, foreign) = fetch(&proxy.http, &proxy.foreign, target).await;
            body[height] = foreign[height].clone();
        }
        Tamper::ForeignChain if path == paths::peer::HEADERS => {
            body = fetch(&proxy.http, &proxy.foreign, target).await.1;
        }
        _ => {}
    }
    HttpResponse::build(StatusCode::from_u16(status).unwrap()).json(body)
}

/// Starts a proxy in front of `peer` (with `foreign` the other chain's peer) on a free port,
/// in its own thread; returns its URL.
fn start_proxy(peer: String, foreign: String, txid: Txid, tamper: Tamper) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let proxy = web::Data::new(Proxy {
        peer,
        foreign,
        txid,
        tamper,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    });
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                App::new()
                    .app_data(proxy.clone())
                    .default_service(web::to(forward))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    url
}

fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "{run:?}");
    run
}

/// The hash of block `height` of `node`'s chain.
fn block_hash(node: &Node, height: u32) -> String {
    let block = ok(node.mycoin(&["--json", "block", &height.to_string()])).json();
    block["hash"].as_str().unwrap().to_owned()
}

/// `mycoin proof txid` with the peer at `url`.
fn proof_through(node: &Node, url: &str, txid: &str) -> Run {
    run_mycoin(&node.env(), &["--peer-url", url, "proof", txid], None)
}

/// The run failed a check (exit code 5) and said so in one line: `mycoin: proof refused: ...`.
fn refused(run: &Run) -> &str {
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    run.stderr
        .trim_end()
        .strip_prefix("mycoin: proof refused: ")
        .unwrap_or_else(|| panic!("not a refused proof: {run:?}"))
}

#[test]
fn mycoin_proof_accepts_the_real_proof_and_refuses_a_tampered_one_or_a_foreign_header() {
    let one = Node::start();
    let other = Node::start();

    // Another regtest chain, two blocks high, from the same genesis.
    ok(other.mycoin(&["mine", "--count", "2"]));

    // On `one`: a coinbase, then a payment confirmed in block 2 beside the coinbase.
    let payee = ok(one.mycoin(&["--json", "key", "new"])).json()["address"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(one.mycoin(&["mine"]));
    let sent = ok(one.mycoin(&["--json", "send", &payee, "0.6"])).json();
    let txid = sent["txid"].as_str().unwrap().to_owned();
    ok(one.mycoin(&["mine"]));
    let id: Txid = txid.parse().unwrap();
    let ours = [block_hash(&one, 1), block_hash(&one, 2)];
    let theirs = [block_hash(&other, 1), block_hash(&other, 2)];
    assert_ne!(ours, theirs);

    let proxy = |tamper| start_proxy(one.url(0), other.url(0), id, tamper);

    // The real proof, through the proxy passing everything on: it checks.
    let real = ok(proof_through(&one, &proxy(Tamper::Nothing), &txid));
    assert!(real.stdout.contains("(height 2, position 1)"), "{real:?}");
    assert!(real.stdout.ends_with("proof        valid\n"), "{real:?}");
    assert!(real.stderr.is_empty(), "{real:?}");

    // One sibling of the Merkle proof changed: the climb misses the header's Merkle root.
    let run = proof_through(&one, &proxy(Tamper::FlipSibling), &txid);
    let message = refused(&run);
    assert!(
        message.starts_with("the Merkle proof does not check: "),
        "{run:?}"
    );

    // The header at the proof's height is the other chain's: it does not link to ours.
    let run = proof_through(&one, &proxy(Tamper::ForeignHeader { height: 2 }), &txid);
    assert_eq!(
        refused(&run),
        format!(
            "the peer's headers are not a valid chain of the regtest network: header 2 names \
             parent {}, but the header before it is {}",
            theirs[0], ours[0]
        ),
        "{run:?}"
    );

    // Every header is the other chain's: a valid chain, but not the one holding the block.
    let run = proof_through(&one, &proxy(Tamper::ForeignChain), &txid);
    assert_eq!(
        refused(&run),
        format!(
            "the proof names block {} at height 2, but the checked header chain has {} there",
            ours[1], theirs[1]
        ),
        "{run:?}"
    );
}
