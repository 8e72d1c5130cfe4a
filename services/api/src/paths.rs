//! The REST paths of the four services, and the explorer's pages, written once.
//!
//! Every caller outside this crate builds a path with these constants and functions (the
//! typed clients of [`crate::client`] do; tests sending deliberately bad bodies use them with a
//! raw [`mycoin_web::RestClient`]). Only a service's own route declarations
//! (`services/<service>/src/routes/`) spell its paths out; the workspace test
//! `rest_paths_live_in_the_api_crate` (services/api/tests/paths.rs) fails on any other literal.
//!
//! Path parameters are typed (an [`Address`], a [`Txid`], a [`BlockHash`]) so a caller cannot
//! put an unchecked string in a path; the `*_raw` builders exist for the tests of invalid
//! input, which must send what no typed value can hold.

use mycoin_core::{Address, BlockHash, Txid};

/// A path with one parameter, written once: the typed builder, and its `*_raw` twin taking any
/// text in the parameter's place (for the tests of invalid input). In the format string the
/// parameter and the module's constants are named inline.
macro_rules! builders {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident, $raw:ident($param:ident: $ty:ty) => $format:literal;
    )*) => {$(
        $(#[doc = $doc])*
        pub fn $name($param: $ty) -> String {
            $raw(&$param.to_string())
        }
        #[doc = concat!(
            "[`", stringify!($name), "`] with any text in place of the ", stringify!($param), "."
        )]
        pub fn $raw($param: &str) -> String {
            format!($format)
        }
    )*};
}

/// The keys service.
pub mod keys {
    use super::*;

    /// `GET /keys` (list) and `POST /keys` (new key).
    pub const KEYS: &str = "/keys";
    /// `POST /keys/import`.
    pub const IMPORT: &str = "/keys/import";
    /// `POST /keys/change`: the next key of the seed's change chain.
    pub const CHANGE: &str = "/keys/change";
    /// `GET /seed`: where each chain of the seed stands.
    pub const SEED: &str = "/seed";
    /// `POST /seed/mnemonic`: the mnemonic, shown once.
    pub const MNEMONIC: &str = "/seed/mnemonic";
    /// `POST /seed/restore`: the seed of a mnemonic, in an empty key store.
    pub const RESTORE: &str = "/seed/restore";
    /// `GET /seed/addresses`: addresses derived, not stored.
    pub const DERIVED: &str = "/seed/addresses";
    /// `POST /seed/keys`: store a chain's keys up to an index.
    pub const STORE_UP_TO: &str = "/seed/keys";

    builders! {
        /// `GET /keys/{address}`.
        key, key_raw(address: &Address) => "{KEYS}/{address}";
        /// `POST /keys/{address}/sign`.
        sign, sign_raw(address: &Address) => "{KEYS}/{address}/sign";
        /// `GET /keys/{address}/wif`.
        wif, wif_raw(address: &Address) => "{KEYS}/{address}/wif";
    }
}

/// The wallet service.
pub mod wallet {
    /// `GET /wallet`.
    pub const WALLET: &str = "/wallet";
    /// `POST /wallet/addresses`.
    pub const ADDRESSES: &str = "/wallet/addresses";
    /// `POST /wallet/send`.
    pub const SEND: &str = "/wallet/send";
    /// `GET /wallet/history`.
    pub const HISTORY: &str = "/wallet/history";
    /// `POST /wallet/restore`.
    pub const RESTORE: &str = "/wallet/restore";
}

/// The miner service.
pub mod miner {
    /// `POST /mine`.
    pub const MINE: &str = "/mine";
    /// `GET /miner`.
    pub const MINER: &str = "/miner";
    /// `POST /miner/start`.
    pub const START: &str = "/miner/start";
    /// `POST /miner/stop`.
    pub const STOP: &str = "/miner/stop";
}

/// The peer service.
pub mod peer {
    use super::*;

    /// `GET /chain`.
    pub const CHAIN: &str = "/chain";
    /// `GET /chain/tips`: the leaves of the block tree (Bitcoin Core's `getchaintips`).
    pub const CHAIN_TIPS: &str = "/chain/tips";
    /// `GET /blocks` (a range) and `POST /blocks` (submit).
    pub const BLOCKS: &str = "/blocks";
    /// `GET /blocks/template`.
    pub const TEMPLATE: &str = "/blocks/template";
    /// `GET /headers`.
    pub const HEADERS: &str = "/headers";
    /// `POST /sync`.
    pub const SYNC: &str = "/sync";
    /// `POST /transactions` (submit).
    pub const TRANSACTIONS: &str = "/transactions";
    /// `POST /transactions/verify`.
    pub const VERIFY: &str = "/transactions/verify";
    /// `GET /mempool`.
    pub const MEMPOOL: &str = "/mempool";
    /// `POST /addresses/utxos`.
    pub const ADDRESSES_UTXOS: &str = "/addresses/utxos";
    /// `GET /peers` and `POST /peers`.
    pub const PEERS: &str = "/peers";
    /// `GET /events`: Server-Sent Events of the node's changes.
    pub const EVENTS: &str = "/events";

