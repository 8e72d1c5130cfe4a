//! `mycoin`, the command line of mycoin: the book's scripts (`python key.py`, `sign.py`,
//! `verify.py`, `mine.py`, `wallet.py`) as `mycoin key`, `send`, `verify`, `mine`, `wallet`,
//! and the rest of the four services' APIs, through the typed clients of `mycoin-api`.
//!
//! - Amounts are read and shown in coins with up to 8 decimals (`0.6`), or in base units with
//!   the suffix `u` (`60000000u`): [`mycoin_core::Amount::parse_coins`].
//! - `--user N` picks that user's default ports (peer 800N, keys 801N, wallet 802N, miner
//!   803N, as `mycoind --user N`) and data directory `./data/userN`, whose `api-token` file
//!   authorises the calls that need it. Each service URL can be set by flag or environment.
//! - `--json` prints the services' answers as JSON, one document per command.
//! - Errors are one line on stderr; the exit code says what kind ([`Failure`]).

pub mod proof;

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use mycoin_api::client::{
    ClientError, Fee, KeysClient, MinerClient, PeerClient, RestClient, WalletClient,
};
use mycoin_api::peer::{AddressTxView, MAX_HEADERS_PER_REQUEST, TxInputView, decode_hex};
use mycoin_core::{Address, Amount, BlockHash, Header, Network, Transaction, Txid};
use mycoin_web::{ApiToken, ServiceKind};
use serde::Serialize;

/// Exit code of a usage error (clap's own, for bad flags too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when a service refused the request (an HTTP error answer).
pub const EXIT_REFUSED: u8 = 3;
/// Exit code when a service cannot be reached or did not answer in time.
pub const EXIT_UNREACHABLE: u8 = 4;
/// Exit code when a check failed: `verify` of an invalid transaction, `proof` that does not
/// check.
pub const EXIT_CHECK_FAILED: u8 = 5;
/// Exit code of any other failure (an answer the command cannot read, a file).
pub const EXIT_OTHER: u8 = 1;

