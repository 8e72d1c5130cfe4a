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

    /// `GET /keys/{address}`.
    pub fn key(address: &Address) -> String {
        key_raw(&address.to_string())
    }
    /// `GET /keys/{address}` with any text in place of the address.
    pub fn key_raw(address: &str) -> String {
        format!("{KEYS}/{address}")
    }
    /// `POST /keys/{address}/sign`.
    pub fn sign(address: &Address) -> String {
        sign_raw(&address.to_string())
    }
    /// `POST /keys/{address}/sign` with any text in place of the address.
    pub fn sign_raw(address: &str) -> String {
        format!("{KEYS}/{address}/sign")
    }
    /// `GET /keys/{address}/wif`.
    pub fn wif(address: &Address) -> String {
        wif_raw(&address.to_string())
    }
    /// `GET /keys/{address}/wif` with any text in place of the address.
    pub fn wif_raw(address: &str) -> String {
        format!("{KEYS}/{address}/wif")
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

    /// `GET /blocks/{hash}`.
    pub fn block(hash: &BlockHash) -> String {
        block_raw(&hash.to_string())
    }
    /// `GET /blocks/{hash}` with any text in place of the hash.
    pub fn block_raw(hash: &str) -> String {
        format!("{BLOCKS}/{hash}")
    }
    /// `GET /blocks/height/{height}`.
    pub fn block_at(height: u32) -> String {
        block_at_raw(&height.to_string())
    }
    /// `GET /blocks/height/{height}` with any text in place of the height.
    pub fn block_at_raw(height: &str) -> String {
        format!("{BLOCKS}/height/{height}")
    }
    /// `GET /blocks/{hash}/header`.
    pub fn block_header(hash: &BlockHash) -> String {
        block_header_raw(&hash.to_string())
    }
    /// `GET /blocks/{hash}/header` with any text in place of the hash.
    pub fn block_header_raw(hash: &str) -> String {
        format!("{BLOCKS}/{hash}/header")
    }
    /// `GET /transactions/{txid}`.
    pub fn transaction(txid: &Txid) -> String {
        transaction_raw(&txid.to_string())
    }
    /// `GET /transactions/{txid}` with any text in place of the txid.
    pub fn transaction_raw(txid: &str) -> String {
        format!("{TRANSACTIONS}/{txid}")
    }
    /// `GET /transactions/{txid}/merkle-proof`.
    pub fn merkle_proof(txid: &Txid) -> String {
        merkle_proof_raw(&txid.to_string())
    }
    /// `GET /transactions/{txid}/merkle-proof` with any text in place of the txid.
    pub fn merkle_proof_raw(txid: &str) -> String {
        format!("{TRANSACTIONS}/{txid}/merkle-proof")
    }
    /// `GET /addresses/{address}`.
    pub fn address(address: &Address) -> String {
        address_raw(&address.to_string())
    }
    /// `GET /addresses/{address}` with any text in place of the address.
    pub fn address_raw(address: &str) -> String {
        format!("/addresses/{address}")
    }
    /// `GET /addresses/{address}/utxos`.
    pub fn utxos(address: &Address) -> String {
        utxos_raw(&address.to_string())
    }
    /// `GET /addresses/{address}/utxos` with any text in place of the address.
    pub fn utxos_raw(address: &str) -> String {
        format!("/addresses/{address}/utxos")
    }
    /// `GET /addresses/{address}/balance`.
    pub fn balance(address: &Address) -> String {
        balance_raw(&address.to_string())
    }
    /// `GET /addresses/{address}/balance` with any text in place of the address.
    pub fn balance_raw(address: &str) -> String {
        format!("/addresses/{address}/balance")
    }
    /// `GET /addresses/{address}/transactions`.
    pub fn address_transactions(address: &Address) -> String {
        address_transactions_raw(&address.to_string())
    }
    /// `GET /addresses/{address}/transactions` with any text in place of the address.
    pub fn address_transactions_raw(address: &str) -> String {
        format!("/addresses/{address}/transactions")
    }

    // The event stream (issue 15).
    /// `GET /events`: Server-Sent Events of the node's changes.
    pub const EVENTS: &str = "/events";
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

    /// A block's page.
    pub fn block(hash: &BlockHash) -> String {
        block_raw(&hash.to_string())
    }
    /// A block's page with any text in place of the hash.
    pub fn block_raw(hash: &str) -> String {
        format!("/blocks/{hash}")
    }
    /// A transaction's page.
    pub fn transaction(txid: &Txid) -> String {
        transaction_raw(&txid.to_string())
    }
    /// A transaction's page with any text in place of the txid.
    pub fn transaction_raw(txid: &str) -> String {
        format!("/transactions/{txid}")
    }
    /// An address's page.
    pub fn address(address: &Address) -> String {
        address_raw(&address.to_string())
    }
    /// An address's page with any text in place of the address.
    pub fn address_raw(address: &str) -> String {
        format!("/addresses/{address}")
    }
}
