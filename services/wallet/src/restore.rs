//! Restoring a wallet from its mnemonic (`POST /wallet/restore`), and the address index's answer
//! to "was this key ever used?".
//!
//! The keys service replaces its seed with the mnemonic's (only in an empty key store); then
//! each chain of the seed (receiving `m/44'/C'/0'/0/i`, change `m/44'/C'/0'/1/i`) is scanned
//! in the peer's address index, [`GAP_LIMIT`] addresses at a time, until [`GAP_LIMIT`] unused
//! addresses in a row; the keys service then stores every key of the chain up to the last used
//! one, so that its next key is one past it. Balance, the two lists and the history follow from
//! the keys and the chain, as for any wallet.
//!
//! What a restore cannot find: keys imported as WIF (they are not derived from the seed), and a
//! payment to a key more than [`GAP_LIMIT`] unused keys past the last used one.
//!
//! The HTTP calls are the few functions at the top of this file.

use mycoin_api::keys::KeyInfo;
use mycoin_api::seed::{
    ChainName, DerivedAddresses, GAP_LIMIT, RestoreRequest, RestoreResponse, SeedState,
};
use mycoin_core::Address;

use crate::error::WalletError;
use crate::wallet::Wallet;

impl Wallet {
    /// Keys service: `POST /seed/restore`.
    async fn call_seed_restore(&self, request: &RestoreRequest) -> Result<SeedState, WalletError> {
        Ok(self.keys.restore_seed(request).await?)
    }

    /// Keys service: `GET /seed/addresses` (derived, not stored).
    async fn call_derived(
        &self,
        chain: ChainName,
        from: u32,
    ) -> Result<DerivedAddresses, WalletError> {
        Ok(self.keys.derived(chain, from, GAP_LIMIT).await?)
    }

    /// Keys service: `POST /seed/keys`.
    async fn call_store_up_to(
        &self,
        chain: ChainName,
        next: u32,
    ) -> Result<SeedState, WalletError> {
        Ok(self.keys.store_up_to(chain, next).await?)
    }

    /// Keys service: `GET /keys`.
    pub(crate) async fn call_keys(&self) -> Result<Vec<KeyInfo>, WalletError> {
        Ok(self.keys.list().await?)
    }

    /// Peer: `POST /addresses/utxos`, one request for a batch of derived addresses: for each,
    /// whether any transaction, confirmed or in the mempool, ever paid it or spent from it
    /// (its history is not empty, or the mempool pays it: a mempool spend of its outputs
    /// implies one of the two).
    async fn ever_used(&self, addresses: &[String]) -> Result<Vec<bool>, WalletError> {
        let addresses = addresses
            .iter()
            .map(|address| {
                Address::parse_for(address, self.network()).map_err(|err| {
                    WalletError::BadUpstream(format!("derived address {address}: {err}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let answer = self.addresses_utxos(&addresses).await?;
        Ok(answer
            .iter()
            .map(|found| found.used || found.balance.pending_in > 0)
            .collect())
    }

    /// `POST /wallet/restore`: see the module's documentation.
    pub async fn restore(&self, request: RestoreRequest) -> Result<RestoreResponse, WalletError> {
        let _no_payment_meanwhile = self.send_lock.lock().await;
        let keys = self.call_keys().await?.len();
        let payments = self.store.payments().await?.len();
        if keys > 0 || payments > 0 {
            return Err(WalletError::NotEmpty { keys, payments });
        }
        self.call_seed_restore(&request).await?;
        let mut found = [0u32; 2];
        for (slot, chain) in [ChainName::Receive, ChainName::Change]
            .into_iter()
            .enumerate()
        {
            let next = self.scan(chain).await?;
            if next > 0 {
                self.call_store_up_to(chain, next).await?;
            }
            found[slot] = next;
        }
        tracing::info!(
            receive_keys = found[0],
            change_keys = found[1],
            "restored the wallet from its mnemonic"
        );
        Ok(RestoreResponse {
            receive_keys: found[0],
            change_keys: found[1],
            gap_limit: GAP_LIMIT,
        })
    }

    /// One past the last used index of `chain` (0: none used), scanning until [`GAP_LIMIT`]
    /// unused addresses in a row.
    async fn scan(&self, chain: ChainName) -> Result<u32, WalletError> {
        let mut next = 0u32;
        let mut from = 0u32;
        loop {
            let batch = self.call_derived(chain, from).await?;
            if batch.from != from || batch.addresses.is_empty() {
                return Err(WalletError::BadUpstream(
                    "the keys service answered for other indexes than those asked".into(),
                ));
            }
            let used = self.ever_used(&batch.addresses).await?;
            for (offset, used) in used.into_iter().enumerate() {
                let index = from.saturating_add(u32::try_from(offset).unwrap_or(u32::MAX));
                if index - next >= GAP_LIMIT {
                    // GAP_LIMIT unused addresses in a row: a key past them is not looked at.
                    return Ok(next);
                }
                if used {
                    next = index + 1;
                }
            }
            from = from.saturating_add(u32::try_from(batch.addresses.len()).unwrap_or(u32::MAX));
        }
    }
}
