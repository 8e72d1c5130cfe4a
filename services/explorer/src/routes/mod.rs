//! The explorer's routes: each handler fetches what its page shows from the stack's services
//! through the typed clients, and renders it ([`crate::pages`]). Consensus questions (targets,
//! Merkle trees and proofs, input checks) are answered by mycoin-core.

use std::collections::{HashMap, HashSet};

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE, VARY};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;
use mycoin_api::client::{ClientError, KeysClient, MinerClient, PeerClient, WalletClient};
use mycoin_api::paths::explorer as path;
use mycoin_api::peer::{ChainTipStatus, OutspendView, TxState, decode_hex};
use mycoin_core::block::merkle_levels;
use mycoin_core::utxo::Coin;
use mycoin_core::validation::{check_input, check_proof_of_work};
use mycoin_core::{
    Address, Block, BlockHash, Network, OutPoint, Transaction, TxError, TxIn, Txid, proof_path,
};
use serde::Deserialize;

use crate::chart;
use crate::i18n::Lang;
use crate::live::{Live, browser_stream};
use crate::pages::{self, Here, InputRow, InputVerdict, OutputState, ProofRows, TreeBlock};

/// Heights the fork tree shows.
pub const TREE_HEIGHTS: u32 = 30;
/// Largest block whose Merkle tree is drawn.
pub const MAX_MERKLE_DRAWN: usize = 64;
/// Transactions of an address's history per page.
pub const HISTORY_PAGE: u32 = 25;

/// The explorer's state: clients of the stack's services, and the live relay.
#[derive(Debug)]
pub struct Explorer {
    pub network: Network,
    pub peer: PeerClient,
    pub keys: KeysClient,
    pub wallet: WalletClient,
    pub miner: MinerClient,
    pub live: Live,
}

/// The language and place of a request.
struct Ctx {
    lang: Lang,
    /// Whether `?lang=` chose the language (then remembered in a cookie).
    chosen: bool,
    here: Here,
}

impl Ctx {
    fn of(req: &HttpRequest) -> Ctx {
        let (lang, chosen) = Lang::of_request(req);
        let query: Vec<&str> = req
            .query_string()
            .split('&')
            .filter(|pair| !pair.is_empty() && !pair.starts_with("lang="))
            .collect();
        let here = if query.is_empty() {
            req.path().to_owned()
        } else {
            format!("{}?{}", req.path(), query.join("&"))
        };
        Ctx {
            lang,
            chosen,
            here: Here(here),
        }
    }

    /// An HTML answer.
    fn html(&self, status: StatusCode, markup: Markup) -> HttpResponse {
        let mut response = HttpResponse::build(status);
        response
            .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((VARY, "Accept-Language, Cookie"));
        if self.chosen {
            response.insert_header((SET_COOKIE, self.lang.cookie()));
        }
        response.body(markup.into_string())
    }

    fn page(&self, markup: Markup) -> HttpResponse {
        self.html(StatusCode::OK, markup)
    }

    /// An error page.
    fn error(&self, status: StatusCode, title: &str, detail: &str) -> HttpResponse {
        let markup = pages::layout(self.lang, &self.here, title, pages::error_body(detail));
        self.html(status, markup)
    }

    /// The error page for a failed call to a service: its 404 is this page's, a 400 too;
    /// anything else is the node not answering (502).
    fn failed(&self, err: &ClientError) -> HttpResponse {
        let t = self.lang.text();
        let detail = err
            .error_body()
            .map(|body| body.message.clone())
            .unwrap_or_else(|| err.to_string());
        match err.status() {
            Some(404) => self.error(StatusCode::NOT_FOUND, t.not_found, &detail),
            Some(400) => self.error(StatusCode::BAD_REQUEST, t.bad_request, &detail),
            _ => self.error(StatusCode::BAD_GATEWAY, t.upstream_down, &detail),
        }
    }

    fn bad_request(&self, detail: &str) -> HttpResponse {
        self.error(
            StatusCode::BAD_REQUEST,
            self.lang.text().bad_request,
            detail,
        )
    }
}

/// Unwraps a service's answer, or returns its error page.
macro_rules! fetch {
    ($ctx:expr, $call:expr) => {
        match $call.await {
            Ok(value) => value,
            Err(err) => return $ctx.failed(&err),
        }
    };
}

