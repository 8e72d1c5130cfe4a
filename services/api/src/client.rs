//! Typed clients of the four services: one per service, one method per endpoint.
//!
//! Each wraps a [`RestClient`] (timeouts, size cap, bearer token) and speaks the DTOs of this
//! crate. Parameters are core types — an [`Address`], an [`Amount`], a [`Txid`], a
//! [`BlockHash`] — so nothing unchecked goes out; errors are [`ClientError`], which tells an
//! unreachable service from a refusal (with the service's decoded error body).
//!
//! ```no_run
//! # async fn run() -> Result<(), mycoin_api::client::ClientError> {
//! use mycoin_api::client::PeerClient;
//! let peer = PeerClient::connect("http://127.0.0.1:8001")?;
//! let chain = peer.chain().await?;
//! println!("height {}", chain.height);
//! # Ok(()) }
//! ```

use mycoin_core::{Address, Amount, Block, BlockHash, Header, Transaction, Txid};
pub use mycoin_web::client::DEFAULT_TIMEOUT;
pub use mycoin_web::{ByteStream, ClientError, RestClient};

use crate::events::{EventsQuery, PeerEvent, SseDecoder};
use crate::keys::{ImportRequest, KeyInfo, NewKey, SignRequest, SignResponse, WifResponse};
use crate::miner::{MineRequest, MineResponse, MinerStatus};
use crate::paths;
use crate::peer::{
    AddPeerRequest, AddressInfo, AddressTxView, AddressTxsQuery, AddressUtxos, AddressesRequest,
    Balance, BlockTemplate, BlockView, BlocksQuery, ChainInfo, ChainQuery, ChainTipView,
    ChainTipsQuery, HeadersQuery, MempoolView, MerkleProofView, OutspendView, PeerView,
    SubmitBlockRequest, SubmitBlockResponse, SubmitTransactionResponse, SyncRequest, TemplateQuery,
    TransactionInfo, TransactionRequest, UtxoView, VerifyResponse, decode_hex, encode_hex,
};
use crate::seed::{
    ChainName, DerivedAddresses, DerivedQuery, MnemonicResponse, RestoreRequest, RestoreResponse,
    SeedState, StoreUpTo,
};
use crate::wallet::{HistoryEntry, SendRequest, SendResponse, WalletAddress, WalletView};

macro_rules! client {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            rest: RestClient,
        }

        impl $name {
            /// The client over `rest` (its base URL, token and limits).
            pub fn new(rest: RestClient) -> Self {
                Self { rest }
            }

            /// A client of the service at `base_url`, with the default timeout and no token.
            pub fn connect(base_url: impl Into<String>) -> Result<Self, ClientError> {
                Ok(Self::new(RestClient::new(base_url, DEFAULT_TIMEOUT)?))
            }

            /// The plain REST client underneath.
            pub fn rest(&self) -> &RestClient {
                &self.rest
            }

            /// The service's base URL.
            pub fn base_url(&self) -> &str {
                self.rest.base_url()
            }
        }
    };
}

client!(
    /// The keys service (the book's key.py).
    KeysClient
);
client!(
    /// The wallet service (the book's wallet.py and sign.py).
    WalletClient
);
client!(
    /// The miner service (the book's mine.py).
    MinerClient
);
client!(
    /// The peer service: the chain, the mempool, addresses, other peers.
    PeerClient
);

impl KeysClient {
    /// `POST /keys`: a fresh key pair.
    pub async fn create(&self) -> Result<NewKey, ClientError> {
        self.rest.post_json(paths::keys::KEYS, &()).await
    }

