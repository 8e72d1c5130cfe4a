//! The wallet as a light client of its peer: it keeps the chain of headers, checked itself
//! ([`HeaderChain`]: links, proof of work, retarget), and believes a transaction is confirmed
//! only when the transaction's bytes, their Merkle proof and a header of that chain agree
//! (PROTOCOL.md §6.4–6.5). What the history shows of a proven transaction is computed from
//! those bytes, not taken from the peer's index.

use std::collections::HashMap;

use mycoin_api::client::{ClientError, PeerClient};
use mycoin_api::peer::{MAX_HEADERS_PER_REQUEST, decode_hex};
use mycoin_core::{BlockHash, HeaderChain, Params, Transaction, Txid, verify_merkle_proof};

use crate::error::WalletError;

/// Headers asked again below the held tip, so that a reorganisation that deep is followed
/// without starting from genesis.
const REORG_MARGIN: u32 = 12;

/// The header chain and the transactions proven against it.
#[derive(Debug)]
pub struct LightClient {
    headers: HeaderChain,
    /// Proven transactions: the block hash and height the proof was checked against.
    proven: HashMap<Txid, (BlockHash, u32, Transaction)>,
}

impl LightClient {
    pub fn new(params: Params) -> LightClient {
        LightClient {
            headers: HeaderChain::new(params),
            proven: HashMap::new(),
        }
    }

    /// The held header chain's height.
    pub fn height(&self) -> u32 {
        self.headers.height()
    }

    /// Brings the header chain to the peer's active chain, 2,000 headers a request, checking
    /// each run. A reorganisation deeper than the margin starts again from genesis.
    pub async fn sync_headers(&mut self, peer: &PeerClient) -> Result<(), WalletError> {
        let mut from = self.headers.height().saturating_sub(REORG_MARGIN).max(1);
        let mut restarted = false;
        loop {
            let headers = match peer.headers(from, Some(MAX_HEADERS_PER_REQUEST)).await {
                Ok(headers) => headers,
                Err(ClientError::BadBody { reason, .. }) => {
                    return Err(WalletError::BadUpstream(format!(
                        "the peer's headers: {reason}"
                    )));
                }
                Err(err) => return Err(err.into()),
            };
            match self.headers.extend(from, &headers) {
                Ok(()) => {}
                Err(_) if !restarted => {
                    // Forked below the margin: check the peer's whole chain again.
                    self.headers = HeaderChain::new(self.headers_params());
                    self.proven.clear();
                    restarted = true;
                    from = 0;
                    continue;
                }
                Err(err) => {
                    return Err(WalletError::BadUpstream(format!(
                        "the peer's headers are not a valid chain: {err}"
                    )));
                }
            }
            if headers.len() < MAX_HEADERS_PER_REQUEST as usize {
                return Ok(());
            }
            from += headers.len() as u32;
        }
    }

    fn headers_params(&self) -> Params {
        self.headers.params().clone()
    }

    /// The transaction `txid` with its inclusion checked: its bytes from the peer, their wtxid
    /// proven by the Merkle proof against the header the held chain has at the proof's height.
    /// `None` when the peer cannot prove it (not confirmed, or a proof that does not check).
    pub async fn prove(
        &mut self,
        peer: &PeerClient,
        txid: &Txid,
    ) -> Result<Option<&Transaction>, WalletError> {
        let still_proven = self
            .proven
            .get(txid)
            .is_some_and(|(hash, height, _)| self.headers.hash(*height) == Some(*hash));
        if !still_proven {
            self.proven.remove(txid);
            let Some((hash, height, tx)) = self.check_proof(peer, txid).await? else {
                return Ok(None);
            };
            self.proven.insert(*txid, (hash, height, tx));
        }
        Ok(self.proven.get(txid).map(|(_, _, tx)| tx))
    }

    async fn check_proof(
        &self,
        peer: &PeerClient,
        txid: &Txid,
    ) -> Result<Option<(BlockHash, u32, Transaction)>, WalletError> {
        let proof = match peer.merkle_proof(txid).await {
            Ok(proof) => proof,
            Err(ClientError::Status { status: 404, .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let info = match peer.transaction(txid).await {
            Ok(info) => info,
            Err(ClientError::Status { status: 404, .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let tx: Transaction = decode_hex(&info.hex)
            .map_err(|err| WalletError::BadUpstream(format!("transaction {txid}: {err}")))?;
        let height = proof.block_height;
        let header = match self.headers.header(height) {
            Some(header) if self.headers.hash(height) == Some(proof.block_hash) => header,
            _ => {
                tracing::warn!(%txid, height, "the proof names a block the header chain does not hold");
                return Ok(None);
            }
        };
        if tx.txid() != *txid {
            tracing::warn!(%txid, "the peer answered another transaction");
            return Ok(None);
        }
        if let Err(err) = verify_merkle_proof(&tx.wtxid(), &proof.proof(), header) {
            tracing::warn!(%txid, %err, "the peer's Merkle proof does not check");
            return Ok(None);
        }
        Ok(Some((proof.block_hash, height, tx)))
    }
}