/// Registers the routes, with `explorer` as app data.
pub fn configure(cfg: &mut web::ServiceConfig, explorer: web::Data<Explorer>) {
    cfg.app_data(explorer)
        .service(web::resource(path::RACE).route(web::get().to(race)))
        .service(web::resource(path::RACE_LIVE).route(web::get().to(race_live)))
        .service(web::resource(path::LIVE).route(web::get().to(live)))
        .service(web::resource(path::block_raw("{hash}")).route(web::get().to(block)))
        .service(web::resource(path::transaction_raw("{txid}")).route(web::get().to(transaction)))
        .service(web::resource(path::address_raw("{address}")).route(web::get().to(address)))
        .service(web::resource(path::MEMPOOL).route(web::get().to(mempool)))
        .service(web::resource(path::PEERS).route(web::get().to(peers)))
        .service(web::resource(path::CHART).route(web::get().to(chart_page)))
        .service(web::resource(path::SEARCH).route(web::get().to(search)))
        .service(web::resource(path::SCRIPT).route(web::get().to(script)))
        .service(web::resource(path::STYLE).route(web::get().to(style)));
}

/// This user's addresses (from the keys service), to tell this wallet's blocks from others'.
async fn my_addresses(explorer: &Explorer) -> HashSet<String> {
    match explorer.keys.list().await {
        Ok(keys) => keys.iter().map(|k| k.address.to_string()).collect(),
        Err(err) => {
            tracing::debug!(error = %err, "cannot list this user's keys");
            HashSet::new()
        }
    }
}

/// Whether the coinbase of `view` pays one of `mine`.
fn mined_by(view: &mycoin_api::peer::BlockView, mine: &HashSet<String>) -> bool {
    view.transactions
        .first()
        .is_some_and(|coinbase| coinbase.outputs.iter().any(|o| mine.contains(&o.address)))
}

/// Everything the race shows, fetched.
async fn fetch_race(explorer: &Explorer) -> Result<pages::Race, ClientError> {
    let chain = explorer.peer.chain().await?;
    let from = chain.height.saturating_sub(TREE_HEIGHTS - 1);
    let (peers, blocks, tips, miner, wallet, mine) = tokio::join!(
        explorer.peer.peers(),
        explorer.peer.blocks(from, Some(TREE_HEIGHTS)),
        explorer.peer.chain_tips(Some(from)),
        explorer.miner.status(),
        explorer.wallet.view(),
        my_addresses(explorer),
    );
    let mut tree: Vec<TreeBlock> = blocks?
        .iter()
        .map(|view| TreeBlock {
            hash: view.hash,
            height: view.height,
            parent: view.header.prev_hash,
            active: true,
            mine: mined_by(view, &mine),
        })
        .collect();
    // Each side branch from its tip back to the active chain (or to the tree's first height).
    let mut known: HashSet<BlockHash> = tree.iter().map(|b| b.hash).collect();
    for tip in tips? {
        if tip.status == ChainTipStatus::Active {
            continue;
        }
        let mut hash = tip.hash;
        while !known.contains(&hash) {
            let Ok(view) = explorer.peer.block(&hash).await else {
                break;
            };
            // (The chain may have moved since: a block of the branch may be active now.)
            if view.in_active_chain || view.height < from {
                break;
            }
            known.insert(view.hash);
            hash = view.header.prev_hash;
            tree.push(TreeBlock {
                hash: view.hash,
                height: view.height,
                parent: view.header.prev_hash,
                active: false,
                mine: mined_by(&view, &mine),
            });
        }
    }
    Ok(pages::Race {
        chain,
        peers: peers?,
        blocks: tree,
        miner: miner.ok(),
        wallet: wallet.ok(),
    })
}

async fn race(req: HttpRequest, explorer: web::Data<Explorer>) -> HttpResponse {
    let ctx = Ctx::of(&req);
    let data = fetch!(ctx, fetch_race(&explorer));
    ctx.page(pages::race(ctx.lang, &ctx.here, &data))
}

