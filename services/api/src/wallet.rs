//! The wallet service's request and response bodies.
//!
//! | endpoint | request | response |
//! |---|---|---|
//! | `GET /wallet` | — | [`WalletView`] |
//! | `POST /wallet/addresses` | — | [`WalletAddress`] |
//! | `POST /wallet/send` (token) | [`SendRequest`] | [`SendResponse`] |
//! | `GET /wallet/history` | — | `[`[`HistoryEntry`]`]` |
//!
//! Amounts are integers in base units (10^8 per coin); txids are hex in display order.

use mycoin_core::Txid;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The wallet's balance over all keys of the keys service, in base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct WalletBalance {
    /// Spendable now: mature outputs of the active chain that no mempool transaction spends.
    pub confirmed: u64,
    /// On its way in: what mempool transactions pay to the wallet's keys (change included).
    pub pending: u64,
    /// Coinbase outputs of the wallet's keys that have not matured yet.
    pub immature: u64,
}

/// A key holding unspent outputs (the book's "unspent keys").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnspentKey {
    /// The key's address.
    pub address: String,
    /// Sum of its unspent outputs (immature ones included), in base units.
    pub amount: u64,
    /// Number of its unspent outputs.
    pub outputs: usize,
}

/// A key that never received anything (the book's "unused keys").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnusedKey {
    /// The key's address.
    pub address: String,
}

/// Answer of `GET /wallet` (the book's wallet.py).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WalletView {
    /// The balance over all keys.
    pub balance: WalletBalance,
    /// Keys with unspent outputs of the active chain not spent by a mempool transaction.
    pub unspent_keys: Vec<UnspentKey>,
    /// Keys with no unspent output, nothing incoming in the mempool, and never spent from by
    /// this wallet.
    pub unused_keys: Vec<UnusedKey>,
}

/// Answer of `POST /wallet/addresses`: a fresh receiving key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WalletAddress {
    /// The new key's address.
    pub address: String,
}

/// Body of `POST /wallet/send` (the book's sign.py, with amounts).
///
/// Only a JSON object is accepted (serde would otherwise take `[to, amount, fee]` too), with
/// no unknown fields. Exactly one of `fee` and `fee_rate` is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"to": "MJaRnao1s62a2zAKSkmG582KbLKianqb7v", "amount": 50000000, "fee_rate": 2}))]
pub struct SendRequest {
    /// Address to pay, of the wallet's network.
    pub to: String,
    /// Amount to pay in base units, at least the peer's dust limit (483 by default).
    pub amount: u64,
    /// The fee in base units. Change below the dust limit is added to it, and the answer gives
    /// the fee paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<u64>,
    /// Instead of `fee`: a fee rate in base units per byte of the transaction (at least 1);
    /// the wallet works out the fee from the size of the transaction it builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_rate: Option<u64>,
}

/// The fields of [`SendRequest`], as serde derives them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendRequestFields {
    to: String,
    amount: u64,
    #[serde(default)]
    fee: Option<u64>,
    #[serde(default)]
    fee_rate: Option<u64>,
}

impl<'de> Deserialize<'de> for SendRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let fields = SendRequestFields::deserialize(serde_json::Value::Object(object))
            .map_err(D::Error::custom)?;
        Ok(SendRequest {
            to: fields.to,
            amount: fields.amount,
            fee: fields.fee,
            fee_rate: fields.fee_rate,
        })
    }
}

/// Answer of `POST /wallet/send`: the payment is in the peer's mempool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SendResponse {
    /// The transaction's id.
    #[schema(value_type = String)]
    pub txid: Txid,
    /// Its fee in base units.
    pub fee: u64,
    /// The fresh key that receives the change, when there is change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_address: Option<String>,
    /// The outputs spent, `txid:vout`.
    pub inputs: Vec<String>,
}

/// Where a transaction of the history is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HistoryStatus {
    /// Waiting in the peer's mempool.
    Mempool,
    /// In a block of the active chain.
    Confirmed,
    /// Sent by this wallet but neither in the mempool nor in the active chain (dropped).
    Unknown,
}

/// One transaction of `GET /wallet/history`: every transaction that paid one of the wallet's
/// keys or spent from one, outputs spent since included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    /// The transaction's id.
    #[schema(value_type = String)]
    pub txid: Txid,
    /// What it paid to the wallet's keys, in base units; 0 for the wallet's own payments
    /// (whose change is not income).
    pub received: u64,
    /// What the wallet paid with it to others, in base units (0 when received).
    pub sent: u64,
    /// Its fee, when the wallet paid it (0 for received transactions).
    pub fee: u64,
    /// Where it is.
    pub status: HistoryStatus,
    /// Height of its block, when confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Blocks on top of and including its block, when confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmations: Option<u32>,
    /// Whether the wallet checked it is in its block itself: its bytes, their Merkle proof and
    /// the block's header in a header chain the wallet validated (links, proof of work,
    /// retarget) agree. `received` and `sent` of a verified transaction are computed from its
    /// bytes.
    #[serde(default)]
    pub verified: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_requests_are_objects_with_known_fields() {
        let request: SendRequest =
            serde_json::from_str(r#"{"to": "x", "amount": 5, "fee_rate": 2}"#).unwrap();
        assert_eq!(
            request,
            SendRequest {
                to: "x".into(),
                amount: 5,
                fee: None,
                fee_rate: Some(2),
            }
        );
        for bad in [
            r#"["x", 5, 0]"#,
            r#"{"to": "x", "amount": 5, "fee": 0, "more": 1}"#,
            r#"{"to": "x", "amount": "5"}"#,
            r#"{"to": "x"}"#,
        ] {
            assert!(serde_json::from_str::<SendRequest>(bad).is_err(), "{bad}");
        }
    }
}