/// The command line of mycoin's four services (the book's scripts, and the rest).
#[derive(Debug, Parser)]
#[command(name = "mycoin", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the services are, and how to print.
#[derive(Debug, Args)]
pub struct Global {
    /// Which user's stack: the default ports (peer 800N, keys 801N, wallet 802N, miner 803N)
    /// and data directory (./data/userN).
    #[arg(long, global = true, env = "MYCOIN_USER", default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=9))]
    pub user: u16,
    /// Host of the default service URLs.
    #[arg(long, global = true, env = "MYCOIN_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// The peer service [default: http://HOST:800N].
    #[arg(long, global = true, env = "MYCOIN_PEER_URL", value_name = "URL")]
    pub peer_url: Option<String>,
    /// The keys service [default: http://HOST:801N].
    #[arg(long, global = true, env = "MYCOIN_KEYS_URL", value_name = "URL")]
    pub keys_url: Option<String>,
    /// The wallet service [default: http://HOST:802N].
    #[arg(long, global = true, env = "MYCOIN_WALLET_URL", value_name = "URL")]
    pub wallet_url: Option<String>,
    /// The miner service [default: http://HOST:803N].
    #[arg(long, global = true, env = "MYCOIN_MINER_URL", value_name = "URL")]
    pub miner_url: Option<String>,
    /// The data directory holding the stack's `api-token` [default: ./data/userN].
    #[arg(long, global = true, env = "MYCOIN_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The stack's API token [default: read from DIR/api-token].
    #[arg(long, global = true, env = "MYCOIN_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Seconds to wait for an answer (mining a block may take long on the demo network).
    #[arg(
        long,
        global = true,
        env = "MYCOIN_TIMEOUT",
        default_value_t = 600,
        value_name = "SECS"
    )]
    pub timeout: u64,
    /// Print the answers as JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Key pairs of the keys service (the book's key.py).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Pays AMOUNT to the address TO from the wallet (the book's sign.py).
    Send {
        /// Address to pay.
        to: String,
        /// Coins with up to 8 decimals (0.6), or base units with the suffix u (60000000u).
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// The fee, as AMOUNT is written.
        #[arg(long, conflicts_with = "fee_rate")]
        fee: Option<String>,
        /// Instead of --fee: base units per byte of the transaction [default: 1].
        #[arg(long, value_name = "UNITS_PER_BYTE")]
        fee_rate: Option<u64>,
    },
    /// Checks a transaction against the peer's chain (the book's verify.py): a txid the peer
    /// knows, or a transaction's hex.
    Verify {
        /// A txid (64 hex digits) or a raw transaction in hex.
        tx: String,
    },
    /// Mines blocks (the book's mine.py).
    Mine {
        /// Address the block rewards pay [default: a fresh key of the keys service].
        #[arg(long)]
        to: Option<String>,
        /// How many blocks.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        count: u32,
    },
    /// The wallet: balance, unspent keys, unused keys (the book's wallet.py).
    Wallet,
    /// The background miner.
    #[command(subcommand)]
    Miner(MinerCommand),
    /// The peer's chain: network, height, tip.
    Chain,
    /// A block, by hash or height.
    Block {
        /// Block hash (64 hex digits) or height.
        id: String,
    },
    /// A transaction and where it is.
    Tx {
        /// The txid.
        txid: String,
    },
    /// Transactions of an address (the peer's index), or of the wallet without ADDR.
    History {
        /// An address.
        address: Option<String>,
    },
    /// The peer's mempool.
    Mempool,
    /// The peer's neighbours.
    Peers {
        #[command(subcommand)]
        command: Option<PeersCommand>,
    },
    /// Checks that a transaction is in a block, here: the proof and the headers from genesis
    /// are fetched from the peer and checked with the core's light-client code.
    Proof {
        /// The txid.
        txid: String,
    },
    /// Shows the wallet's BIP39 mnemonic, once: write it down, it is the backup of every
    /// derived key (a secret; the keys service never shows it again).
    Seed,
    /// Restores the wallet of a mnemonic (read from stdin) into this stack's empty wallet,
    /// rescanning the peer's address index (docs/WALLET.md).
    Restore {
        /// BIP39's optional passphrase (a wrong one gives another, empty wallet).
        #[arg(long)]
        passphrase: Option<String>,
    },
    /// Prints shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Prints the man page (roff).
    Man,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Makes a new key pair.
    New,
    /// Lists the keys.
    List,
    /// Shows one key.
    Show { address: String },
    /// Prints a key's private key as WIF (a secret).
    Export { address: String },
    /// Imports a private key given as WIF (read from stdin without WIF or with `-`).
    Import { wif: Option<String> },
}

#[derive(Debug, Subcommand)]
pub enum MinerCommand {
    /// Starts mining in the background.
    Start {
        /// Address the rewards pay [default: a fresh key].
        #[arg(long)]
        to: Option<String>,
    },
    /// Stops background mining.
    Stop,
    /// Shows the miner's state.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum PeersCommand {
    /// Adds a peer by URL (http://HOST:PORT).
    Add { url: String },
}

/// Why a command failed, with its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Bad input on the command line.
    Usage(String),
    /// The service answered with an error.
    Refused(String),
    /// The service cannot be reached.
    Unreachable(String),
    /// A check failed (an invalid transaction, a proof that does not check).
    Check(String),
    /// Anything else.
    Other(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Refused(_) => EXIT_REFUSED,
            Failure::Unreachable(_) => EXIT_UNREACHABLE,
            Failure::Check(_) => EXIT_CHECK_FAILED,
            Failure::Other(_) => EXIT_OTHER,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Usage(m)
            | Failure::Refused(m)
            | Failure::Unreachable(m)
            | Failure::Check(m)
            | Failure::Other(m) => m,
        }
    }
}