    /// `GET /keys`: every stored key.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, ClientError> {
        self.rest.get_json(paths::keys::KEYS).await
    }

    /// `GET /keys/{address}`.
    pub async fn get(&self, address: &Address) -> Result<KeyInfo, ClientError> {
        self.rest.get_json(&paths::keys::key(address)).await
    }

    /// `POST /keys/{address}/sign` (token): signs the 32-byte `digest` as given.
    pub async fn sign(
        &self,
        address: &Address,
        digest: &[u8; 32],
    ) -> Result<SignResponse, ClientError> {
        let request = SignRequest {
            digest: hex::encode(digest),
        };
        self.rest
            .post_json(&paths::keys::sign(address), &request)
            .await
    }

    /// `GET /keys/{address}/wif` (token): the private key, exported.
    pub async fn export(&self, address: &Address) -> Result<WifResponse, ClientError> {
        self.rest.get_json(&paths::keys::wif(address)).await
    }

    /// `POST /keys/change` (token): the next key of the seed's change chain.
    pub async fn create_change(&self) -> Result<NewKey, ClientError> {
        self.rest.post_json(paths::keys::CHANGE, &()).await
    }

    /// `GET /seed`: where each chain of the seed stands.
    pub async fn seed(&self) -> Result<SeedState, ClientError> {
        self.rest.get_json(paths::keys::SEED).await
    }

    /// `POST /seed/mnemonic` (token): the mnemonic, once.
    pub async fn take_mnemonic(&self) -> Result<MnemonicResponse, ClientError> {
        self.rest.post_json(paths::keys::MNEMONIC, &()).await
    }

    /// `POST /seed/restore` (token): replaces the seed of an empty key store.
    pub async fn restore_seed(&self, request: &RestoreRequest) -> Result<SeedState, ClientError> {
        self.rest.post_json(paths::keys::RESTORE, request).await
    }

    /// `GET /seed/addresses` (token): `count` addresses of `chain` from index `from`, derived
    /// and not stored.
    pub async fn derived(
        &self,
        chain: ChainName,
        from: u32,
        count: u32,
    ) -> Result<DerivedAddresses, ClientError> {
        let query = DerivedQuery {
            chain: chain.as_str().to_owned(),
            from: Some(from),
            count: Some(count),
        };
        self.rest
            .get_json_with_query(paths::keys::DERIVED, &query)
            .await
    }

    /// `POST /seed/keys` (token): stores every key of `chain` below `next`.
    pub async fn store_up_to(&self, chain: ChainName, next: u32) -> Result<SeedState, ClientError> {
        self.rest
            .post_json(paths::keys::STORE_UP_TO, &StoreUpTo { chain, next })
            .await
    }

    /// `POST /keys/import` (token): stores the key of `wif`.
    pub async fn import(&self, wif: &str) -> Result<NewKey, ClientError> {
        let request = ImportRequest {
            wif: wif.to_owned(),
        };
        self.rest.post_json(paths::keys::IMPORT, &request).await
    }
}

/// How a payment's fee is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fee {
    /// This fee, in full.
    Fixed(Amount),
    /// Base units per byte of the transaction the wallet builds.
    Rate(u64),
}

impl WalletClient {
    /// `GET /wallet`: balance, unspent keys, unused keys.
    pub async fn view(&self) -> Result<WalletView, ClientError> {
        self.rest.get_json(paths::wallet::WALLET).await
    }

    /// `POST /wallet/addresses`: a fresh receiving address.
    pub async fn new_address(&self) -> Result<WalletAddress, ClientError> {
        self.rest.post_json(paths::wallet::ADDRESSES, &()).await
    }

    /// `POST /wallet/send` (token): pays `amount` to `to`.
    pub async fn send(
        &self,
        to: &Address,
        amount: Amount,
        fee: Fee,
    ) -> Result<SendResponse, ClientError> {
        let (fee, fee_rate) = match fee {
            Fee::Fixed(fee) => (Some(fee.units()), None),
            Fee::Rate(rate) => (None, Some(rate)),
        };
        let request = SendRequest {
            to: to.to_string(),
            amount: amount.units(),
            fee,
            fee_rate,
        };
        self.rest.post_json(paths::wallet::SEND, &request).await
    }

    /// `GET /wallet/history`.
    pub async fn history(&self) -> Result<Vec<HistoryEntry>, ClientError> {
        self.rest.get_json(paths::wallet::HISTORY).await
    }

