//! Japanese and English: the language of a request, and every label and explanation of the
//! pages in both.
//!
//! The language is `?lang=ja|en` when given (the switch on every page; it is then remembered in
//! a cookie), else the `lang` cookie, else the best of `ja` and `en` in `Accept-Language`, else
//! English. Each text is a field of [`Text`], so a label missing in one language does not
//! compile.

use actix_web::HttpRequest;
use actix_web::http::header::{ACCEPT_LANGUAGE, COOKIE};

/// The cookie that remembers the language chosen with the switch.
pub const LANG_COOKIE: &str = "lang";

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// Both, in the order of the switch.
    pub const ALL: [Lang; 2] = [Lang::Ja, Lang::En];

    /// `en` or `ja`: the `lang` attribute, the query and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The language named `code` (`en`, `ja`), if it is one.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// The `Set-Cookie` value that remembers this language for a year.
    pub fn cookie(self) -> String {
        format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            self.code()
        )
    }

    /// The texts in this language.
    pub fn text(self) -> &'static Text {
        match self {
            Lang::En => &EN,
            Lang::Ja => &JA,
        }
    }

    /// The language of `req`, and whether it was chosen by `?lang=` (to be remembered).
    pub fn of_request(req: &HttpRequest) -> (Lang, bool) {
        let query = req.query_string().split('&').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name == "lang").then(|| Lang::from_code(value)).flatten()
        });
        if let Some(lang) = query {
            return (lang, true);
        }
        let cookie = req
            .headers()
            .get_all(COOKIE)
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                (name == LANG_COOKIE)
                    .then(|| Lang::from_code(value))
                    .flatten()
            });
        if let Some(lang) = cookie {
            return (lang, false);
        }
        let accepted = req
            .headers()
            .get(ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .and_then(from_accept_language);
        (accepted.unwrap_or(Lang::En), false)
    }
}

/// The best of Japanese and English in an `Accept-Language` value (`ja,en-US;q=0.8`), by
/// quality, the first listed on a tie; `None` when it names neither.
pub fn from_accept_language(value: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32)> = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let primary = tag.split('-').next().unwrap_or("");
        let Some(lang) = Lang::from_code(primary) else {
            continue;
        };
        let quality = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if quality > 0.0 && best.is_none_or(|(_, q)| quality > q) {
            best = Some((lang, quality));
        }
    }
    best.map(|(lang, _)| lang)
}

