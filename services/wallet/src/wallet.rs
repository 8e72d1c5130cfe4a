//! The wallet: balances and key lists from the peer's UTXO view, payments built here and
//! signed by the keys service.
//!
//! The wallet's keys are all the keys of the keys service. One `POST /addresses/utxos` to the
//! peer service, for all of them at once, gives each key's outputs of the active chain (with
//! `mature` and `spent_in_mempool`) and balance (for `pending_in`), from the peer's address
//! index and one snapshot of its chain; from them:
//!
//! - **balance**: `confirmed` = mature outputs not spent by a mempool transaction (what a
//!   payment may spend now), `pending` = what mempool transactions pay to the keys (change
//!   included), `immature` = coinbase outputs not yet mature;
//! - **unspent keys**: keys holding outputs that no mempool transaction spends, with their sum
//!   and count (immature ones included);
//! - **unused keys**: keys with no output at all, nothing incoming in the mempool, never
//!   spent from or paid to by a payment of this wallet (its `wallet_sent` table), and no
//!   transaction in the peer's address index (`GET /addresses/{a}`): the derived keys handed
//!   out and not yet paid. A restored wallet, whose `wallet_sent` is empty, finds the same.
//!
//! The **history** is the peer's address history of every key (`light.rs`): each transaction
//! that paid or spent from them, confirmed ones proven by Merkle proof against the wallet's
//! own header chain.
//!
//! Payments ([`Wallet::send`]) run one at a time under a lock: the next payment starts only
//! after the peer accepted the previous one, whose inputs the peer then reports as
//! `spent_in_mempool`, so two payments never spend the same output.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use mycoin_api::client::{KeysClient, PeerClient};
use mycoin_api::keys::KeyInfo;
use mycoin_api::peer::{
    AddressTxView, AddressUtxos, MAX_ADDRESS_TXS_PER_REQUEST, MAX_ADDRESSES_PER_REQUEST, TxState,
    UtxoView,
};
use mycoin_api::wallet::{
    HistoryEntry, HistoryStatus, SendRequest, SendResponse, UnspentKey, UnusedKey, WalletAddress,
    WalletBalance, WalletView,
};
use mycoin_core::policy::DEFAULT_DUST_LIMIT;
use mycoin_core::{
    Address, Amount, FeeRate, Network, OutPoint, PubKeyHash, PublicKey, Signature, Transaction,
    TxIn, TxOut, Txid,
};
use mycoin_web::RestClient;
use tokio::sync::Mutex;

use crate::configuration::Settings;
use crate::error::WalletError;
use crate::light::LightClient;
use crate::store::{SentPayment, WalletStore};

/// One key of the keys service with its outputs and incoming mempool amount.
#[derive(Debug, Clone)]
struct KeyState {
    key: KeyInfo,
    utxos: Vec<UtxoView>,
    pending_in: u64,
    /// A transaction of the active chain paid it or spent from it.
    used: bool,
}

/// An output chosen to fund a payment.
#[derive(Debug, Clone)]
struct Coin {
    outpoint: OutPoint,
    amount: u64,
    address: Address,
    public_key: PublicKey,
}

/// The wallet service's state, shared by the handlers.
#[derive(Debug)]
pub struct Wallet {
    network: Network,
    pub(crate) peer: PeerClient,
    pub(crate) keys: KeysClient,
    pub(crate) store: WalletStore,
    /// Held for the whole of a payment: selection → signing → submission (and a restore).
    pub(crate) send_lock: Mutex<()>,
    /// Payments the peer accepted since the service started.
    payments_sent: AtomicU64,
    /// The header chain and proven transactions, for the history.
    light: Mutex<LightClient>,
}

fn sum(values: impl IntoIterator<Item = u64>) -> Result<u64, WalletError> {
    values
        .into_iter()
        .try_fold(0u64, u64::checked_add)
        .ok_or_else(|| WalletError::BadUpstream("the peer reports amounts that overflow".into()))
}