async fn race_live(req: HttpRequest, explorer: web::Data<Explorer>) -> HttpResponse {
    let ctx = Ctx::of(&req);
    let data = fetch!(ctx, fetch_race(&explorer));
    let mut response = ctx.page(pages::race_live(ctx.lang, &data));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, "no-store".parse().expect("a header value"));
    response
}

/// The peer's events, relayed to a browser (Server-Sent Events).
async fn live(explorer: web::Data<Explorer>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(browser_stream(explorer.live.subscribe()))
}

async fn block(
    req: HttpRequest,
    explorer: web::Data<Explorer>,
    hash: web::Path<String>,
) -> HttpResponse {
    let ctx = Ctx::of(&req);
    let Ok(hash) = hash.parse::<BlockHash>() else {
        return ctx.bad_request(&format!("{:?} is not a block hash (64 hex digits)", *hash));
    };
    let (view, mine) = tokio::join!(explorer.peer.block(&hash), my_addresses(&explorer));
    let view = match view {
        Ok(view) => view,
        Err(err) => return ctx.failed(&err),
    };
    let decoded: Block = match view.block() {
        Ok(block) => block,
        Err(err) => {
            return ctx.failed(&ClientError::BadBody {
                url: explorer.peer.base_url().to_owned(),
                reason: err.to_string(),
            });
        }
    };
    let params = explorer.network.params();
    let target = decoded
        .header
        .bits
        .target()
        .map(|target| format!("{target:064x}"))
        .map_err(|err| err.to_string());
    let merkle = if decoded.transactions.len() <= MAX_MERKLE_DRAWN {
        let leaves: Vec<[u8; 32]> = decoded.wtxids().iter().map(|w| w.0).collect();
        merkle_levels(&leaves)
            .into_iter()
            .map(|level| {
                level
                    .into_iter()
                    .map(|node| mycoin_core::MerkleNode(node).to_string())
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    let page = pages::BlockPage {
        pow_ok: check_proof_of_work(&decoded, &params).is_ok(),
        target,
        merkle,
        mine: mined_by(&view, &mine),
        view,
    };
    ctx.page(pages::block(ctx.lang, &ctx.here, &page))
}

async fn transaction(
    req: HttpRequest,
    explorer: web::Data<Explorer>,
    txid: web::Path<String>,
) -> HttpResponse {
    let ctx = Ctx::of(&req);
    let Ok(txid) = txid.parse::<Txid>() else {
        return ctx.bad_request(&format!("{:?} is not a txid (64 hex digits)", *txid));
    };
    let peer = &explorer.peer;
    let info = fetch!(ctx, peer.transaction(&txid));
    let tx: Transaction = match decode_hex(&info.hex) {
        Ok(tx) => tx,
        Err(err) => {
            return ctx.failed(&ClientError::BadBody {
                url: peer.base_url().to_owned(),
                reason: err.to_string(),
            });
        }
    };
    let tip = fetch!(ctx, peer.chain()).height;
    let confirmed = info.status.state == TxState::Confirmed;
    // The height the inputs are judged at: the block's, or the next block's for the mempool.
    let spend_height = info.status.height.filter(|_| confirmed).unwrap_or(tip + 1);

    // The outputs the inputs spend, from their transactions.
    let mut coins: HashMap<OutPoint, Coin> = HashMap::new();
    let mut previous: HashMap<Txid, Transaction> = HashMap::new();
    for input in &tx.inputs {
        let TxIn::Spend { prevout, .. } = input else {
            continue;
        };
        if !previous.contains_key(&prevout.txid)
            && let Ok(prev) = peer.transaction(&prevout.txid).await
            && let Ok(decoded) = decode_hex::<Transaction>(&prev.hex)
        {
            let height = prev.status.height.unwrap_or(tip + 1);
            for (index, output) in decoded.outputs.iter().enumerate() {
                let coin = Coin {
                    output: *output,
                    height,
                    is_coinbase: decoded.is_coinbase(),
                };
                coins.insert(OutPoint::new(prevout.txid, index as u32), coin);
            }
            previous.insert(prevout.txid, decoded);
        }
    }
    let params = explorer.network.params();
    let inputs: Vec<InputRow> = tx
        .inputs
        .iter()
        .enumerate()
        .map(|(index, input)| match input {
            TxIn::Coinbase { .. } => InputRow {
                spends: None,
                address: None,
                amount: None,
                verdict: InputVerdict::Coinbase,
            },
            TxIn::Spend { prevout, .. } => {
                let coin = coins.get(prevout);
                let verdict = match check_input(input, index, &txid, &coins, spend_height, &params)
                {
                    Ok(_) => InputVerdict::Valid,
                    Err(TxError::MissingInput { .. }) => InputVerdict::Unknown,
                    Err(TxError::WrongKey { .. }) => InputVerdict::KeyMismatch,
                    Err(
                        TxError::BadSignature { .. }
                        | TxError::MalformedSignature { .. }
                        | TxError::MalformedPublicKey { .. },
                    ) => InputVerdict::BadSignature,
                    Err(other) => InputVerdict::Broken(other.code()),
                };
                InputRow {
                    spends: Some((prevout.txid, prevout.index)),
                    address: coin
                        .map(|c| Address::new(explorer.network, c.output.pubkey_hash).to_string()),
                    amount: coin.map(|c| c.output.amount.units()),
                    verdict,
                }
            }
        })
        .collect();
    let fee = if tx.is_coinbase() {
        None
    } else {
        let spent: Option<u64> = inputs.iter().map(|row| row.amount).sum();
        let paid: u64 = tx.outputs.iter().map(|o| o.amount.units()).sum();
        spent.and_then(|spent| spent.checked_sub(paid))
    };
    // Where each output went, from the peer in one call.
    let outputs = match peer.outspends(&txid).await {
        Ok(outspends) if outspends.len() == tx.outputs.len() => {
            outspends.iter().map(output_state).collect()
        }
        Ok(_) | Err(_) => vec![OutputState::Unknown; tx.outputs.len()],
    };
    let proof = if let (true, Some(block)) = (confirmed, info.status.block_hash) {
        proof_rows(peer, &txid, &tx, block).await
    } else {
        None
    };
    let page = pages::TxPage {
        info,
        inputs,
        outputs,
        fee,
        proof,
    };
    ctx.page(pages::transaction(ctx.lang, &ctx.here, &page))
}

/// An output's state, from the peer's answer.
fn output_state(outspend: &OutspendView) -> OutputState {
    match (outspend.spent, outspend.txid, &outspend.status) {
        (false, ..) => OutputState::Unspent,
        (true, Some(txid), Some(status)) => OutputState::Spent {
            txid,
            vin: outspend.vin.unwrap_or_default(),
            in_mempool: status.state == TxState::Mempool,
        },
        (true, ..) => OutputState::Unknown,
    }
}

/// The Merkle proof of `tx` in `block`, climbed by mycoin-core, and the header's root.
async fn proof_rows(
    peer: &PeerClient,
    txid: &Txid,
    tx: &Transaction,
    block: BlockHash,
) -> Option<ProofRows> {
    let view = peer.merkle_proof(txid).await.ok()?;
    let proof = view.proof();
    let (steps, root) = proof_path(&tx.wtxid(), &proof).ok()?;
    let header_root = peer
        .block_header(&block)
        .await
        .ok()
        .map(|header| header.merkle_root);
    Some(ProofRows {
        block: view.block_hash,
        position: proof.position,
        steps,
        root,
        header_root,
    })
}

/// Query of an address page: the history's page.
#[derive(Debug, Deserialize)]
struct AddressQuery {
    after: Option<String>,
}

async fn address(
    req: HttpRequest,
    explorer: web::Data<Explorer>,
    address: web::Path<String>,
) -> HttpResponse {
    let ctx = Ctx::of(&req);
    let Ok(address) = Address::parse_for(&address, explorer.network) else {
        return ctx.bad_request(&format!(
            "{:?} is not an address of this network",
            address.as_str()
        ));
    };
    let query = match web::Query::<AddressQuery>::from_query(req.query_string()) {
        Ok(query) => query.into_inner(),
        Err(err) => return ctx.bad_request(&err.to_string()),
    };
    let after = match query.after.as_deref().map(str::parse::<Txid>) {
        None => None,
        Some(Ok(txid)) => Some(txid),
        Some(Err(_)) => return ctx.bad_request("after is not a txid (64 hex digits)"),
    };
    let peer = &explorer.peer;
    let (info, balance, utxos, history) = tokio::join!(
        peer.address(&address),
        peer.balance(&address),
        peer.utxos(&address),
        peer.address_transactions(&address, after.as_ref(), Some(HISTORY_PAGE)),
    );
    let (info, balance, utxos, history) = match (info, balance, utxos, history) {
        (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
        (Err(err), ..) | (_, Err(err), ..) | (_, _, Err(err), _) | (.., Err(err)) => {
            return ctx.failed(&err);
        }
    };
    let older = (history.len() == HISTORY_PAGE as usize)
        .then(|| history.last())
        .flatten()
        .map(|last| format!("{}?after={}", path::address(&address), last.txid));
    let page = pages::AddressPage {
        info,
        balance,
        utxos,
        history,
        older,
    };
    ctx.page(pages::address(ctx.lang, &ctx.here, &page))
}

async fn mempool(req: HttpRequest, explorer: web::Data<Explorer>) -> HttpResponse {
    let ctx = Ctx::of(&req);
    let pool = fetch!(ctx, explorer.peer.mempool());
    ctx.page(pages::mempool(ctx.lang, &ctx.here, &pool))
}

async fn peers(req: HttpRequest, explorer: web::Data<Explorer>) -> HttpResponse {
    let ctx = Ctx::of(&req);
    let peers = fetch!(ctx, explorer.peer.peers());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    ctx.page(pages::peers(ctx.lang, &ctx.here, &peers, now))
}

async fn chart_page(req: HttpRequest, explorer: web::Data<Explorer>) -> HttpResponse {
    let ctx = Ctx::of(&req);
    let tip = fetch!(ctx, explorer.peer.chain()).height;
    let from = tip.saturating_sub(chart::CHART_BLOCKS - 1);
    // One header more, before the first, for the first interval.
    let start = from.saturating_sub(1);
    let headers = fetch!(ctx, explorer.peer.headers(start, Some(tip - start + 1)));
    let (before, shown) = if start < from {
        (headers.first(), headers.get(1..).unwrap_or_default())
    } else {
        (None, &headers[..])
    };
    let points = chart::points(from, before, shown);
    match chart::draw(ctx.lang, &points) {
        Ok(svg) => ctx.page(pages::chart(ctx.lang, &ctx.here, &svg)),
        Err(err) => ctx.error(StatusCode::INTERNAL_SERVER_ERROR, "chart", &err),
    }
}

/// Query of `GET /search`.
#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn search(req: HttpRequest, explorer: web::Data<Explorer>) -> HttpResponse {
    let ctx = Ctx::of(&req);
    let query = match web::Query::<SearchQuery>::from_query(req.query_string()) {
        Ok(query) => query.into_inner(),
        Err(err) => return ctx.bad_request(&err.to_string()),
    };
    let q = query.q.unwrap_or_default();
    let q = q.trim();
    let found = |location: String| {
        HttpResponse::SeeOther()
            .insert_header((LOCATION, location))
            .finish()
    };
    if q.is_empty() {
        return found(path::RACE.to_owned());
    }
    let peer = &explorer.peer;
    if q.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(height) = q.parse::<u32>()
            && let Ok(block) = peer.block_at(height).await
        {
            return found(path::block(&block.hash));
        }
    } else if q.len() == 64 && q.bytes().all(|b| b.is_ascii_hexdigit()) {
        if let Ok(hash) = q.parse::<BlockHash>()
            && peer.block(&hash).await.is_ok()
        {
            return found(path::block(&hash));
        }
        if let Ok(txid) = q.parse::<Txid>()
            && peer.transaction(&txid).await.is_ok()
        {
            return found(path::transaction(&txid));
        }
    } else if let Ok(address) = Address::parse_for(q, explorer.network) {
        return found(path::address(&address));
    }
    let t = ctx.lang.text();
    ctx.error(
        StatusCode::NOT_FOUND,
        t.search_title,
        &format!("{}: {q}", t.search_none),
    )
}

/// The explorer's own script: the live parts of the race.
async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .body(include_str!("../../static/live.js"))
}

async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/css; charset=utf-8"))
        .body(include_str!("../../static/style.css"))
}