    /// `POST /wallet/restore` (token): the wallet of a mnemonic, into an empty stack.
    pub async fn restore(&self, request: &RestoreRequest) -> Result<RestoreResponse, ClientError> {
        self.rest.post_json(paths::wallet::RESTORE, request).await
    }
}

fn mine_request(to: Option<&Address>) -> MineRequest {
    MineRequest {
        address: to.map(Address::to_string),
    }
}

impl MinerClient {
    /// `POST /mine`: mines one block paying `to` (a fresh key of the keys service if `None`).
    pub async fn mine(&self, to: Option<&Address>) -> Result<MineResponse, ClientError> {
        self.rest
            .post_json(paths::miner::MINE, &mine_request(to))
            .await
    }

    /// `GET /miner`.
    pub async fn status(&self) -> Result<MinerStatus, ClientError> {
        self.rest.get_json(paths::miner::MINER).await
    }

    /// `POST /miner/start`: background mining paying `to`.
    pub async fn start(&self, to: Option<&Address>) -> Result<MinerStatus, ClientError> {
        self.rest
            .post_json(paths::miner::START, &mine_request(to))
            .await
    }

    /// `POST /miner/stop`.
    pub async fn stop(&self) -> Result<MinerStatus, ClientError> {
        self.rest.post_json(paths::miner::STOP, &()).await
    }
}

/// A peer's answer that does not decode as the core type it stands for.
fn bad_body(client: &RestClient, path: &str, reason: impl std::fmt::Display) -> ClientError {
    ClientError::BadBody {
        url: format!("{}{path}", client.base_url()),
        reason: reason.to_string(),
    }
}

/// `GET /events` as it comes: [`PeerClient::events`].
#[derive(Debug)]
pub struct EventStream {
    body: ByteStream,
    decoder: SseDecoder,
    pending: std::collections::VecDeque<String>,
    /// Bytes of a UTF-8 character split across chunks.
    partial: Vec<u8>,
}

impl EventStream {
    /// The next event, or `None` when the peer ended the stream (it stopped).
    pub async fn next_event(&mut self) -> Option<Result<PeerEvent, ClientError>> {
        loop {
            if let Some(data) = self.pending.pop_front() {
                return Some(
                    serde_json::from_str(&data).map_err(|err| ClientError::BadBody {
                        url: self.body.url().to_owned(),
                        reason: err.to_string(),
                    }),
                );
            }
            let chunk = match self.body.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return None,
                Err(err) => return Some(Err(err)),
            };
            self.partial.extend_from_slice(&chunk);
            let valid = match std::str::from_utf8(&self.partial) {
                Ok(text) => text.len(),
                Err(err) if err.error_len().is_none() => err.valid_up_to(),
                Err(err) => {
                    return Some(Err(ClientError::BadBody {
                        url: self.body.url().to_owned(),
                        reason: err.to_string(),
                    }));
                }
            };
            let rest = self.partial.split_off(valid);
            let text = String::from_utf8(std::mem::replace(&mut self.partial, rest))
                .expect("checked as UTF-8 above");
            self.pending.extend(self.decoder.feed(&text));
        }
    }
}

impl PeerClient {
    /// `GET /events?types=`: the node's changes from now on, as they happen (all kinds when
    /// `kinds` is `None`). Returns once the peer has subscribed this client: every change after
    /// that is in the stream.
    pub async fn events(&self, kinds: Option<&[&str]>) -> Result<EventStream, ClientError> {
        let query = EventsQuery {
            types: kinds.map(|kinds| kinds.join(",")),
        };
        let mut body = self.rest.get_stream(paths::peer::EVENTS, &query).await?;
        // The peer opens the stream with a comment once it has subscribed this client.
        let mut decoder = SseDecoder::default();
        let mut pending = std::collections::VecDeque::new();
        let mut opened = Vec::new();
        while !opened.ends_with(b"\n\n") {
            match body.chunk().await? {
                Some(chunk) => opened.extend_from_slice(&chunk),
                None => break,
            }
        }
        pending.extend(decoder.feed(&String::from_utf8_lossy(&opened)));
        Ok(EventStream {
            body,
            decoder,
            pending,
            partial: Vec::new(),
        })
    }

