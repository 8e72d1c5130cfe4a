//! The pages, rendered on the server with maud (which escapes every value put in the markup:
//! whatever comes from the chain or a peer shows as text). Each page is a function of the data
//! its handler fetched and of the language; nothing here calls another service.

use std::collections::HashMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use mycoin_api::miner::MinerStatus;
use mycoin_api::paths::explorer as path;
use mycoin_api::peer::{
    AddressInfo, AddressTxView, Balance, BlockView, ChainInfo, MempoolView, PeerView,
    TransactionInfo, TxInputView, TxState, TxStatus, UtxoView,
};
use mycoin_api::wallet::WalletView;
use mycoin_core::{Amount, BlockHash, MerkleRoot, ProofStep, Txid};

use crate::i18n::{Lang, Text};

/// The amount of `units` in coins, with the unit.
pub fn coins(units: u64) -> String {
    match Amount::from_units(units) {
        Ok(amount) => format!("{} MYC", amount.to_coins_string()),
        Err(_) => format!("{units} units"),
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// The first and last characters of a long hash, for tight places (the full one is in the link
/// and its title).
fn short(text: &str) -> String {
    if text.len() <= 16 {
        return text.to_owned();
    }
    format!("{}…{}", &text[..8], &text[text.len() - 6..])
}

/// Where a page is, for the language switch: its path and query without `lang`.
#[derive(Debug, Clone)]
pub struct Here(pub String);

impl Here {
    /// The link to this page in `lang`.
    fn in_lang(&self, lang: Lang) -> String {
        let separator = if self.0.contains('?') { '&' } else { '?' };
        format!("{}{separator}lang={}", self.0, lang.code())
    }
}

/// The frame of every page: title, navigation, search, the language switch.
pub fn layout(lang: Lang, here: &Here, title: &str, body: Markup) -> Markup {
    let t = lang.text();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (t.site) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(path::STYLE);
                script src=(path::SCRIPT) defer {}
            }
            body {
                header {
                    nav {
                        a.brand href=(path::RACE) { (t.site) }
                        a href=(path::RACE) { (t.nav_race) }
                        a href=(path::MEMPOOL) { (t.nav_mempool) }
                        a href=(path::PEERS) { (t.nav_peers) }
                        a href=(path::CHART) { (t.nav_chart) }
                    }
                    form.search action=(path::SEARCH) method="get" {
                        input type="search" name="q" placeholder=(t.search_placeholder)
                            aria-label=(t.search_title);
                        button type="submit" { (t.search_button) }
                    }
                    div.lang aria-label=(t.language) {
                        @for other in Lang::ALL {
                            @if other == lang {
                                strong { (other.code()) }
                            } @else {
                                a id={ "lang-" (other.code()) } href=(here.in_lang(other)) hreflang=(other.code()) { (other.code()) }
                            }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// An error page's body.
pub fn error_body(message: &str) -> Markup {
    html! { p.error { (message) } }
}

// ---------------------------------------------------------------------------------------------
// The race

/// A block of the fork tree.
#[derive(Debug, Clone)]
pub struct TreeBlock {
    pub hash: BlockHash,
    pub height: u32,
    pub parent: BlockHash,
    /// Whether it is in the active chain.
    pub active: bool,
    /// Whether this wallet's keys got its reward.
    pub mine: bool,
}

/// Everything the race shows.
#[derive(Debug, Clone)]
pub struct Race {
    pub chain: ChainInfo,
    pub peers: Vec<PeerView>,
    /// The active chain's last blocks and the side blocks at those heights.
    pub blocks: Vec<TreeBlock>,
    pub miner: Option<MinerStatus>,
    pub wallet: Option<WalletView>,
}

/// The race page: the live part inside its frame, which the script refreshes.
pub fn race(lang: Lang, here: &Here, data: &Race) -> Markup {
    let t = lang.text();
    let body = html! {
        p { (t.race_intro) }
        p.live-state {
            span #live-status data-on=(t.live_on) data-off=(t.live_off) { (t.live_off) }
            " — " (t.live_note)
        }
        div #live data-src=(path::RACE_LIVE) data-events=(path::LIVE) {
            (race_live(lang, data))
        }
    };
    layout(lang, here, t.race_title, body)
}

/// The part of the race that changes: tips, fork tree, miner, mempool.
pub fn race_live(lang: Lang, data: &Race) -> Markup {
    let t = lang.text();
    let chain = &data.chain;
    html! {
        section.tips {
            h2 { (t.this_node) }
            dl {
                dt { (t.tip) } dd #tip-hash { a href=(path::block(&chain.tip)) { code { (chain.tip) } } }
                dt { (t.height) } dd #tip-height { (chain.height) }
                dt { (t.mempool_size) } dd #mempool-size { (chain.mempool_size) }
                dt { (t.miner) } dd #miner {
                    @match &data.miner {
                        Some(miner) => {
                            (if miner.running { t.mining } else { t.not_mining }) " · "
                            (t.hash_rate) " " span #hash-rate { (format!("{:.0}", miner.hash_rate)) " H/s" } " · "
                            (t.blocks_found) " " span #blocks-found { (miner.blocks_found) }
                        }
                        None => { (t.unavailable) }
                    }
                }
                dt { (t.wallet_balance) } dd #wallet-balance {
                    @match &data.wallet {
                        Some(wallet) => { (coins(wallet.balance.confirmed)) }
                        None => { (t.unavailable) }
                    }
                }
            }
            h2 { (t.peer_tips) }
            @if data.peers.is_empty() {
                p { (t.no_peers) }
            } @else {
                table #peer-tips {
                    thead { tr { th { (t.url) } th { (t.height) } th { (t.tip) } } }
                    tbody {
                        @for peer in &data.peers {
                            tr {
                                td.url { (peer.url) }
                                td { @if let Some(height) = peer.height { (height) } @else { "—" } }
                                td {
                                    @match &peer.tip {
                                        Some(tip) => { a.peer-tip href=(path::block(tip)) title=(tip) { code { (short(&tip.to_string())) } } }
                                        None => { (t.never_reached) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.tree {
            h2 { (t.fork_tree) }
            p.note { (t.fork_tree_note) }
            (fork_tree(lang, &data.blocks))
            ul.legend {
                li { span.swatch.mine {} (t.legend_mine) }
                li { span.swatch.other {} (t.legend_other) }
                li { span.swatch.side {} (t.legend_side) }
            }
        }
    }
}

/// Where each block of the tree goes: its column (height) and row (0: the active chain).
fn tree_rows(blocks: &[TreeBlock]) -> HashMap<BlockHash, usize> {
    let mut rows: HashMap<BlockHash, usize> = HashMap::new();
    // Taken cells, (row, height).
    let mut taken: std::collections::HashSet<(usize, u32)> = std::collections::HashSet::new();
    for block in blocks.iter().filter(|b| b.active) {
        rows.insert(block.hash, 0);
        taken.insert((0, block.height));
    }
    let mut side: Vec<&TreeBlock> = blocks.iter().filter(|b| !b.active).collect();
    side.sort_by_key(|b| (b.height, b.hash));
    let mut next_row = 1;
    for block in side {
        // A branch continues on its parent's row when the cell is free.
        let row = match rows.get(&block.parent) {
            Some(&row) if row > 0 && !taken.contains(&(row, block.height)) => row,
            _ => {
                next_row += 1;
                next_row - 1
            }
        };
        rows.insert(block.hash, row);
        taken.insert((row, block.height));
    }
    rows
}

/// The fork tree as SVG: one box per block, a line to its parent; the active chain on top.
pub fn fork_tree(lang: Lang, blocks: &[TreeBlock]) -> Markup {
    let t = lang.text();
    const W: u32 = 46;
    const BOX_W: u32 = 38;
    const BOX_H: u32 = 24;
    const ROW_H: u32 = 40;
    const TOP: u32 = 22;
    let Some(from) = blocks.iter().map(|b| b.height).min() else {
        return html! {};
    };
    let to = blocks.iter().map(|b| b.height).max().unwrap_or(from);
    let rows = tree_rows(blocks);
    let row_count = rows.values().copied().max().unwrap_or(0) + 1;
    let x = |height: u32| 6 + (height - from) * W;
    let y = |row: usize| TOP + row as u32 * ROW_H;
    let width = x(to) + BOX_W + 6;
    let height = y(row_count) + 4;
    let by_hash: HashMap<BlockHash, &TreeBlock> = blocks.iter().map(|b| (b.hash, b)).collect();
    html! {
        svg #fork-tree xmlns="http://www.w3.org/2000/svg" width=(width) height=(height)
            viewBox={ "0 0 " (width) " " (height) } role="img" aria-label=(t.fork_tree) {
            // Height labels above the columns.
            @for h in from..=to {
                @if (h - from) % 5 == 0 || h == to {
                    text.axis x=(x(h) + BOX_W / 2) y="12" text-anchor="middle" { (h) }
                }
            }
            @for block in blocks {
                @if let Some(parent) = by_hash.get(&block.parent) {
                    line.edge.(if block.active { "active" } else { "side" })
                        x1=(x(parent.height) + BOX_W) y1=(y(rows[&parent.hash]) + BOX_H / 2)
                        x2=(x(block.height)) y2=(y(rows[&block.hash]) + BOX_H / 2) {}
                }
            }
            @for block in blocks {
                @let class = format!(
                    "block {} {}",
                    if block.mine { "mine" } else { "other" },
                    if block.active { "active" } else { "side" }
                );
                a href=(path::block(&block.hash)) {
                    g class=(class) data-hash=(block.hash) data-height=(block.height) {
                        title {
                            (t.height) " " (block.height) " · " (block.hash) " · "
                            (if block.mine { t.mined_by_me } else { t.mined_by_other })
                            @if !block.active { " · " (t.legend_side) }
                        }
                        rect x=(x(block.height)) y=(y(rows[&block.hash])) width=(BOX_W) height=(BOX_H) rx="4" {}
                        // The hash's last digits: its first ones are the proof of work's zeros.
                        text x=(x(block.height) + BOX_W / 2) y=(y(rows[&block.hash]) + 16) text-anchor="middle" {
                            (block.hash.to_string()[60..])
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A block

/// Everything a block page shows.
#[derive(Debug, Clone)]
pub struct BlockPage {
    pub view: BlockView,
    /// The target `bits` stands for, 64 hex digits (or why it stands for none).
    pub target: Result<String, String>,
    /// Whether the hash is at most the target.
    pub pow_ok: bool,
    /// The Merkle tree's levels, leaves first (empty above 64 transactions).
    pub merkle: Vec<Vec<String>>,
    /// Whether this wallet's keys got the reward.
    pub mine: bool,
}

/// The block page.
pub fn block(lang: Lang, here: &Here, page: &BlockPage) -> Markup {
    let t = lang.text();
    let view = &page.view;
    let header = &view.header;
    let title = format!("{} {}", t.block_title, view.height);
    let body = html! {
        p #block-status {
            code #block-hash { (view.hash) } " — "
            (if view.in_active_chain { t.active_chain } else { t.side_branch })
            " · " (t.confirmations) " " (view.confirmations)
            " · " (t.miner) ": " (if page.mine { t.mined_by_me } else { t.mined_by_other })
        }
        p.pager {
            @if view.height > 0 {
                a rel="prev" href=(path::block(&header.prev_hash)) { "← " (t.previous) }
            }
        }
        table.fields {
            thead { tr { th { (t.field) } th { (t.value) } th { (t.meaning) } } }
            tbody {
                tr { th { "hash" } td { code { (view.hash) } } td { (t.f_hash) } }
                tr { th { "version" } td { (header.version) } td { (t.f_version) } }
                tr { th { "prev_hash" } td { a href=(path::block(&header.prev_hash)) { code { (header.prev_hash) } } } td { (t.f_prev_hash) } }
                tr { th { "merkle_root" } td { code { (header.merkle_root) } } td { (t.f_merkle_root) } }
                tr { th { "time" } td { (header.time) br; small { (utc(u64::from(header.time))) } } td { (t.f_time) } }
                tr { th { "bits" } td { code { (header.bits) } } td { (t.f_bits) } }
                tr { th { "target" } td { code { (page.target.as_deref().unwrap_or_else(|e| e)) } } td { (t.f_target) } }
                tr { th { "nonce" } td { (header.nonce) } td { (t.f_nonce) } }
                tr { th { "size" } td { (view.size) } td { (t.f_size) } }
            }
        }
        section #pow {
            h2 { (t.pow_title) }
            p.note { (t.pow_note) }
            pre.pow {
                "hash   " (format!("{:0>64}", view.hash.to_string())) "\n"
                "target " (page.target.as_deref().unwrap_or("?"))
            }
            p.(if page.pow_ok { "ok" } else { "bad" }) { (if page.pow_ok { t.pow_ok } else { t.pow_bad }) }
        }
        section #merkle {
            h2 { (t.merkle_title) }
            p.note { (t.merkle_note) }
            @if page.merkle.is_empty() {
                p { (t.merkle_too_big) }
            } @else {
                (merkle_tree(&page.merkle))
            }
        }
        section #transactions {
            h2 { (t.transactions) " (" (view.transactions.len()) ")" }
            table {
                thead { tr { th { "txid" } th { (t.inputs) } th { (t.outputs) } th { (t.amount) } th { (t.size_bytes) } } }
                tbody {
                    @for tx in &view.transactions {
                        tr {
                            td { a.txid href=(path::transaction(&tx.txid)) { code { (short(&tx.txid.to_string())) } } @if tx.coinbase { " " small { (t.coinbase) } } }
                            td { (tx.inputs.len()) }
                            td { (tx.outputs.len()) }
                            td { (coins(tx.outputs.iter().map(|o| o.amount).sum())) }
                            td { (tx.size) }
                        }
                    }
                }
            }
        }
    };
    layout(lang, here, &title, body)
}

/// The Merkle tree as SVG, the root on top, each node labelled with its first hex digits.
fn merkle_tree(levels: &[Vec<String>]) -> Markup {
    const NODE_W: u32 = 64;
    const NODE_H: u32 = 22;
    const GAP: u32 = 8;
    const ROW_H: u32 = 44;
    let leaves = levels.first().map_or(1, Vec::len) as u32;
    let width = leaves * (NODE_W + GAP) + GAP;
    let depth = levels.len() as u32;
    let height = depth * ROW_H;
    // A node's centre: leaves evenly spaced, each parent above the middle of its children.
    let mut centres: Vec<Vec<u32>> = Vec::new();
    for (level, nodes) in levels.iter().enumerate() {
        let row: Vec<u32> = if level == 0 {
            (0..nodes.len() as u32)
                .map(|i| GAP + i * (NODE_W + GAP) + NODE_W / 2)
                .collect()
        } else {
            let below = &centres[level - 1];
            (0..nodes.len())
                .map(|i| {
                    let left = below[2 * i];
                    let right = *below.get(2 * i + 1).unwrap_or(&left);
                    (left + right) / 2
                })
                .collect()
        };
        centres.push(row);
    }
    // The root at the top.
    let y = |level: usize| (depth - 1 - level as u32) * ROW_H + 6;
    html! {
        svg #merkle-tree xmlns="http://www.w3.org/2000/svg" width=(width) height=(height)
            viewBox={ "0 0 " (width) " " (height) } role="img" {
            @for (level, row) in centres.iter().enumerate().skip(1) {
                @for (i, centre) in row.iter().enumerate() {
                    @for child in [2 * i, 2 * i + 1] {
                        @if let Some(below) = centres[level - 1].get(child).or_else(|| centres[level - 1].get(2 * i)) {
                            line.edge x1=(centre) y1=(y(level) + NODE_H) x2=(below) y2=(y(level - 1)) {}
                        }
                    }
                }
            }
            @for (level, nodes) in levels.iter().enumerate() {
                @for (i, node) in nodes.iter().enumerate() {
                    g.node.(if level == 0 { "leaf" } else if level + 1 == levels.len() { "root" } else { "inner" }) {
                        title { (node) }
                        rect x=(centres[level][i] - NODE_W / 2) y=(y(level)) width=(NODE_W) height=(NODE_H) rx="3" {}
                        text x=(centres[level][i]) y=(y(level) + 15) text-anchor="middle" { (node[..8]) }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A transaction

/// What the book's verify.py says of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputVerdict {
    /// A coinbase input: new coins.
    Coinbase,
    /// The spent output is not found.
    Unknown,
    /// The key owns the output and the signature is valid.
    Valid,
    /// The key does not hash to the output's address.
    KeyMismatch,
    /// The signature does not verify (or the key or signature is malformed).
    BadSignature,
    /// Another rule broken (e.g. an immature coinbase), by its code.
    Broken(&'static str),
}

/// One input, checked.
#[derive(Debug, Clone)]
pub struct InputRow {
    /// The output it spends, `txid:vout` and its transaction.
    pub spends: Option<(Txid, u32)>,
    /// The spent output's address and amount, when found.
    pub address: Option<String>,
    pub amount: Option<u64>,
    pub verdict: InputVerdict,
}

/// Where an output went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputState {
    Unspent,
    /// Spent by input `vin` of `txid`, which is in the mempool or in the active chain.
    Spent {
        txid: Txid,
        vin: u32,
        in_mempool: bool,
    },
    /// Not known (the lookup failed).
    Unknown,
}

/// The Merkle proof, climbed.
#[derive(Debug, Clone)]
pub struct ProofRows {
    pub block: BlockHash,
    pub position: u32,
    pub steps: Vec<ProofStep>,
    pub root: MerkleRoot,
    pub header_root: Option<MerkleRoot>,
}

/// Everything a transaction page shows.
#[derive(Debug, Clone)]
pub struct TxPage {
    pub info: TransactionInfo,
    pub inputs: Vec<InputRow>,
    pub outputs: Vec<OutputState>,
    pub fee: Option<u64>,
    pub proof: Option<ProofRows>,
}

fn status_line(t: &Text, status: &TxStatus) -> Markup {
    html! {
        @match (status.state, status.block_hash) {
            (TxState::Confirmed, Some(block)) => {
                (t.confirmed_in) " " a href=(path::block(&block)) { (status.height.unwrap_or(0)) }
                " · " (t.confirmations) " " span.confirmations { (status.confirmations.unwrap_or(0)) }
            }
            _ => { (t.in_mempool) }
        }
    }
}

/// The transaction page.
pub fn transaction(lang: Lang, here: &Here, page: &TxPage) -> Markup {
    let t = lang.text();
    let tx = &page.info.transaction;
    let body = html! {
        p { code #txid { (page.info.txid) } }
        dl {
            dt { (t.status) } dd #tx-status { (status_line(t, &page.info.status)) }
            dt { (t.fee) } dd #fee { @match page.fee { Some(fee) => { (coins(fee)) } None => { "—" } } }
            dt { (t.size_bytes) } dd { (tx.size) }
        }
        section #inputs {
            h2 { (t.inputs) }
            table {
                thead { tr { th { "#" } th { (t.spends) } th { (t.address) } th { (t.amount) } th { (t.verdict) } } }
                tbody {
                    @for (index, (input, row)) in tx.inputs.iter().zip(&page.inputs).enumerate() {
                        tr {
                            td { (index) }
                            td {
                                @match (input, row.spends) {
                                    (TxInputView::Spend { .. }, Some((txid, vout))) => {
                                        a href=(path::transaction(&txid)) { code { (short(&txid.to_string())) ":" (vout) } }
                                    }
                                    _ => { (t.coinbase_input) }
                                }
                            }
                            td { @if let Some(address) = &row.address { a href=(path::address_raw(address)) { (address) } } }
                            td { @if let Some(amount) = row.amount { (coins(amount)) } }
                            td.verdict {
                                @match row.verdict {
                                    InputVerdict::Coinbase => { (t.coinbase_input) }
                                    InputVerdict::Unknown => { span.bad { (t.input_unknown) } }
                                    InputVerdict::Valid => { span.ok { "✓ " (t.sig_valid) } }
                                    InputVerdict::KeyMismatch => { span.bad { "✗ " (t.key_mismatch) } }
                                    InputVerdict::BadSignature => { span.bad { "✗ " (t.sig_invalid) } }
                                    InputVerdict::Broken(code) => { span.bad { "✗ " code { (code) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
        section #outputs {
            h2 { (t.outputs) }
            table {
                thead { tr { th { "#" } th { (t.address) } th { (t.amount) } th { (t.spent_by) } } }
                tbody {
                    @for (index, (output, state)) in tx.outputs.iter().zip(&page.outputs).enumerate() {
                        tr {
                            td { (index) }
                            td { a href=(path::address_raw(&output.address)) { (output.address) } }
                            td { (coins(output.amount)) }
                            td {
                                @match state {
                                    OutputState::Unspent => { (t.unspent) }
                                    OutputState::Spent { txid, vin, in_mempool } => {
                                        @if *in_mempool { (t.spent_in_mempool) ": " }
                                        a.spent-by href=(path::transaction(txid)) title=(txid) { code { (short(&txid.to_string())) ":" (vin) } }
                                    }
                                    OutputState::Unknown => { "—" }
                                }
                            }
                        }
                    }
                }
            }
        }
        section #proof {
            h2 { (t.proof_title) }
            p.note { (t.proof_note) }
            @match &page.proof {
                None => { p { (t.not_in_block) } }
                Some(proof) => {
                    ol.proof {
                        @for step in &proof.steps {
                            li {
                                "H("
                                @if step.node_on_the_right {
                                    span.sibling title=(t.proof_sibling) { code { (short(&step.sibling.to_string())) } } " ‖ "
                                    span.node { code { (short(&step.node.to_string())) } }
                                } @else {
                                    span.node { code { (short(&step.node.to_string())) } } " ‖ "
                                    span.sibling title=(t.proof_sibling) { code { (short(&step.sibling.to_string())) } }
                                }
                                ")"
                            }
                        }
                        li.root { (t.proof_root) " " code { (proof.root) } }
                    }
                    p.(if proof.header_root == Some(proof.root) { "ok" } else { "bad" }) {
                        @if proof.header_root == Some(proof.root) { "✓ " (t.proof_matches) } @else { "✗ " (t.proof_differs) }
                    }
                    p.note { (t.proof_leaf) " #" (proof.position) " · " a href=(path::block(&proof.block)) { (t.block_title) } }
                }
            }
        }
    };
    layout(lang, here, t.tx_title, body)
}

// ---------------------------------------------------------------------------------------------
// An address, the mempool, the peers, the chart

/// Everything an address page shows.
#[derive(Debug, Clone)]
pub struct AddressPage {
    pub info: AddressInfo,
    pub balance: Balance,
    pub utxos: Vec<UtxoView>,
    pub history: Vec<AddressTxView>,
    /// The link to the next (older) page of the history, when there is one.
    pub older: Option<String>,
}

/// The address page.
pub fn address(lang: Lang, here: &Here, page: &AddressPage) -> Markup {
    let t = lang.text();
    let b = &page.balance;
    let body = html! {
        p { code #address { (page.info.address) } }
        section #balance {
            h2 { (t.balance) }
            dl {
                dt { (t.confirmed) } dd #confirmed { (coins(b.confirmed)) }
                dt { (t.immature) } dd { (coins(b.immature)) }
                dt { (t.pending_in) } dd { (coins(b.pending_in)) }
                dt { (t.pending_out) } dd { (coins(b.pending_out)) }
                dt { (t.transactions) } dd { (page.info.chain_stats.tx_count) " + " (page.info.mempool_stats.tx_count) }
            }
        }
        section #history {
            h2 { (t.history) }
            @if page.history.is_empty() {
                p { (t.nothing) }
            } @else {
                table {
                    thead { tr { th { "txid" } th { (t.status) } th { (t.received) } th { (t.sent) } th { (t.net) } } }
                    tbody {
                        @for entry in &page.history {
                            tr {
                                td { a href=(path::transaction(&entry.txid)) { code { (short(&entry.txid.to_string())) } } }
                                td { (status_line(t, &entry.status)) }
                                td { (coins(entry.received)) }
                                td { (coins(entry.sent)) }
                                td { (if entry.net < 0 { "−" } else { "+" }) (coins(entry.net.unsigned_abs())) }
                            }
                        }
                    }
                }
                @if let Some(older) = &page.older {
                    p.pager { a rel="next" href=(older) { (t.older) " →" } }
                }
            }
        }
        section #utxos {
            h2 { (t.utxos) }
            @if page.utxos.is_empty() {
                p { (t.nothing) }
            } @else {
                table {
                    thead { tr { th { (t.outpoint) } th { (t.amount) } th { (t.height) } th { (t.mature) } } }
                    tbody {
                        @for utxo in &page.utxos {
                            tr {
                                td { a href=(path::transaction(&utxo.txid)) { code { (short(&utxo.txid.to_string())) ":" (utxo.vout) } } }
                                td { (coins(utxo.amount)) }
                                td { (utxo.height) }
                                td { (if utxo.mature { t.yes } else { t.no }) @if utxo.spent_in_mempool { " · " (t.spent_in_mempool) } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(lang, here, t.address_title, body)
}

/// The mempool page.
pub fn mempool(lang: Lang, here: &Here, pool: &MempoolView) -> Markup {
    let t = lang.text();
    let body = html! {
        p.note { (t.mempool_note) }
        dl {
            dt { (t.transactions) } dd #mempool-count { (pool.count) }
            dt { (t.bytes) } dd { (pool.bytes) " / " (pool.max_bytes) }
            dt { (t.min_fee_rate) } dd { (pool.min_fee_rate_per_kb) }
        }
        @if pool.transactions.is_empty() {
            p { (t.nothing) }
        } @else {
            table {
                thead { tr { th { "txid" } th { (t.fee) } th { (t.size_bytes) } } }
                tbody {
                    @for entry in &pool.transactions {
                        tr {
                            td { a href=(path::transaction(&entry.txid)) { code { (entry.txid) } } }
                            td { (coins(entry.fee)) }
                            td { (entry.size) }
                        }
                    }
                }
            }
        }
    };
    layout(lang, here, t.mempool_title, body)
}

/// The peers page: each peer with its state and penalties. A peer's URL is free text: it
/// shows as text, never as markup or a link.
pub fn peers(lang: Lang, here: &Here, peers: &[PeerView], now: u64) -> Markup {
    let t = lang.text();
    let body = html! {
        p.note { (t.peers_note) }
        @if peers.is_empty() {
            p { (t.no_peers) }
        } @else {
            table #peers {
                thead { tr {
                    th { (t.url) } th { (t.state) } th { (t.height) } th { (t.tip) }
                    th { (t.penalty) } th { (t.failures) } th { (t.last_offence) } th { (t.source) }
                } }
                tbody {
                    @for peer in peers {
                        tr {
                            td.url { (peer.url) }
                            td {
                                @if peer.banned_until.is_some_and(|until| until > now) { span.bad { (t.state_banned) } }
                                @else if peer.retry_at.is_some_and(|at| at > now) { (t.state_backing_off) }
                                @else if peer.last_contact.is_some() { span.ok { (t.state_ok) } }
                                @else { (t.state_unknown) }
                            }
                            td { @if let Some(height) = peer.height { (height) } @else { "—" } }
                            td { @if let Some(tip) = &peer.tip { a href=(path::block(tip)) { code { (short(&tip.to_string())) } } } @else { "—" } }
                            td { (peer.penalty) }
                            td { (peer.failures) }
                            td { @if let Some(offence) = &peer.last_offence { (offence) } @else { "—" } }
                            td { (format!("{:?}", peer.source).to_lowercase()) }
                        }
                    }
                }
            }
        }
    };
    layout(lang, here, t.peers_title, body)
}

/// The chart page: the SVG drawn by [`crate::chart`], put in as it is (plotters escapes the
/// text it writes; the labels are the explorer's own).
pub fn chart(lang: Lang, here: &Here, svg: &str) -> Markup {
    let t = lang.text();
    let body = html! {
        p.note { (t.chart_note) }
        figure #chart { (PreEscaped(svg)) }
    };
    layout(lang, here, t.chart_title, body)
}