/// A failed call to `service`, in one line.
fn call_failure(service: &str, err: ClientError) -> Failure {
    match err {
        ClientError::Unreachable { url, .. } => Failure::Unreachable(format!(
            "the {service} service at {} cannot be reached (is mycoind running? see --user and --{service}-url)",
            origin(&url)
        )),
        ClientError::Timeout { url, timeout } => Failure::Unreachable(format!(
            "the {service} service at {} did not answer within {}s",
            origin(&url),
            timeout.as_secs()
        )),
        ClientError::Status { status, body, .. } => Failure::Refused(match body {
            Some(body) => format!(
                "the {service} service refused (HTTP {status} {}): {}",
                body.error, body.message
            ),
            None => format!("the {service} service refused (HTTP {status})"),
        }),
        ClientError::InvalidUrl { url, reason } => {
            Failure::Usage(format!("invalid {service} service URL {url:?}: {reason}"))
        }
        other => Failure::Other(format!("the {service} service: {other}")),
    }
}

fn origin(url: &str) -> String {
    url.split('/').take(3).collect::<Vec<_>>().join("/")
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::Usage(message.into())
}

fn parse_address(text: &str) -> Result<Address, Failure> {
    text.parse::<Address>()
        .map_err(|err| usage(format!("{text:?} is not an address: {err}")))
}

fn parse_txid(text: &str) -> Result<Txid, Failure> {
    text.parse::<Txid>()
        .map_err(|err| usage(format!("{text:?} is not a txid: {err}")))
}

fn parse_amount(text: &str) -> Result<Amount, Failure> {
    Amount::parse_coins(text).map_err(|err| usage(err.to_string()))
}

/// Connections to the four services, made from the flags.
struct Services {
    global: Global,
}

impl Services {
    fn url(&self, kind: ServiceKind) -> String {
        let explicit = match kind {
            ServiceKind::Peer => &self.global.peer_url,
            ServiceKind::Keys => &self.global.keys_url,
            ServiceKind::Wallet => &self.global.wallet_url,
            ServiceKind::Miner => &self.global.miner_url,
            ServiceKind::Explorer => &None,
        };
        explicit.clone().unwrap_or_else(|| {
            format!(
                "http://{}:{}",
                self.global.host,
                kind.default_port(self.global.user)
            )
        })
    }

    /// The token: `--api-token`, or DIR/api-token when it can be read.
    fn token(&self) -> Result<Option<ApiToken>, Failure> {
        if let Some(token) = &self.global.api_token {
            return ApiToken::new(token.clone())
                .map(Some)
                .map_err(|err| usage(format!("--api-token: {err}")));
        }
        let dir = self
            .global
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("./data/user{}", self.global.user)));
        let path = dir.join("api-token");
        if !path.exists() {
            return Ok(None);
        }
        ApiToken::load(&path).map(Some).map_err(|err| {
            Failure::Other(format!(
                "cannot read the API token {}: {err}",
                path.display()
            ))
        })
    }

    fn rest(&self, kind: ServiceKind) -> Result<RestClient, Failure> {
        let rest = RestClient::new(self.url(kind), Duration::from_secs(self.global.timeout))
            .map_err(|err| call_failure(kind.as_str(), err))?;
        Ok(match self.token()? {
            Some(token) => rest.with_token(token),
            None => rest,
        })
    }

    fn keys(&self) -> Result<KeysClient, Failure> {
        Ok(KeysClient::new(self.rest(ServiceKind::Keys)?))
    }
    fn wallet(&self) -> Result<WalletClient, Failure> {
        Ok(WalletClient::new(self.rest(ServiceKind::Wallet)?))
    }
    fn miner(&self) -> Result<MinerClient, Failure> {
        Ok(MinerClient::new(self.rest(ServiceKind::Miner)?))
    }
    fn peer(&self) -> Result<PeerClient, Failure> {
        Ok(PeerClient::new(self.rest(ServiceKind::Peer)?))
    }
}

/// Output of one command: JSON with `--json`, text otherwise.
struct Out {
    json: bool,
    text: String,
}