/// Every label and explanation of the pages.
#[derive(Debug)]
pub struct Text {
    pub site: &'static str,
    pub language: &'static str,
    pub nav_race: &'static str,
    pub nav_mempool: &'static str,
    pub nav_peers: &'static str,
    pub nav_chart: &'static str,
    pub search_placeholder: &'static str,
    pub search_button: &'static str,
    pub live_on: &'static str,
    pub live_off: &'static str,
    pub live_note: &'static str,
    // The race.
    pub race_title: &'static str,
    pub race_intro: &'static str,
    pub this_node: &'static str,
    pub tip: &'static str,
    pub height: &'static str,
    pub hash: &'static str,
    pub peer_tips: &'static str,
    pub no_peers: &'static str,
    pub never_reached: &'static str,
    pub fork_tree: &'static str,
    pub fork_tree_note: &'static str,
    pub legend_mine: &'static str,
    pub legend_other: &'static str,
    pub legend_side: &'static str,
    pub miner: &'static str,
    pub hash_rate: &'static str,
    pub blocks_found: &'static str,
    pub mining: &'static str,
    pub not_mining: &'static str,
    pub unavailable: &'static str,
    pub mempool_size: &'static str,
    pub wallet_balance: &'static str,
    pub mined_by_me: &'static str,
    pub mined_by_other: &'static str,
    // Blocks.
    pub block_title: &'static str,
    pub active_chain: &'static str,
    pub side_branch: &'static str,
    pub confirmations: &'static str,
    pub field: &'static str,
    pub value: &'static str,
    pub meaning: &'static str,
    pub f_version: &'static str,
    pub f_prev_hash: &'static str,
    pub f_merkle_root: &'static str,
    pub f_time: &'static str,
    pub f_bits: &'static str,
    pub f_target: &'static str,
    pub f_nonce: &'static str,
    pub f_hash: &'static str,
    pub f_size: &'static str,
    pub pow_title: &'static str,
    pub pow_note: &'static str,
    pub pow_ok: &'static str,
    pub pow_bad: &'static str,
    pub merkle_title: &'static str,
    pub merkle_note: &'static str,
    pub merkle_too_big: &'static str,
    pub transactions: &'static str,
    pub coinbase: &'static str,
    pub size_bytes: &'static str,
    pub inputs: &'static str,
    pub outputs: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    // Transactions.
    pub tx_title: &'static str,
    pub status: &'static str,
    pub in_mempool: &'static str,
    pub confirmed_in: &'static str,
    pub fee: &'static str,
    pub address: &'static str,
    pub amount: &'static str,
    pub spends: &'static str,
    pub verdict: &'static str,
    pub sig_valid: &'static str,
    pub sig_invalid: &'static str,
    pub key_mismatch: &'static str,
    pub input_unknown: &'static str,
    pub coinbase_input: &'static str,
    pub spent_by: &'static str,
    pub unspent: &'static str,
    pub spent_in_mempool: &'static str,
    pub proof_title: &'static str,
    pub proof_note: &'static str,
    pub proof_leaf: &'static str,
    pub proof_sibling: &'static str,
    pub proof_root: &'static str,
    pub proof_matches: &'static str,
    pub proof_differs: &'static str,
    pub not_in_block: &'static str,
    // Addresses.
    pub address_title: &'static str,
    pub balance: &'static str,
    pub confirmed: &'static str,
    pub immature: &'static str,
    pub pending_in: &'static str,
    pub pending_out: &'static str,
    pub history: &'static str,
    pub received: &'static str,
    pub sent: &'static str,
    pub net: &'static str,
    pub utxos: &'static str,
    pub outpoint: &'static str,
    pub mature: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub older: &'static str,
    pub nothing: &'static str,
    // Mempool and peers.
    pub mempool_title: &'static str,
    pub mempool_note: &'static str,
    pub bytes: &'static str,
    pub min_fee_rate: &'static str,
    pub peers_title: &'static str,
    pub peers_note: &'static str,
    pub url: &'static str,
    pub source: &'static str,
    pub penalty: &'static str,
    pub failures: &'static str,
    pub last_offence: &'static str,
    pub state: &'static str,
    pub state_ok: &'static str,
    pub state_banned: &'static str,
    pub state_backing_off: &'static str,
    pub state_unknown: &'static str,
    // Chart, search, errors.
    pub chart_title: &'static str,
    pub chart_note: &'static str,
    pub difficulty: &'static str,
    pub interval: &'static str,
    pub seconds: &'static str,
    pub search_title: &'static str,
    pub not_found: &'static str,
    pub search_none: &'static str,
    pub bad_request: &'static str,
    pub upstream_down: &'static str,
}

