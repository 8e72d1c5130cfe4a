//! The node's state shared by the handlers: the chain (behind a lock), the network, the clock
//! and the peer list; and the read-only views the handlers answer with, computed from the
//! chain without deciding anything the core does not decide.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use mycoin_api::peer::{Balance, InputVerdict, UtxoView};
use mycoin_core::keys::KeyError;
use mycoin_core::transaction::TxIn;
use mycoin_core::utxo::Coin;
use mycoin_core::{
    Address, Chain, ChainError, Database, Network, OutPoint, PubKeyHash, SqlStore, Transaction,
    TxError,
};
use tokio::sync::RwLock;

use crate::configuration::MAX_PEERS;
use crate::error::violation;

/// One node: its chain on the SQL store, its network and its peers.
#[derive(Debug)]
pub struct Node {
    chain: RwLock<Chain<SqlStore>>,
    network: Network,
    peers: Mutex<Vec<String>>,
    extra_nonce: AtomicU64,
}

/// Why a peer was not added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddPeerError {
    /// The list already holds [`MAX_PEERS`] peers.
    TooMany,
}

impl Node {
    /// Connects to `database_url`, creates the chain tables if needed, and loads the chain of
    /// `network` (starting it at genesis when the store is empty).
    pub async fn open(
        network: Network,
        database_url: &str,
        peers: Vec<String>,
    ) -> Result<Node, ChainError> {
        let db = Database::connect(database_url).await?;
        let store = SqlStore::open(db).await?;
        let chain = Chain::open(network.params(), store).await?;
        Ok(Node::with_chain(chain, peers))
    }

    /// A node around an open chain.
    pub fn with_chain(chain: Chain<SqlStore>, peers: Vec<String>) -> Node {
        let network = chain.params().network;
        Node {
            chain: RwLock::new(chain),
            network,
            peers: Mutex::new(peers),
            extra_nonce: AtomicU64::new(0),
        }
    }

    /// The chain. Hold the lock only for one core call and the view built from it.
    pub fn chain(&self) -> &RwLock<Chain<SqlStore>> {
        &self.chain
    }

    /// The network this node runs.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The node's clock: Unix time in seconds.
    pub fn now(&self) -> u32 {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    /// A fresh extra nonce for a block template, so that two templates never collide.
    pub fn next_extra_nonce(&self) -> u64 {
        self.extra_nonce.fetch_add(1, Ordering::Relaxed)
    }

    /// The peers, in the order they were added.
    pub fn peers(&self) -> Vec<String> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds a peer (a checked URL) unless it is listed; returns the whole list.
    pub fn add_peer(&self, url: String) -> Result<Vec<String>, AddPeerError> {
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        if !peers.contains(&url) {
            if peers.len() >= MAX_PEERS {
                return Err(AddPeerError::TooMany);
            }
            peers.push(url);
        }
        Ok(peers.clone())
    }
}

/// Whether `coin` may be spent in the block after the tip at `tip_height`.
fn is_mature(chain: &Chain<SqlStore>, coin: &Coin) -> bool {
    let spend_height = chain.height().saturating_add(1);
    !coin.is_coinbase
        || spend_height >= coin.height.saturating_add(chain.params().coinbase_maturity)
}

/// The unspent outputs of the active chain paying `pubkey_hash`.
pub fn utxo_views(chain: &Chain<SqlStore>, pubkey_hash: &PubKeyHash) -> Vec<UtxoView> {
    chain
        .utxos_for(pubkey_hash)
        .into_iter()
        .map(|(outpoint, coin)| UtxoView {
            txid: outpoint.txid,
            vout: outpoint.index,
            amount: coin.output.amount.units(),
            height: coin.height,
            coinbase: coin.is_coinbase,
            mature: is_mature(chain, &coin),
            spent_in_mempool: chain.mempool().spender(&outpoint).is_some(),
        })
        .collect()
}

/// The balance of `address`: confirmed (mature), immature, and what the mempool moves.
pub fn balance(chain: &Chain<SqlStore>, address: &Address) -> Balance {
    let pubkey_hash = address.pubkey_hash();
    let (mut confirmed, mut immature, mut pending_out) = (0u64, 0u64, 0u64);
    for utxo in utxo_views(chain, &pubkey_hash) {
        // Amounts are below the money supply, so these sums cannot overflow a u64.
        if utxo.mature {
            confirmed = confirmed.saturating_add(utxo.amount);
        } else {
            immature = immature.saturating_add(utxo.amount);
        }
        if utxo.spent_in_mempool {
            pending_out = pending_out.saturating_add(utxo.amount);
        }
    }
    let pending_in = chain
        .mempool()
        .by_fee_rate()
        .into_iter()
        .flat_map(|entry| entry.tx.outputs.iter())
        .filter(|output| output.pubkey_hash == pubkey_hash)
        .fold(0u64, |sum, output| {
            sum.saturating_add(output.amount.units())
        });
    Balance {
        address: address.to_string(),
        confirmed,
        immature,
        pending_in,
        pending_out,
    }
}

/// One verdict per input of `tx`, each input checked on its own against the active chain's
/// unspent outputs and the mempool: the output exists and is mature, no other mempool
/// transaction spends it, the key matches the address paid, and the signature signs the txid.
///
/// The verdict on the whole transaction is the core's `check_transaction`; this only says
/// which inputs are at fault. (The core checks inputs in one pass that stops at the first
/// failure, with no per-input entry point.)
pub fn input_verdicts(chain: &Chain<SqlStore>, tx: &Transaction) -> Vec<InputVerdict> {
    let txid = tx.txid();
    tx.inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let prevout = input.prevout();
            let coin = chain.utxos().get(&prevout).copied();
            let error = check_input(chain, tx, index, input, coin.as_ref(), &txid);
            InputVerdict {
                index,
                prevout: prevout.to_string(),
                address: coin.map(|c| {
                    Address::new(chain.params().network, c.output.pubkey_hash).to_string()
                }),
                amount: coin.map(|c| c.output.amount.units()),
                valid: error.is_none(),
                error: error.as_ref().map(violation),
            }
        })
        .collect()
}

fn check_input(
    chain: &Chain<SqlStore>,
    tx: &Transaction,
    index: usize,
    input: &TxIn,
    coin: Option<&Coin>,
    txid: &mycoin_core::Txid,
) -> Option<TxError> {
    let TxIn::Spend {
        prevout,
        public_key,
        signature,
    } = input
    else {
        return Some(if tx.is_coinbase() {
            TxError::LooseCoinbase
        } else {
            TxError::NullPrevout { index }
        });
    };
    let prevout: OutPoint = *prevout;
    let Some(coin) = coin else {
        return Some(TxError::MissingInput { index, prevout });
    };
    if let Some(by) = chain.mempool().spender(&prevout)
        && by != *txid
    {
        return Some(TxError::MempoolConflict { index, prevout, by });
    }
    if !is_mature(chain, coin) {
        return Some(TxError::ImmatureCoinbase {
            index,
            coinbase_height: coin.height,
            spend_height: chain.height().saturating_add(1),
            maturity: chain.params().coinbase_maturity,
        });
    }
    if public_key.pubkey_hash() != coin.output.pubkey_hash {
        return Some(TxError::WrongKey { index });
    }
    public_key
        .verify(&txid.0, signature)
        .err()
        .map(|err| match err {
            KeyError::NotCompressed | KeyError::NotOnCurve => {
                TxError::MalformedPublicKey { index, reason: err }
            }
            KeyError::HighS => TxError::HighS { index },
            KeyError::MalformedSignature => TxError::MalformedSignature { index },
            _ => TxError::BadSignature { index },
        })
}