    /// `GET /chain`: the tip, its height and work.
    pub async fn chain(&self) -> Result<ChainInfo, ClientError> {
        self.rest.get_json(paths::peer::CHAIN).await
    }

    /// `GET /chain/tips?min_height=`: the leaves of the block tree, highest first (all of them
    /// without `min_height`).
    pub async fn chain_tips(
        &self,
        min_height: Option<u32>,
    ) -> Result<Vec<ChainTipView>, ClientError> {
        self.rest
            .get_json_with_query(paths::peer::CHAIN_TIPS, &ChainTipsQuery { min_height })
            .await
    }

    /// `GET /chain?wait_tip=&wait_ms=`: a long poll, answered as soon as the tip is not `tip`,
    /// or after `wait` (at most 30 s) with the tip unchanged. The client's own timeout must
    /// exceed `wait`.
    pub async fn chain_wait(
        &self,
        tip: &BlockHash,
        wait: std::time::Duration,
    ) -> Result<ChainInfo, ClientError> {
        let query = ChainQuery {
            wait_tip: Some(tip.to_string()),
            wait_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
        };
        self.rest
            .get_json_with_query(paths::peer::CHAIN, &query)
            .await
    }

    /// `GET /blocks?from=&count=`: blocks of the active chain.
    pub async fn blocks(
        &self,
        from: u32,
        count: Option<u32>,
    ) -> Result<Vec<BlockView>, ClientError> {
        self.rest
            .get_json_with_query(paths::peer::BLOCKS, &BlocksQuery { from, count })
            .await
    }

    /// `GET /blocks/{hash}`.
    pub async fn block(&self, hash: &BlockHash) -> Result<BlockView, ClientError> {
        self.rest.get_json(&paths::peer::block(hash)).await
    }

    /// `GET /blocks/height/{height}`: the active chain's block at `height`.
    pub async fn block_at(&self, height: u32) -> Result<BlockView, ClientError> {
        self.rest.get_json(&paths::peer::block_at(height)).await
    }

    /// `GET /blocks/{hash}/header`, decoded.
    pub async fn block_header(&self, hash: &BlockHash) -> Result<Header, ClientError> {
        let path = paths::peer::block_header(hash);
        // The peer answers the hex as plain text, not as a JSON string.
        let hex = self.rest.get_text(&path).await?;
        decode_hex(hex.trim()).map_err(|err| bad_body(&self.rest, &path, err))
    }

    /// `GET /headers?from=&count=`: headers of the active chain, decoded.
    pub async fn headers(&self, from: u32, count: Option<u32>) -> Result<Vec<Header>, ClientError> {
        let hexes: Vec<String> = self
            .rest
            .get_json_with_query(paths::peer::HEADERS, &HeadersQuery { from, count })
            .await?;
        hexes
            .iter()
            .map(|hex| decode_hex(hex))
            .collect::<Result<_, _>>()
            .map_err(|err| bad_body(&self.rest, paths::peer::HEADERS, err))
    }

    /// `POST /blocks`: submits a block.
    pub async fn submit_block(&self, block: &Block) -> Result<SubmitBlockResponse, ClientError> {
        let request = SubmitBlockRequest {
            hex: encode_hex(block),
        };
        self.rest.post_json(paths::peer::BLOCKS, &request).await
    }

    /// `GET /blocks/template?address=`: a block template paying `to`.
    pub async fn template(&self, to: &Address) -> Result<BlockTemplate, ClientError> {
        let query = TemplateQuery {
            address: to.to_string(),
        };
        self.rest
            .get_json_with_query(paths::peer::TEMPLATE, &query)
            .await
    }