/// English.
pub static EN: Text = Text {
    site: "mycoin explorer",
    language: "Language",
    nav_race: "The race",
    nav_mempool: "Mempool",
    nav_peers: "Peers",
    nav_chart: "Difficulty",
    search_placeholder: "height, block hash, txid or address",
    search_button: "Search",
    live_on: "live",
    live_off: "not live",
    live_note: "This part updates by itself while the page is open.",
    race_title: "The race",
    race_intro: "Each user's node races to extend the chain. The longest chain (most work) wins; blocks left on a side branch are lost.",
    this_node: "This node",
    tip: "Tip",
    height: "Height",
    hash: "Hash",
    peer_tips: "Each peer's tip",
    no_peers: "No peers yet.",
    never_reached: "never reached",
    fork_tree: "Fork tree (last 30 heights)",
    fork_tree_note: "Left to right by height. The active chain runs along the top row; side branches and orphaned blocks lie below it.",
    legend_mine: "mined by this wallet's keys",
    legend_other: "mined by another user",
    legend_side: "side branch (lost the race)",
    miner: "Miner",
    hash_rate: "Hash rate",
    blocks_found: "Blocks found by this miner",
    mining: "mining",
    not_mining: "not mining",
    unavailable: "unavailable",
    mempool_size: "Transactions in the mempool",
    wallet_balance: "This wallet's balance",
    mined_by_me: "this wallet",
    mined_by_other: "another user",
    block_title: "Block",
    active_chain: "in the active chain",
    side_branch: "on a side branch",
    confirmations: "Confirmations",
    field: "Field",
    value: "Value",
    meaning: "What it is for",
    f_version: "Rules this block follows (always 1).",
    f_prev_hash: "The parent block: this link makes the blocks a chain, so changing an old block breaks every later one.",
    f_merkle_root: "One hash standing for all the transactions: change any transaction and it changes.",
    f_time: "When the miner says it made the block (Unix seconds); it must be after the median of the last 11 blocks.",
    f_bits: "The target in compact form: the block's hash must not exceed it.",
    f_target: "The target bits stands for: the smaller it is, the more hashes a block takes.",
    f_nonce: "The number the miner changed until the hash met the target: the proof of work.",
    f_hash: "sha256d of the 80-byte header: the block's name.",
    f_size: "Bytes of the whole block.",
    pow_title: "Proof of work",
    pow_note: "The hash, read as a 256-bit number, must be at most the target.",
    pow_ok: "hash ≤ target: valid proof of work",
    pow_bad: "hash > target: no proof of work",
    merkle_title: "Merkle tree",
    merkle_note: "Leaves are the hashes of the whole transactions (wtxid); each node hashes the two below it; an odd last node is paired with itself.",
    merkle_too_big: "Drawn for blocks of up to 64 transactions.",
    transactions: "Transactions",
    coinbase: "coinbase",
    size_bytes: "Size (bytes)",
    inputs: "Inputs",
    outputs: "Outputs",
    previous: "Previous",
    next: "Next",
    tx_title: "Transaction",
    status: "Status",
    in_mempool: "waiting in the mempool",
    confirmed_in: "confirmed in block",
    fee: "Fee",
    address: "Address",
    amount: "Amount",
    spends: "Spends",
    verdict: "Verdict (the book's verify.py)",
    sig_valid: "signature valid",
    sig_invalid: "signature INVALID",
    key_mismatch: "key does not own the output",
    input_unknown: "spent output not found",
    coinbase_input: "new coins (block reward)",
    spent_by: "Spent by",
    unspent: "unspent",
    spent_in_mempool: "spent by a mempool transaction",
    proof_title: "Merkle proof",
    proof_note: "The path from this transaction's leaf up to the root in the block's header: each step hashes the node with its sibling.",
    proof_leaf: "leaf (wtxid)",
    proof_sibling: "sibling",
    proof_root: "root",
    proof_matches: "The root matches the block header's Merkle root.",
    proof_differs: "The root does NOT match the block header.",
    not_in_block: "Not in a block yet: no proof.",
    address_title: "Address",
    balance: "Balance",
    confirmed: "Confirmed",
    immature: "Immature (new coinbase)",
    pending_in: "Coming in (mempool)",
    pending_out: "Going out (mempool)",
    history: "History",
    received: "Received",
    sent: "Sent",
    net: "Net",
    utxos: "Unspent outputs",
    outpoint: "Output",
    mature: "Spendable",
    yes: "yes",
    no: "no",
    older: "Older",
    nothing: "Nothing here.",
    mempool_title: "Mempool",
    mempool_note: "Transactions waiting for a block, best fee rate first.",
    bytes: "Bytes",
    min_fee_rate: "Minimum fee rate (units per 1,000 bytes)",
    peers_title: "Peers",
    peers_note: "Other users' nodes this node syncs with. Misbehaviour earns penalty points; past the threshold a peer is ignored for a while.",
    url: "URL",
    source: "Source",
    penalty: "Penalty",
    failures: "Failures in a row",
    last_offence: "Last offence",
    state: "State",
    state_ok: "in contact",
    state_banned: "banned",
    state_backing_off: "backing off",
    state_unknown: "not contacted yet",
    chart_title: "Difficulty and block interval",
    chart_note: "Difficulty is the expected number of hashes per block at each block's target; the interval is the time since the block before.",
    difficulty: "Difficulty (expected hashes)",
    interval: "Block interval",
    seconds: "seconds",
    search_title: "Search",
    not_found: "Not found",
    search_none: "Nothing matches",
    bad_request: "Not a valid request",
    upstream_down: "The node does not answer",
};