impl Out {
    fn new(json: bool) -> Self {
        Out {
            json,
            text: String::new(),
        }
    }

    fn line(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    /// Prints `value` as JSON, or the text gathered with [`Out::line`].
    fn finish(self, value: &impl Serialize) -> Result<(), Failure> {
        let mut stdout = std::io::stdout().lock();
        let written = if self.json {
            let json = serde_json::to_string_pretty(value)
                .map_err(|err| Failure::Other(err.to_string()))?;
            writeln!(stdout, "{json}")
        } else {
            write!(stdout, "{}", self.text)
        };
        written.map_err(|err| Failure::Other(format!("cannot write the output: {err}")))
    }
}

fn coins(units: u64) -> String {
    Amount::from_units(units).map_or_else(|_| format!("{units}u"), Amount::to_coins_string)
}

fn snake(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// A plain text table: a header row, then rows, columns padded to their widest cell.
fn table(out: &mut Out, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    out.line(format!(
        "  {}",
        render(header.iter().map(|h| h.to_string()).collect())
    ));
    for row in rows {
        out.line(format!("  {}", render(row.clone())));
    }
}

/// Runs `mycoin` with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("mycoin: cannot start: {err}");
            return ExitCode::from(EXIT_OTHER);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("mycoin: {}", failure.message());
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Runs one parsed command.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let json = cli.global.json;
    let services = Services { global: cli.global };
    let mut out = Out::new(json);
    match cli.command {
        Command::Key(command) => key(&services, command, out).await,
        Command::Send {
            to,
            amount,
            fee,
            fee_rate,
        } => {
            let to = parse_address(&to)?;
            let amount = parse_amount(&amount)?;
            let fee = match (fee, fee_rate) {
                (Some(fee), _) => Fee::Fixed(parse_amount(&fee)?),
                (None, Some(rate)) => Fee::Rate(rate),
                (None, None) => Fee::Rate(1),
            };
            let sent = services
                .wallet()?
                .send(&to, amount, fee)
                .await
                .map_err(|err| call_failure("wallet", err))?;
            out.line(format!("txid    {}", sent.txid));
            out.line(format!("paid    {} to {to}", amount.to_coins_string()));
            out.line(format!("fee     {}", coins(sent.fee)));
            if let Some(change) = &sent.change_address {
                out.line(format!("change  {change}"));
            }
            out.line(format!("inputs  {}", sent.inputs.join(", ")));
            out.finish(&sent)
        }
        Command::Verify { tx } => verify(&services, &tx, out).await,
        Command::Mine { to, count } => mine(&services, to, count, out).await,
        Command::Wallet => {
            let view = services
                .wallet()?
                .view()
                .await
                .map_err(|err| call_failure("wallet", err))?;
            let b = &view.balance;
            out.line(format!(
                "balance  {} (pending {}, immature {})",
                coins(b.confirmed),
                coins(b.pending),
                coins(b.immature)
            ));
            out.line(format!("unspent keys ({})", view.unspent_keys.len()));
            let rows: Vec<Vec<String>> = view
                .unspent_keys
                .iter()
                .map(|k| vec![k.address.clone(), coins(k.amount), k.outputs.to_string()])
                .collect();
            table(&mut out, &["address", "amount", "outputs"], &rows);
            out.line(format!("unused keys ({})", view.unused_keys.len()));
            let rows: Vec<Vec<String>> = view
                .unused_keys
                .iter()
                .map(|k| vec![k.address.clone()])
                .collect();
            table(&mut out, &["address"], &rows);
            out.finish(&view)
        }
        Command::Miner(command) => {
            let miner = services.miner()?;
            let status = match command {
                MinerCommand::Start { to } => {
                    let to = to.as_deref().map(parse_address).transpose()?;
                    miner.start(to.as_ref()).await
                }
                MinerCommand::Stop => miner.stop().await,
                MinerCommand::Status => miner.status().await,
            }
            .map_err(|err| call_failure("miner", err))?;
            out.line(format!(
                "running       {}",
                if status.running { "yes" } else { "no" }
            ));
            out.line(format!("hash rate     {:.0} nonces/s", status.hash_rate));
            out.line(format!("blocks found  {}", status.blocks_found));
            out.line(format!(
                "threads       {} ({})",
                status.threads,
                snake(&status.backend)
            ));
            if let Some(address) = &status.address {
                out.line(format!("paying        {address}"));
            }
            if let Some(error) = &status.last_error {
                out.line(format!("last error    {error}"));
            }
            out.finish(&status)
        }
        Command::Chain => {
            let chain = services
                .peer()?
                .chain()
                .await
                .map_err(|err| call_failure("peer", err))?;
            out.line(format!("network   {}", chain.network));
            out.line(format!("height    {}", chain.height));
            out.line(format!("tip       {}", chain.tip));
            out.line(format!("genesis   {}", chain.genesis));
            out.line(format!("work      {}", chain.total_work));
            out.line(format!("mempool   {} transactions", chain.mempool_size));
            out.finish(&chain)
        }
        Command::Block { id } => {
            let peer = services.peer()?;
            let block = if let Ok(height) = id.parse::<u32>() {
                peer.block_at(height).await
            } else {
                let hash: BlockHash = id.parse().map_err(|err| {
                    usage(format!(
                        "{id:?} is neither a height nor a block hash: {err}"
                    ))
                })?;
                peer.block(&hash).await
            }
            .map_err(|err| call_failure("peer", err))?;
            out.line(format!("hash           {}", block.hash));
            out.line(format!("height         {}", block.height));
            out.line(format!("confirmations  {}", block.confirmations));
            out.line(format!("previous       {}", block.header.prev_hash));
            out.line(format!("merkle root    {}", block.header.merkle_root));
            out.line(format!("time           {}", block.header.time));
            out.line(format!("bits           {}", block.header.bits));
            out.line(format!("nonce          {}", block.header.nonce));
            out.line(format!("transactions   {}", block.transactions.len()));
            let rows: Vec<Vec<String>> = block
                .transactions
                .iter()
                .map(|tx| {
                    let paid: u64 = tx.outputs.iter().map(|o| o.amount).sum();
                    vec![tx.txid.to_string(), coins(paid), tx.size.to_string()]
                })
                .collect();
            table(&mut out, &["txid", "outputs", "bytes"], &rows);
            out.finish(&block)
        }
        Command::Tx { txid } => {
            let txid = parse_txid(&txid)?;
            let info = services
                .peer()?
                .transaction(&txid)
                .await
                .map_err(|err| call_failure("peer", err))?;
            out.line(format!("txid           {}", info.txid));
            out.line(format!("state          {}", snake(&info.status.state)));
            if let (Some(hash), Some(height)) = (info.status.block_hash, info.status.height) {
                out.line(format!("block          {hash} (height {height})"));
            }
            if let Some(confirmations) = info.status.confirmations {
                out.line(format!("confirmations  {confirmations}"));
            }
            out.line(format!("size           {} bytes", info.transaction.size));
            for (i, input) in info.transaction.inputs.iter().enumerate() {
                match input {
                    TxInputView::Spend { txid, vout, .. } => {
                        out.line(format!("input {i}        {txid}:{vout}"))
                    }
                    TxInputView::Coinbase { coinbase } => out.line(format!(
                        "input {i}        coinbase of block {}",
                        coinbase.height
                    )),
                }
            }
            for (i, output) in info.transaction.outputs.iter().enumerate() {
                out.line(format!(
                    "output {i}       {} to {}",
                    coins(output.amount),
                    output.address
                ));
            }
            out.finish(&info)
        }
        Command::History { address } => history(&services, address, out).await,
        Command::Mempool => {
            let mempool = services
                .peer()?
                .mempool()
                .await
                .map_err(|err| call_failure("peer", err))?;
            out.line(format!(
                "{} transactions, {} bytes",
                mempool.count, mempool.bytes
            ));
            let rows: Vec<Vec<String>> = mempool
                .transactions
                .iter()
                .map(|tx| vec![tx.txid.to_string(), coins(tx.fee), tx.size.to_string()])
                .collect();
            table(&mut out, &["txid", "fee", "bytes"], &rows);
            out.finish(&mempool)
        }
        Command::Peers { command } => {
            let peer = services.peer()?;
            let peers = match command {
                None => peer.peers().await,
                Some(PeersCommand::Add { url }) => peer.add_peer(&url).await,
            }
            .map_err(|err| call_failure("peer", err))?;
            let rows: Vec<Vec<String>> = peers
                .iter()
                .map(|p| {
                    vec![
                        p.url.clone(),
                        snake(&p.source),
                        p.height.map_or_else(|| "-".into(), |h| h.to_string()),
                        p.penalty.to_string(),
                    ]
                })
                .collect();
            out.line(format!("{} peers", peers.len()));
            table(&mut out, &["url", "source", "height", "penalty"], &rows);
            out.finish(&peers)
        }
        Command::Proof { txid } => check_proof(&services, &txid, out).await,
        Command::Seed => {
            let shown = services
                .keys()?
                .take_mnemonic()
                .await
                .map_err(|err| call_failure("keys", err))?;
            out.line(&shown.mnemonic);
            out.line(format!("language  {}", shown.language));
            for path in &shown.paths {
                out.line(format!("path      {path}"));
            }
            out.finish(&shown)
        }
        Command::Restore { passphrase } => {
            let mut mnemonic = String::new();
            std::io::stdin()
                .read_to_string(&mut mnemonic)
                .map_err(|err| Failure::Other(format!("cannot read the mnemonic: {err}")))?;
            let request = mycoin_api::seed::RestoreRequest {
                mnemonic: mnemonic.trim().to_owned(),
                passphrase,
            };
            let restored = services
                .wallet()?
                .restore(&request)
                .await
                .map_err(|err| call_failure("wallet", err))?;
            out.line(format!(
                "restored  {} receiving and {} change keys (gap limit {})",
                restored.receive_keys, restored.change_keys, restored.gap_limit
            ));
            out.finish(&restored)
        }
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "mycoin", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            let man = clap_mangen::Man::new(Cli::command());
            man.render(&mut std::io::stdout())
                .map_err(|err| Failure::Other(format!("cannot write the man page: {err}")))
        }
    }
}