    /// `POST /sync`: the blocks after the fork point of `request.locator`.
    pub async fn sync(&self, request: &SyncRequest) -> Result<Vec<BlockView>, ClientError> {
        self.rest.post_json(paths::peer::SYNC, request).await
    }

    /// `POST /transactions`: submits a transaction to the mempool.
    pub async fn submit_transaction(
        &self,
        tx: &Transaction,
    ) -> Result<SubmitTransactionResponse, ClientError> {
        let request = TransactionRequest {
            hex: encode_hex(tx),
        };
        self.rest
            .post_json(paths::peer::TRANSACTIONS, &request)
            .await
    }

    /// `POST /transactions/verify`: checks a transaction without keeping it (the book's
    /// verify.py).
    pub async fn verify(&self, tx: &Transaction) -> Result<VerifyResponse, ClientError> {
        let request = TransactionRequest {
            hex: encode_hex(tx),
        };
        self.rest.post_json(paths::peer::VERIFY, &request).await
    }

    /// `GET /transactions/{txid}`.
    pub async fn transaction(&self, txid: &Txid) -> Result<TransactionInfo, ClientError> {
        self.rest.get_json(&paths::peer::transaction(txid)).await
    }

    /// `GET /transactions/{txid}/merkle-proof`.
    pub async fn merkle_proof(&self, txid: &Txid) -> Result<MerkleProofView, ClientError> {
        self.rest.get_json(&paths::peer::merkle_proof(txid)).await
    }

    /// `GET /transactions/{txid}/outspends`: where each output of the transaction went.
    pub async fn outspends(&self, txid: &Txid) -> Result<Vec<OutspendView>, ClientError> {
        self.rest.get_json(&paths::peer::outspends(txid)).await
    }

    /// `GET /mempool`.
    pub async fn mempool(&self) -> Result<MempoolView, ClientError> {
        self.rest.get_json(paths::peer::MEMPOOL).await
    }

    /// `GET /addresses/{address}`: totals of the address's history.
    pub async fn address(&self, address: &Address) -> Result<AddressInfo, ClientError> {
        self.rest.get_json(&paths::peer::address(address)).await
    }

    /// `GET /addresses/{address}/transactions?after_txid=&limit=`: one page of its history.
    pub async fn address_transactions(
        &self,
        address: &Address,
        after: Option<&Txid>,
        limit: Option<u32>,
    ) -> Result<Vec<AddressTxView>, ClientError> {
        let query = AddressTxsQuery {
            after_txid: after.map(Txid::to_string),
            limit,
        };
        self.rest
            .get_json_with_query(&paths::peer::address_transactions(address), &query)
            .await
    }

    /// `GET /addresses/{address}/utxos`.
    pub async fn utxos(&self, address: &Address) -> Result<Vec<UtxoView>, ClientError> {
        self.rest.get_json(&paths::peer::utxos(address)).await
    }

    /// `GET /addresses/{address}/balance`.
    pub async fn balance(&self, address: &Address) -> Result<Balance, ClientError> {
        self.rest.get_json(&paths::peer::balance(address)).await
    }

    /// `POST /addresses/utxos`: outputs and balance of many addresses at once, in order.
    pub async fn addresses_utxos(
        &self,
        addresses: &[Address],
    ) -> Result<Vec<AddressUtxos>, ClientError> {
        let request = AddressesRequest {
            addresses: addresses.iter().map(Address::to_string).collect(),
        };
        self.rest
            .post_json(paths::peer::ADDRESSES_UTXOS, &request)
            .await
    }

    /// `GET /peers`.
    pub async fn peers(&self) -> Result<Vec<PeerView>, ClientError> {
        self.rest.get_json(paths::peer::PEERS).await
    }

    /// `POST /peers` (token): adds a peer by URL.
    pub async fn add_peer(&self, url: &str) -> Result<Vec<PeerView>, ClientError> {
        let request = AddPeerRequest {
            url: url.to_owned(),
        };
        self.rest.post_json(paths::peer::PEERS, &request).await
    }
}