    builders! {
        /// `GET /blocks/{hash}`.
        block, block_raw(hash: &BlockHash) => "{BLOCKS}/{hash}";
        /// `GET /blocks/height/{height}`.
        block_at, block_at_raw(height: u32) => "{BLOCKS}/height/{height}";
        /// `GET /blocks/{hash}/header`.
        block_header, block_header_raw(hash: &BlockHash) => "{BLOCKS}/{hash}/header";
        /// `GET /transactions/{txid}`.
        transaction, transaction_raw(txid: &Txid) => "{TRANSACTIONS}/{txid}";
        /// `GET /transactions/{txid}/merkle-proof`.
        merkle_proof, merkle_proof_raw(txid: &Txid) => "{TRANSACTIONS}/{txid}/merkle-proof";
        /// `GET /transactions/{txid}/outspends`.
        outspends, outspends_raw(txid: &Txid) => "{TRANSACTIONS}/{txid}/outspends";
        /// `GET /addresses/{address}`.
        address, address_raw(address: &Address) => "/addresses/{address}";
        /// `GET /addresses/{address}/utxos`.
        utxos, utxos_raw(address: &Address) => "/addresses/{address}/utxos";
        /// `GET /addresses/{address}/balance`.
        balance, balance_raw(address: &Address) => "/addresses/{address}/balance";
        /// `GET /addresses/{address}/transactions`.
        address_transactions, address_transactions_raw(address: &Address)
            => "/addresses/{address}/transactions";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycoin_core::{Network, PubKeyHash};

    #[test]
    fn each_builder_and_its_raw_twin_write_the_same_path() {
        let address = Address::new(Network::Regtest, PubKeyHash([1; 20]));
        let hash = BlockHash([2; 32]);
        let txid = Txid([3; 32]);
        let (a, h, t) = (address.to_string(), hash.to_string(), txid.to_string());
        let cases = [
            (keys::key(&address), keys::key_raw(&a), format!("/keys/{a}")),
            (
                keys::sign(&address),
                keys::sign_raw(&a),
                format!("/keys/{a}/sign"),
            ),
            (
                keys::wif(&address),
                keys::wif_raw(&a),
                format!("/keys/{a}/wif"),
            ),
            (
                peer::block(&hash),
                peer::block_raw(&h),
                format!("/blocks/{h}"),
            ),
            (
                peer::block_at(7),
                peer::block_at_raw("7"),
                "/blocks/height/7".into(),
            ),
            (
                peer::block_header(&hash),
                peer::block_header_raw(&h),
                format!("/blocks/{h}/header"),
            ),
            (
                peer::transaction(&txid),
                peer::transaction_raw(&t),
                format!("/transactions/{t}"),
            ),
            (
                peer::merkle_proof(&txid),
                peer::merkle_proof_raw(&t),
                format!("/transactions/{t}/merkle-proof"),
            ),
            (
                peer::outspends(&txid),
                peer::outspends_raw(&t),
                format!("/transactions/{t}/outspends"),
            ),
            (
                peer::address(&address),
                peer::address_raw(&a),
                format!("/addresses/{a}"),
            ),
            (
                peer::utxos(&address),
                peer::utxos_raw(&a),
                format!("/addresses/{a}/utxos"),
            ),
            (
                peer::balance(&address),
                peer::balance_raw(&a),
                format!("/addresses/{a}/balance"),
            ),
            (
                peer::address_transactions(&address),
                peer::address_transactions_raw(&a),
                format!("/addresses/{a}/transactions"),
            ),
        ];
        for (typed, raw, expected) in cases {
            assert_eq!(typed, expected);
            assert_eq!(raw, expected);
        }
        assert_eq!(peer::block_raw("xyz"), "/blocks/xyz");
    }
}

/// The explorer's pages (issue 15): HTML, not a REST API, but named once here all the same.
pub mod explorer {
    use super::*;

    /// The race (home page).
    pub const RACE: &str = "/";
    /// The race's live part, as an HTML fragment.
    pub const RACE_LIVE: &str = "/race/live";
    /// The peer's events relayed to the browser (Server-Sent Events).
    pub const LIVE: &str = "/live";
    /// The mempool page.
    pub const MEMPOOL: &str = "/mempool";
    /// The peers page.
    pub const PEERS: &str = "/peers";
    /// The chart of difficulty and block interval.
    pub const CHART: &str = "/chart";
    /// `GET /search?q=`: a height, block hash, txid or address.
    pub const SEARCH: &str = "/search";
    /// The explorer's own script (the live parts).
    pub const SCRIPT: &str = "/static/live.js";
    /// The explorer's style sheet.
    pub const STYLE: &str = "/static/style.css";

    builders! {
        /// A block's page.
        block, block_raw(hash: &BlockHash) => "/blocks/{hash}";
        /// A transaction's page.
        transaction, transaction_raw(txid: &Txid) => "/transactions/{txid}";
        /// An address's page.
        address, address_raw(address: &Address) => "/addresses/{address}";
    }
}