async fn key(services: &Services, command: KeyCommand, mut out: Out) -> Result<(), Failure> {
    let keys = services.keys()?;
    let failed = |err| call_failure("keys", err);
    match command {
        KeyCommand::New => {
            let key = keys.create().await.map_err(failed)?;
            out.line(format!("address     {}", key.address));
            out.line(format!("public key  {}", key.public_key));
            out.finish(&key)
        }
        KeyCommand::List => {
            let list = keys.list().await.map_err(failed)?;
            out.line(format!("{} keys", list.len()));
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|k| vec![k.address.to_string(), k.public_key.to_string()])
                .collect();
            table(&mut out, &["address", "public key"], &rows);
            out.finish(&list)
        }
        KeyCommand::Show { address } => {
            let key = keys.get(&parse_address(&address)?).await.map_err(failed)?;
            out.line(format!("address     {}", key.address));
            out.line(format!("public key  {}", key.public_key));
            out.line(format!("created at  {}", key.created_at));
            out.finish(&key)
        }
        KeyCommand::Export { address } => {
            let wif = keys
                .export(&parse_address(&address)?)
                .await
                .map_err(failed)?;
            out.line(&wif.wif);
            out.finish(&wif)
        }
        KeyCommand::Import { wif } => {
            let wif = match wif.as_deref() {
                None | Some("-") => {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .map_err(|err| Failure::Other(format!("cannot read the WIF: {err}")))?;
                    text.trim().to_owned()
                }
                Some(wif) => wif.to_owned(),
            };
            let key = keys.import(&wif).await.map_err(failed)?;
            out.line(format!("imported    {}", key.address));
            out.line(format!("public key  {}", key.public_key));
            out.finish(&key)
        }
    }
}