/// The highest fee rate `POST /wallet/send` takes, in base units per byte.
pub const MAX_FEE_RATE: u64 = 1_000_000;

/// How a payment's fee is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FeeChoice {
    /// This many base units (plus change too small to keep).
    Fixed(Amount),
    /// This rate times the transaction's size.
    Rate(FeeRate),
}

/// The coins that fund a payment, its fee and its change (0: no change output).
#[derive(Debug)]
struct Selection {
    coins: Vec<Coin>,
    fee: u64,
    change: u64,
}

/// Picks coins, largest first (the fewest inputs; ties in a stable order), until they pay
/// `amount` and the fee. Change below the peer's default dust limit is not kept as an output
/// (the peer would refuse the transaction): it goes to the fee, as in Bitcoin Core.
fn select_coins(
    mut spendable: Vec<Coin>,
    amount: u64,
    fee: FeeChoice,
) -> Result<Selection, WalletError> {
    spendable.sort_by(|a, b| {
        b.amount
            .cmp(&a.amount)
            .then(a.outpoint.txid.0.cmp(&b.outpoint.txid.0))
            .then(a.outpoint.index.cmp(&b.outpoint.index))
    });
    // The fee of a transaction of `inputs` inputs, with or without a change output.
    let fee_for = |inputs: usize, change: bool| -> u64 {
        match fee {
            FeeChoice::Fixed(fee) => fee.units(),
            FeeChoice::Rate(rate) => {
                rate.fee_for(Transaction::spend_size(inputs, 1 + usize::from(change)))
            }
        }
    };
    let have = sum(spendable.iter().map(|c| c.amount))?;
    let mut total = 0u64;
    for (taken, coin) in spendable.iter().enumerate() {
        total = sum([total, coin.amount])?;
        let inputs = taken + 1;
        let with_change = fee_for(inputs, true);
        if let Some(change) = total
            .checked_sub(amount)
            .and_then(|rest| rest.checked_sub(with_change))
            .filter(|change| *change >= DEFAULT_DUST_LIMIT)
        {
            spendable.truncate(inputs);
            return Ok(Selection {
                coins: spendable,
                fee: with_change,
                change,
            });
        }
        if total >= sum([amount, fee_for(inputs, false)])? {
            spendable.truncate(inputs);
            return Ok(Selection {
                coins: spendable,
                fee: total - amount,
                change: 0,
            });
        }
    }
    let need = sum([amount, fee_for(spendable.len().max(1), false)])?;
    Err(WalletError::InsufficientFunds { have, need })
}

impl Wallet {
    /// The wallet of `settings`, with its clients and its opened (migrated) store.
    pub async fn new(settings: &Settings) -> Result<Wallet, WalletError> {
        let with_token = |client: RestClient| match &settings.server.api_token {
            Some(token) => client.with_token(token.clone()),
            None => client,
        };
        Ok(Wallet {
            network: settings.network,
            peer: PeerClient::new(RestClient::new(
                &settings.peer_url,
                settings.client_timeout,
            )?),
            keys: KeysClient::new(with_token(RestClient::new(
                &settings.keys_url,
                settings.client_timeout,
            )?)),
            store: WalletStore::open(&settings.database_url).await?,
            send_lock: Mutex::new(()),
            payments_sent: AtomicU64::new(0),
            light: Mutex::new(LightClient::new(settings.network.params())),
        })
    }

    /// Payments the peer accepted since the service started (for the metrics).
    pub fn payments_sent(&self) -> u64 {
        self.payments_sent.load(Ordering::Relaxed)
    }

    /// The network the wallet works for.
    pub fn network(&self) -> Network {
        self.network
    }