/// Japanese.
pub static JA: Text = Text {
    site: "mycoin エクスプローラー",
    language: "言語",
    nav_race: "レース",
    nav_mempool: "メモリプール",
    nav_peers: "ピア",
    nav_chart: "難易度",
    search_placeholder: "高さ・ブロックハッシュ・txid・アドレス",
    search_button: "検索",
    live_on: "ライブ",
    live_off: "停止中",
    live_note: "この部分はページを開いている間、自動で更新されます。",
    race_title: "レース",
    race_intro: "各ユーザーのノードがチェーンを伸ばそうと競争します。最も長い（仕事量の多い）チェーンが勝ち、サイドブランチに残ったブロックは負けです。",
    this_node: "このノード",
    tip: "先端",
    height: "高さ",
    hash: "ハッシュ",
    peer_tips: "各ピアの先端",
    no_peers: "ピアはまだいません。",
    never_reached: "未接続",
    fork_tree: "フォークツリー（直近30の高さ）",
    fork_tree_note: "左から右へ高さ順。上の行がアクティブチェーン、その下がサイドブランチと孤立ブロックです。",
    legend_mine: "このウォレットの鍵が採掘",
    legend_other: "他のユーザーが採掘",
    legend_side: "サイドブランチ（レースに負けた）",
    miner: "マイナー",
    hash_rate: "ハッシュレート",
    blocks_found: "このマイナーが見つけたブロック",
    mining: "採掘中",
    not_mining: "停止中",
    unavailable: "取得できません",
    mempool_size: "メモリプールの取引数",
    wallet_balance: "このウォレットの残高",
    mined_by_me: "このウォレット",
    mined_by_other: "他のユーザー",
    block_title: "ブロック",
    active_chain: "アクティブチェーン上",
    side_branch: "サイドブランチ上",
    confirmations: "承認数",
    field: "項目",
    value: "値",
    meaning: "役割",
    f_version: "このブロックが従う規則（常に1）。",
    f_prev_hash: "親ブロック。このつながりがブロックを鎖にするので、古いブロックを変えると以降すべてが壊れます。",
    f_merkle_root: "すべての取引を代表する1つのハッシュ。どの取引を変えても変わります。",
    f_time: "マイナーが申告する作成時刻（Unix秒）。直近11ブロックの中央値より後でなければなりません。",
    f_bits: "ターゲットの圧縮表現。ブロックのハッシュはこれ以下でなければなりません。",
    f_target: "bits が表すターゲット。小さいほど1ブロックに多くのハッシュ計算が必要です。",
    f_nonce: "ハッシュがターゲットを満たすまでマイナーが変えた数。これがプルーフ・オブ・ワークです。",
    f_hash: "80バイトのヘッダーの sha256d。ブロックの名前です。",
    f_size: "ブロック全体のバイト数。",
    pow_title: "プルーフ・オブ・ワーク",
    pow_note: "ハッシュを256ビットの数として読んだ値がターゲット以下でなければなりません。",
    pow_ok: "ハッシュ ≤ ターゲット：正しいプルーフ・オブ・ワーク",
    pow_bad: "ハッシュ > ターゲット：プルーフ・オブ・ワークなし",
    merkle_title: "マークルツリー",
    merkle_note: "葉は取引全体のハッシュ（wtxid）、各節点は下の2つのハッシュ。奇数個の最後の節点は自分自身と組みます。",
    merkle_too_big: "64取引以下のブロックで描きます。",
    transactions: "取引",
    coinbase: "コインベース",
    size_bytes: "サイズ（バイト）",
    inputs: "入力",
    outputs: "出力",
    previous: "前へ",
    next: "次へ",
    tx_title: "取引",
    status: "状態",
    in_mempool: "メモリプールで待機中",
    confirmed_in: "承認済み：ブロック",
    fee: "手数料",
    address: "アドレス",
    amount: "金額",
    spends: "使う出力",
    verdict: "判定（本の verify.py）",
    sig_valid: "署名は正しい",
    sig_invalid: "署名が正しくない",
    key_mismatch: "鍵が出力の持ち主ではない",
    input_unknown: "使う出力が見つからない",
    coinbase_input: "新しいコイン（ブロック報酬）",
    spent_by: "使った取引",
    unspent: "未使用",
    spent_in_mempool: "メモリプールの取引が使用",
    proof_title: "マークル証明",
    proof_note: "この取引の葉からブロックヘッダーのルートまでの道筋。各段で節点と兄弟をハッシュします。",
    proof_leaf: "葉（wtxid）",
    proof_sibling: "兄弟",
    proof_root: "ルート",
    proof_matches: "ルートはブロックヘッダーのマークルルートと一致します。",
    proof_differs: "ルートがブロックヘッダーと一致しません。",
    not_in_block: "まだブロックに入っていないので証明はありません。",
    address_title: "アドレス",
    balance: "残高",
    confirmed: "確定",
    immature: "未成熟（新しいコインベース）",
    pending_in: "入金予定（メモリプール）",
    pending_out: "出金予定（メモリプール）",
    history: "履歴",
    received: "受取",
    sent: "送金",
    net: "増減",
    utxos: "未使用出力",
    outpoint: "出力",
    mature: "使用可能",
    yes: "はい",
    no: "いいえ",
    older: "さらに古い",
    nothing: "ありません。",
    mempool_title: "メモリプール",
    mempool_note: "ブロックを待つ取引。手数料率の高い順。",
    bytes: "バイト",
    min_fee_rate: "最低手数料率（1,000バイトあたりの単位）",
    peers_title: "ピア",
    peers_note: "このノードが同期する他のユーザーのノード。不正な振る舞いには罰点が付き、閾値を超えると一定時間無視されます。",
    url: "URL",
    source: "出所",
    penalty: "罰点",
    failures: "連続失敗",
    last_offence: "最後の違反",
    state: "状態",
    state_ok: "接続中",
    state_banned: "禁止中",
    state_backing_off: "再試行待ち",
    state_unknown: "未接続",
    chart_title: "難易度とブロック間隔",
    chart_note: "難易度は各ブロックのターゲットで1ブロックに必要なハッシュ数の期待値、間隔は前のブロックからの時間です。",
    difficulty: "難易度（期待ハッシュ数）",
    interval: "ブロック間隔",
    seconds: "秒",
    search_title: "検索",
    not_found: "見つかりません",
    search_none: "該当なし",
    bad_request: "正しいリクエストではありません",
    upstream_down: "ノードが応答しません",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_of_japanese_and_english() {
        assert_eq!(from_accept_language("ja,en;q=0.8"), Some(Lang::Ja));
        assert_eq!(from_accept_language("en-US,ja;q=0.9"), Some(Lang::En));
        assert_eq!(
            from_accept_language("fr, ja-JP;q=0.5, en;q=0.6"),
            Some(Lang::En)
        );
        assert_eq!(from_accept_language("de,fr"), None);
        assert_eq!(from_accept_language("ja;q=0, en;q=0.1"), Some(Lang::En));
        assert_eq!(from_accept_language(""), None);
    }
}