async fn verify(services: &Services, text: &str, mut out: Out) -> Result<(), Failure> {
    let peer = services.peer()?;
    let failed = |err| call_failure("peer", err);
    let tx: Transaction = if text.len() == 64 {
        let txid = parse_txid(text)?;
        let info = peer.transaction(&txid).await.map_err(failed)?;
        decode_hex(&info.hex)
            .map_err(|err| Failure::Other(format!("the peer's transaction {txid}: {err}")))?
    } else {
        decode_hex(text).map_err(|err| {
            usage(format!(
                "{} is neither a txid nor a transaction's hex: {err}",
                abbreviate(text)
            ))
        })?
    };
    let verdict = peer.verify(&tx).await.map_err(failed)?;
    out.line(format!("txid   {}", verdict.txid));
    match &verdict.error {
        None => out.line("valid  yes"),
        Some(error) => out.line(format!("valid  no: {} ({})", error.message, error.error)),
    }
    if let Some(fee) = verdict.fee {
        out.line(format!("fee    {}", coins(fee)));
    }
    for input in &verdict.inputs {
        out.line(format!(
            "input {}  {}  {}  {}",
            input.index,
            input.prevout,
            input.amount.map_or_else(|| "-".into(), coins),
            if input.valid { "ok" } else { "bad" }
        ));
    }
    let valid = verdict.valid;
    out.finish(&verdict)?;
    if valid {
        Ok(())
    } else {
        Err(Failure::Check(format!(
            "transaction {} is not valid",
            verdict.txid
        )))
    }
}