    /// Peer: `POST /addresses/utxos` for at most [`MAX_ADDRESSES_PER_REQUEST`] addresses, the
    /// answer checked to be about those addresses, in their order.
    pub(crate) async fn addresses_utxos(
        &self,
        addresses: &[Address],
    ) -> Result<Vec<AddressUtxos>, WalletError> {
        let answer = self.peer.addresses_utxos(addresses).await?;
        if answer.len() != addresses.len()
            || answer
                .iter()
                .zip(addresses)
                .any(|(found, asked)| found.address != asked.to_string())
        {
            return Err(WalletError::BadUpstream(
                "the peer answered for other addresses than those asked".into(),
            ));
        }
        Ok(answer)
    }

    async fn key_states(&self) -> Result<Vec<KeyState>, WalletError> {
        let keys: Vec<KeyInfo> = self.keys.list().await?;
        let mut states = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_ADDRESSES_PER_REQUEST) {
            let addresses: Vec<Address> = chunk.iter().map(|key| key.address).collect();
            let answer = self.addresses_utxos(&addresses).await?;
            states.extend(chunk.iter().zip(answer).map(|(key, found)| KeyState {
                key: key.clone(),
                utxos: found.utxos,
                pending_in: found.balance.pending_in,
                used: found.used,
            }));
        }
        Ok(states)
    }

    /// `GET /wallet`: balance, unspent keys, unused keys.
    pub async fn view(&self) -> Result<WalletView, WalletError> {
        let states = self.key_states().await?;
        let used = self.store.used_addresses().await?;
        let mut balance = WalletBalance::default();
        let mut unspent_keys = Vec::new();
        let mut unused_keys = Vec::new();
        for state in &states {
            let unspent: Vec<&UtxoView> =
                state.utxos.iter().filter(|u| !u.spent_in_mempool).collect();
            let mature = sum(unspent.iter().filter(|u| u.mature).map(|u| u.amount))?;
            let immature = sum(unspent.iter().filter(|u| !u.mature).map(|u| u.amount))?;
            balance.confirmed = sum([balance.confirmed, mature])?;
            balance.immature = sum([balance.immature, immature])?;
            balance.pending = sum([balance.pending, state.pending_in])?;
            let address = state.key.address.to_string();
            if !unspent.is_empty() {
                unspent_keys.push(UnspentKey {
                    address,
                    amount: sum([mature, immature])?,
                    outputs: unspent.len(),
                });
            } else if state.utxos.is_empty()
                && state.pending_in == 0
                && !used.contains(&address)
                && !state.used
            {
                unused_keys.push(UnusedKey { address });
            }
        }
        Ok(WalletView {
            balance,
            unspent_keys,
            unused_keys,
        })
    }

    /// `POST /wallet/addresses`: a fresh key of the keys service.
    pub async fn new_address(&self) -> Result<WalletAddress, WalletError> {
        let key = self.keys.create().await?;
        Ok(WalletAddress {
            address: key.address.to_string(),
        })
    }

    /// Checks a payment request: the recipient's network, amount ≥ 1, amounts payable, one of
    /// fee and fee rate.
    fn check_request(
        &self,
        request: &SendRequest,
    ) -> Result<(Address, Amount, FeeChoice), WalletError> {
        let to = Address::parse_for(request.to.trim(), self.network).map_err(|reason| {
            WalletError::InvalidAddress {
                address: request.to.clone(),
                reason,
            }
        })?;
        if request.amount == 0 {
            return Err(WalletError::InvalidAmount(
                "the amount must be at least 1 base unit".into(),
            ));
        }
        let amount = Amount::from_units(request.amount)
            .map_err(|err| WalletError::InvalidAmount(format!("amount: {err}")))?;
        let fee = match (request.fee, request.fee_rate) {
            (Some(fee), None) => {
                let fee = Amount::from_units(fee)
                    .map_err(|err| WalletError::InvalidAmount(format!("fee: {err}")))?;
                amount.checked_add(fee).ok_or_else(|| {
                    WalletError::InvalidAmount("amount + fee exceeds the maximum supply".into())
                })?;
                FeeChoice::Fixed(fee)
            }
            (None, Some(rate)) if (1..=MAX_FEE_RATE).contains(&rate) => {
                FeeChoice::Rate(FeeRate::per_byte(rate))
            }
            (None, Some(rate)) => {
                return Err(WalletError::InvalidAmount(format!(
                    "fee_rate {rate} is out of range: 1 to {MAX_FEE_RATE} base units per byte"
                )));
            }
            (None, None) => {
                return Err(WalletError::InvalidAmount(
                    "give the fee: `fee` in base units, or `fee_rate` in base units per byte"
                        .into(),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(WalletError::InvalidAmount(
                    "give `fee` or `fee_rate`, not both".into(),
                ));
            }
        };
        Ok((to, amount, fee))
    }

    /// `POST /wallet/send`: selects coins, builds, signs (keys service), submits (peer).
    pub async fn send(&self, request: SendRequest) -> Result<SendResponse, WalletError> {
        let (to, amount, fee) = self.check_request(&request)?;
        let _one_at_a_time = self.send_lock.lock().await;

        // Spendable: mature outputs of the active chain no mempool transaction spends.
        let mut spendable = Vec::new();
        for state in self.key_states().await? {
            for utxo in state.utxos {
                if utxo.mature && !utxo.spent_in_mempool {
                    spendable.push(Coin {
                        outpoint: OutPoint::new(utxo.txid, utxo.vout),
                        amount: utxo.amount,
                        address: state.key.address,
                        public_key: state.key.public_key,
                    });
                }
            }
        }
        let Selection {
            coins: selected,
            fee,
            change,
        } = select_coins(spendable, amount.units(), fee)?;

        let mut outputs = vec![TxOut {
            amount,
            pubkey_hash: to.pubkey_hash(),
        }];
        let change_address = if change > 0 {
            // The change chain of the seed (m/44'/C'/0'/1/i).
            let key = self.keys.create_change().await?;
            let change_amount = Amount::from_units(change)
                .map_err(|err| WalletError::BadUpstream(format!("change: {err}")))?;
            outputs.push(TxOut {
                amount: change_amount,
                pubkey_hash: key.address.pubkey_hash(),
            });
            Some(key.address)
        } else {
            None
        };

        let mut tx = Transaction {
            version: Transaction::VERSION,
            inputs: selected
                .iter()
                .map(|coin| TxIn::Spend {
                    prevout: coin.outpoint,
                    public_key: coin.public_key,
                    signature: Signature([0; 64]),
                })
                .collect(),
            outputs,
        };
        let txid = tx.txid();
        self.sign(&mut tx, &txid, &selected).await?;

        let accepted = self.peer.submit_transaction(&tx).await?;
        if accepted.txid != txid {
            return Err(WalletError::BadUpstream(format!(
                "the peer accepted txid {} for the wallet's {txid}",
                accepted.txid
            )));
        }
        let spent_from: Vec<String> = selected.iter().map(|c| c.address.to_string()).collect();
        let payment = SentPayment {
            txid: txid.to_string(),
            recipient: to.to_string(),
            amount: amount.units(),
            fee,
            change_address: change_address.map(|a| a.to_string()),
            spent_from,
            created_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        };
        if let Err(err) = self.store.record(&payment).await {
            // The payment is in the mempool whatever happens here; only the history misses it.
            tracing::error!(%txid, error = %err, "the payment was sent but not recorded");
        }
        self.payments_sent.fetch_add(1, Ordering::Relaxed);
        tracing::info!(%txid, amount = amount.units(), fee, "payment sent");
        Ok(SendResponse {
            txid,
            fee,
            change_address: payment.change_address,
            inputs: selected.iter().map(|c| c.outpoint.to_string()).collect(),
        })
    }

    /// Asks the keys service to sign the txid for each input, and checks each signature.
    ///
    /// The keys service signs the 32 bytes its `digest` hex decodes to, as given; the peer
    /// verifies `public_key.verify(&txid.0, signature)`: so the digest sent is the txid's
    /// internal bytes in hex (not the byte-reversed display form).
    async fn sign(
        &self,
        tx: &mut Transaction,
        txid: &Txid,
        coins: &[Coin],
    ) -> Result<(), WalletError> {
        for (input, coin) in tx.inputs.iter_mut().zip(coins) {
            let signed = self.keys.sign(&coin.address, &txid.0).await?;
            if signed.public_key != coin.public_key
                || coin.public_key.verify(&txid.0, &signed.signature).is_err()
            {
                return Err(WalletError::BadUpstream(format!(
                    "the keys service's signature for {} does not verify",
                    coin.address
                )));
            }
            if let TxIn::Spend { signature, .. } = input {
                *signature = signed.signature;
            }
        }
        Ok(())
    }

    /// Every transaction of one key, from the peer's address history, page after page.
    async fn key_history(&self, address: &Address) -> Result<Vec<AddressTxView>, WalletError> {
        let mut all = Vec::new();
        loop {
            let after = all.last().map(|view: &AddressTxView| view.txid);
            let page = self
                .peer
                .address_transactions(address, after.as_ref(), Some(MAX_ADDRESS_TXS_PER_REQUEST))
                .await?;
            if page.is_empty() {
                return Ok(all);
            }
            all.extend(page);
        }
    }

    /// `GET /wallet/history`: every transaction that paid the wallet's keys or spent from them
    /// (the peer's address history of each key, summed per transaction), each confirmed one
    /// proven against the wallet's own header chain; then the wallet's payments the peer no
    /// longer knows. Confirmed by height, then the mempool's, then the unknown ones.
    pub async fn history(&self) -> Result<Vec<HistoryEntry>, WalletError> {
        let keys: Vec<KeyInfo> = self.keys.list().await?;
        let mine: HashSet<PubKeyHash> = keys.iter().map(|k| k.address.pubkey_hash()).collect();
        // Per transaction: what it did to all the wallet's keys together.
        let mut found: BTreeMap<Txid, AddressTxView> = BTreeMap::new();
        for key in &keys {
            for view in self.key_history(&key.address).await? {
                match found.get_mut(&view.txid) {
                    Some(seen) => {
                        seen.received = sum([seen.received, view.received])?;
                        seen.sent = sum([seen.sent, view.sent])?;
                    }
                    None => {
                        found.insert(view.txid, view);
                    }
                }
            }
        }

        let mut light = self.light.lock().await;
        light.sync_headers(&self.peer).await?;
        let mut entries = Vec::with_capacity(found.len());
        for (txid, view) in found {
            let own = view.sent > 0;
            // Paid to others: what left the wallet's keys, less the change and the fee.
            let mut paid = view
                .sent
                .saturating_sub(view.received)
                .saturating_sub(view.fee);
            let mut received = view.received;
            let mut verified = false;
            if view.status.state == TxState::Confirmed
                && let Some(tx) = light.prove(&self.peer, &txid).await?
            {
                let (to_wallet, to_others): (Vec<&TxOut>, Vec<&TxOut>) = tx
                    .outputs
                    .iter()
                    .partition(|output| mine.contains(&output.pubkey_hash));
                received = sum(to_wallet.iter().map(|o| o.amount.units()))?;
                paid = sum(to_others.iter().map(|o| o.amount.units()))?;
                verified = true;
            }
            let status = match view.status.state {
                TxState::Mempool => HistoryStatus::Mempool,
                TxState::Confirmed => HistoryStatus::Confirmed,
            };
            entries.push(HistoryEntry {
                txid,
                received: if own { 0 } else { received },
                sent: if own { paid } else { 0 },
                fee: if own { view.fee } else { 0 },
                status,
                height: view.status.height,
                confirmations: view.status.confirmations,
                verified,
            });
        }
        drop(light);

        // The wallet's payments that are neither in the mempool nor in the active chain.
        for payment in self.store.payments().await? {
            let txid: Txid = payment.txid.parse().map_err(|_| {
                WalletError::Store(format!("bad txid {:?} in wallet_sent", payment.txid))
            })?;
            if !entries.iter().any(|entry| entry.txid == txid) {
                entries.push(HistoryEntry {
                    txid,
                    received: 0,
                    sent: payment.amount,
                    fee: payment.fee,
                    status: HistoryStatus::Unknown,
                    height: None,
                    confirmations: None,
                    verified: false,
                });
            }
        }
        entries.sort_by_key(|entry| {
            let rank = match entry.status {
                HistoryStatus::Confirmed => 0,
                HistoryStatus::Mempool => 1,
                HistoryStatus::Unknown => 2,
            };
            (rank, entry.height.unwrap_or(u32::MAX))
        });
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use mycoin_core::{Network, PrivateKey};

    use super::*;

    fn coins(amounts: &[u64]) -> Vec<Coin> {
        let key = PrivateKey::from_bytes(&[7; 32]).unwrap().public_key();
        amounts
            .iter()
            .enumerate()
            .map(|(i, amount)| Coin {
                outpoint: OutPoint::new(Txid([i as u8; 32]), 0),
                amount: *amount,
                address: Address::new(Network::Regtest, key.pubkey_hash()),
                public_key: key,
            })
            .collect()
    }

    fn amounts(selection: &Selection) -> Vec<u64> {
        selection.coins.iter().map(|c| c.amount).collect()
    }

    #[test]
    fn a_fee_rate_pays_for_the_size_of_the_transaction_built() {
        // One input and two outputs: 4 + 1 + 133 + 1 + 56 = 195 bytes, at 2 units a byte.
        assert_eq!(Transaction::spend_size(1, 2), 195);
        let rate = FeeChoice::Rate(FeeRate::per_byte(2));
        let selection = select_coins(coins(&[10_000, 50_000]), 20_000, rate).unwrap();
        assert_eq!(amounts(&selection), [50_000]);
        assert_eq!(selection.fee, 390);
        assert_eq!(selection.change, 50_000 - 20_000 - 390);
        // A second input costs its bytes too.
        let selection = select_coins(coins(&[30_000, 30_000]), 40_000, rate).unwrap();
        assert_eq!(amounts(&selection), [30_000, 30_000]);
        assert_eq!(selection.fee, 2 * Transaction::spend_size(2, 2) as u64);
    }

    #[test]
    fn change_below_the_dust_limit_goes_to_the_fee() {
        let rate = FeeChoice::Rate(FeeRate::per_byte(1));
        // 20,000 − 10,000 − 195 leaves change; 10,400 − 10,000 − 195 = 205 is dust.
        let selection = select_coins(coins(&[10_400]), 10_000, rate).unwrap();
        assert_eq!((selection.fee, selection.change), (400, 0));
        let fixed = FeeChoice::Fixed(Amount::from_units(100).unwrap());
        let selection = select_coins(coins(&[10_400]), 10_000, fixed).unwrap();
        assert_eq!((selection.fee, selection.change), (400, 0));
        let selection = select_coins(coins(&[20_000]), 10_000, fixed).unwrap();
        assert_eq!((selection.fee, selection.change), (100, 9_900));
    }

    #[test]
    fn too_little_money_names_what_is_needed() {
        let rate = FeeChoice::Rate(FeeRate::per_byte(1));
        let error = select_coins(coins(&[1_000, 1_000]), 2_000, rate).unwrap_err();
        let need = 2_000 + Transaction::spend_size(2, 1) as u64;
        assert!(
            matches!(error, WalletError::InsufficientFunds { have: 2_000, need: n } if n == need),
            "{error:?}"
        );
        assert!(select_coins(Vec::new(), 1, rate).is_err());
    }
}
