//! The node's state shared by the handlers: the chain (behind a lock), the network, the clock
//! and the peer list; and the read-only views the handlers answer with, computed from the
//! chain without deciding anything the core does not decide.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use mycoin_api::peer::{Balance, InputVerdict, UtxoView};
use mycoin_core::{
    Address, Chain, ChainError, Database, Network, PubKeyHash, SqlStore, Transaction,
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
            mature: chain.is_spendable_next(&coin),
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

/// One verdict per input of `tx` (the core's [`Chain::check_inputs`]), with the address and
/// amount of the output each input spends when it exists. The verdict on the whole transaction
/// is the core's `check_transaction`; this only says which inputs are at fault.
pub fn input_verdicts(chain: &Chain<SqlStore>, tx: &Transaction) -> Vec<InputVerdict> {
    chain
        .check_inputs(tx)
        .into_iter()
        .zip(&tx.inputs)
        .enumerate()
        .map(|(index, (verdict, input))| {
            let prevout = input.prevout();
            let coin = chain.utxos().get(&prevout).copied();
            InputVerdict {
                index,
                prevout: prevout.to_string(),
                address: coin.map(|c| {
                    Address::new(chain.params().network, c.output.pubkey_hash).to_string()
                }),
                amount: coin.map(|c| c.output.amount.units()),
                valid: verdict.is_ok(),
                error: verdict.err().as_ref().map(violation),
            }
        })
        .collect()
}