fn abbreviate(text: &str) -> String {
    if text.chars().count() > 20 {
        format!("{}…", text.chars().take(20).collect::<String>())
    } else {
        format!("{text:?}")
    }
}

async fn mine(
    services: &Services,
    to: Option<String>,
    count: u32,
    mut out: Out,
) -> Result<(), Failure> {
    let to = to.as_deref().map(parse_address).transpose()?;
    let miner = services.miner()?;
    let bar = if out.json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(u64::from(count));
        bar.set_style(
            ProgressStyle::with_template("{spinner} mining {pos}/{len} [{bar:30}] {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    };
    let mut mined = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let block = match miner.mine(to.as_ref()).await {
            Ok(block) => block,
            Err(err) => {
                bar.abandon();
                return Err(call_failure("miner", err));
            }
        };
        bar.set_message(format!("height {}", block.height));
        bar.inc(1);
        out.line(format!(
            "block {} {} ({}) paying {} after {} nonces",
            block.height,
            block.hash,
            snake(&block.status),
            block.address,
            block.attempts
        ));
        mined.push(block);
    }
    bar.finish_and_clear();
    out.finish(&mined)
}

async fn history(
    services: &Services,
    address: Option<String>,
    mut out: Out,
) -> Result<(), Failure> {
    match address {
        None => {
            let entries = services
                .wallet()?
                .history()
                .await
                .map_err(|err| call_failure("wallet", err))?;
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.txid.to_string(),
                        snake(&e.status),
                        e.height.map_or_else(|| "-".into(), |h| h.to_string()),
                        coins(e.received),
                        coins(e.sent),
                        coins(e.fee),
                        if e.verified { "yes" } else { "no" }.into(),
                    ]
                })
                .collect();
            out.line(format!("{} transactions", entries.len()));
            table(
                &mut out,
                &[
                    "txid", "status", "height", "received", "sent", "fee", "verified",
                ],
                &rows,
            );
            out.finish(&entries)
        }
        Some(address) => {
            let address = parse_address(&address)?;
            let peer = services.peer()?;
            let mut all: Vec<AddressTxView> = Vec::new();
            loop {
                let after = all.last().map(|view| view.txid);
                let page = peer
                    .address_transactions(&address, after.as_ref(), None)
                    .await
                    .map_err(|err| call_failure("peer", err))?;
                if page.is_empty() {
                    break;
                }
                all.extend(page);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|t| {
                    vec![
                        t.txid.to_string(),
                        snake(&t.status.state),
                        t.status
                            .height
                            .map_or_else(|| "-".into(), |h| h.to_string()),
                        coins(t.received),
                        coins(t.sent),
                    ]
                })
                .collect();
            out.line(format!("{} transactions of {address}", all.len()));
            table(
                &mut out,
                &["txid", "state", "height", "received", "sent"],
                &rows,
            );
            out.finish(&all)
        }
    }
}

/// Headers of the peer's active chain from genesis up to `height` at least.
async fn headers_up_to(peer: &PeerClient, height: u32) -> Result<Vec<Header>, Failure> {
    let mut headers: Vec<Header> = Vec::new();
    loop {
        let from = u32::try_from(headers.len()).unwrap_or(u32::MAX);
        let page = peer
            .headers(from, Some(MAX_HEADERS_PER_REQUEST))
            .await
            .map_err(|err| call_failure("peer", err))?;
        let full = page.len() == MAX_HEADERS_PER_REQUEST as usize;
        headers.extend(page);
        if !full || headers.len() > height as usize {
            return Ok(headers);
        }
    }
}

async fn check_proof(services: &Services, txid: &str, mut out: Out) -> Result<(), Failure> {
    let txid = parse_txid(txid)?;
    let peer = services.peer()?;
    let failed = |err| call_failure("peer", err);
    let chain = peer.chain().await.map_err(failed)?;
    let network: Network = chain.network.parse().map_err(|_| {
        Failure::Other(format!(
            "the peer runs an unknown network {:?}",
            chain.network
        ))
    })?;
    let merkle = peer.merkle_proof(&txid).await.map_err(failed)?;
    let info = peer.transaction(&txid).await.map_err(failed)?;
    let headers = headers_up_to(&peer, merkle.block_height).await?;
    let checked = proof::check_proof(network, &txid, &info.hex, &merkle, &headers)
        .map_err(|err| Failure::Check(format!("proof refused: {err}")))?;
    out.line(format!("txid         {}", checked.txid));
    out.line(format!("wtxid        {}", checked.wtxid));
    out.line(format!(
        "block        {} (height {}, position {})",
        checked.block_hash, checked.height, checked.position
    ));
    out.line(format!(
        "headers      {} checked from genesis ({} network)",
        checked.headers_checked,
        network.name()
    ));
    out.line("path");
    for step in &checked.path {
        out.line(format!(
            "  level {}  {} ({}) + sibling {}",
            step.level, step.node, step.side, step.sibling
        ));
    }
    out.line(format!(
        "merkle root  {} = the header's",
        checked.merkle_root
    ));
    out.line("proof        valid");
    out.finish(&checked)
}

/// The help of every command is well formed (clap's own checks).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn user_n_picks_the_books_ports_and_flags_override_them() {
        let cli = Cli::parse_from(["mycoin", "--user", "2", "chain"]);
        let services = Services { global: cli.global };
        assert_eq!(services.url(ServiceKind::Peer), "http://127.0.0.1:8002");
        assert_eq!(services.url(ServiceKind::Keys), "http://127.0.0.1:8012");
        assert_eq!(services.url(ServiceKind::Wallet), "http://127.0.0.1:8022");
        assert_eq!(services.url(ServiceKind::Miner), "http://127.0.0.1:8032");
        let cli = Cli::parse_from(["mycoin", "--peer-url", "http://h:1", "chain"]);
        let services = Services { global: cli.global };
        assert_eq!(services.url(ServiceKind::Peer), "http://h:1");
        assert!(Cli::try_parse_from(["mycoin", "--user", "10", "chain"]).is_err());
    }
}
