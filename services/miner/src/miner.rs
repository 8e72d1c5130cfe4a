//! The miner: template → nonce search → submit, once ([`Miner::mine_block`]) or in the
//! background ([`Miner::start`], [`Miner::stop`]).
//!
//! The search runs on blocking threads ([`crate::search`]); meanwhile the async side holds a
//! long poll on the peer's tip (`GET /chain?wait_tip=`) and abandons a template as soon as its
//! parent is no longer the tip. When the 32-bit nonce space runs out, the header time goes up by
//! a second and the search starts again.
//!
//! The background miner counts what its share of blocks loses to timing: the seconds it hashed
//! on a parent the peer had already left (from the moment the peer took the new tip, which the
//! peer reports as `tip_age_ms`, to the moment the search stopped), and the seconds it did not
//! hash at all between searches (submission, template, errors).

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use mycoin_api::client::{KeysClient, PeerClient};
use mycoin_api::miner::{BackendRate, MinerStatus, SearchBackend};
use mycoin_api::peer::{BlockStatus, BlockView, SubmitBlockResponse, decode_hex};
use mycoin_core::validation::check_proof_of_work;
use mycoin_core::{Block, BlockHash, Network};
use mycoin_web::{ClientError, RestClient};
use tokio::task::JoinHandle;

use crate::configuration::Settings;
use crate::error::MinerError;
use crate::search::{Backend, NONCE_SPACE, Outcome, Priority, Target, search_with};

/// Pause of the background miner after a failure (e.g. the peer service unreachable).
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// How long `stop` waits for the background task to end.
const STOP_WAIT: Duration = Duration::from_secs(10);
/// How long one long poll on the peer's tip waits before it is asked again.
const TIP_WAIT: Duration = Duration::from_secs(5);

/// A block found and submitted.
#[derive(Debug, Clone)]
pub struct Mined {
    /// The block hash.
    pub hash: BlockHash,
    /// Its height.
    pub height: u32,
    /// Nonces hashed, over every template and header time tried.
    pub attempts: u64,
    /// From the first template to the found nonce.
    pub elapsed: Duration,
    /// The address paid.
    pub address: String,
    /// What the peer made of it.
    pub status: BlockStatus,
    /// The block as the peer shows it.
    pub block: BlockView,
}

impl Mined {
    /// Nonces per second.
    pub fn rate(&self) -> f64 {
        rate(self.attempts, self.elapsed)
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn rate(attempts: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        attempts as f64 / secs
    } else {
        0.0
    }
}

/// The running background miner.
#[derive(Debug)]
struct Background {
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

/// The miner service's state, shared by the handlers and the background task.
#[derive(Debug)]
pub struct Miner {
    network: Network,
    threads: usize,
    /// How the search hashes: measured at start or forced by the settings.
    backend: Backend,
    backend_forced: bool,
    /// Each backend this CPU runs with its measured rate (one thread).
    backend_rates: Vec<(Backend, f64)>,
    tip_poll: Duration,
    peer: PeerClient,
    /// The peer with a timeout above [`TIP_WAIT`], for the long poll on the tip.
    peer_tip: PeerClient,
    keys: KeysClient,
    /// Nonces hashed by every search of the service.
    total_hashes: Arc<AtomicU64>,
    /// Nonces per second over the last second, as `f64` bits.
    hash_rate: AtomicU64,
    blocks_found: AtomicU64,
    /// Nanoseconds the background miner hashed on a parent that was no longer the peer's tip.
    stale_nanos: AtomicU64,
    /// Nanoseconds the background miner spent between two searches.
    idle_nanos: AtomicU64,
    /// Tips (parents) the background miner searched on.
    tips: AtomicU64,
    /// While background mining runs: when the last search ended, and on which parent.
    last_search: Mutex<Option<(Instant, BlockHash)>>,
    background: tokio::sync::Mutex<Option<Background>>,
    /// Whether background mining runs (readable without awaiting the lock above).
    running: AtomicBool,
    address: Mutex<Option<String>>,
    last_error: Mutex<Option<String>>,
}

/// Raises a stop flag when dropped: a search outlives no request that was cancelled.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Miner {
    /// The miner of `settings`, with its clients for the peer and keys services. Times the
    /// search's backends unless the process already did ([`crate::search::fastest`], a
    /// fraction of a second, blocking); a forced backend this CPU lacks falls back to the
    /// measured choice ([`crate::build`] refuses it first).
    pub fn new(settings: &Settings) -> Result<Miner, ClientError> {
        let measured = crate::search::fastest();
        let forced = settings
            .backend
            .forced()
            .filter(|backend| backend.is_available());
        let with_token = |client: RestClient| match &settings.server.api_token {
            Some(token) => client.with_token(token.clone()),
            None => client,
        };
        let tip_timeout = TIP_WAIT + settings.client_timeout.min(Duration::from_secs(5));
        Ok(Miner {
            network: settings.network,
            threads: settings.threads.max(1),
            backend: forced.unwrap_or(measured.chosen),
            backend_forced: forced.is_some(),
            backend_rates: measured.rates.clone(),
            tip_poll: settings.tip_poll,
            peer: PeerClient::new(with_token(RestClient::new(
                &settings.peer_url,
                settings.client_timeout,
            )?)),
            peer_tip: PeerClient::new(with_token(RestClient::new(
                &settings.peer_url,
                tip_timeout,
            )?)),
            keys: KeysClient::new(with_token(RestClient::new(
                &settings.keys_url,
                settings.client_timeout,
            )?)),
            total_hashes: Arc::new(AtomicU64::new(0)),
            hash_rate: AtomicU64::new(0f64.to_bits()),
            blocks_found: AtomicU64::new(0),
            stale_nanos: AtomicU64::new(0),
            idle_nanos: AtomicU64::new(0),
            tips: AtomicU64::new(0),
            last_search: Mutex::new(None),
            background: tokio::sync::Mutex::new(None),
            running: AtomicBool::new(false),
            address: Mutex::new(None),
            last_error: Mutex::new(None),
        })
    }

    /// The backend the search hashes with.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Each backend this CPU runs with the nonces per second (one thread) measured at start.
    pub fn backend_rates(&self) -> &[(Backend, f64)] {
        &self.backend_rates
    }

    /// The network the miner works for.
    pub fn network(&self) -> Network {
        self.network
    }

    /// Hashes per second over the last sample (0 while no search runs).
    pub fn hash_rate(&self) -> f64 {
        f64::from_bits(self.hash_rate.load(Ordering::Relaxed))
    }

    /// Blocks this miner found that the peer accepted, since it started.
    pub fn blocks_found(&self) -> u64 {
        self.blocks_found.load(Ordering::Relaxed)
    }

    /// Seconds the background miner hashed on a parent the peer had already left, since the
    /// service started.
    pub fn stale_seconds(&self) -> f64 {
        Duration::from_nanos(self.stale_nanos.load(Ordering::Relaxed)).as_secs_f64()
    }

    /// Seconds the background miner spent between searches (none ran), since the service
    /// started.
    pub fn idle_seconds(&self) -> f64 {
        Duration::from_nanos(self.idle_nanos.load(Ordering::Relaxed)).as_secs_f64()
    }

    /// Tips (parent blocks) the background miner searched on, since the service started.
    pub fn tips(&self) -> u64 {
        self.tips.load(Ordering::Relaxed)
    }

    /// Whether background mining runs.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// The background miner's state.
    pub fn status(&self) -> MinerStatus {
        let running = self.running.load(Ordering::Relaxed);
        MinerStatus {
            running,
            hash_rate: self.hash_rate(),
            blocks_found: self.blocks_found(),
            stale_seconds: self.stale_seconds(),
            idle_seconds: self.idle_seconds(),
            tips: self.tips(),
            threads: self.threads,
            backend: search_backend(self.backend),
            backend_forced: self.backend_forced,
            backend_rates: self
                .backend_rates
                .iter()
                .map(|&(backend, rate)| BackendRate {
                    backend: search_backend(backend),
                    rate,
                })
                .collect(),
            address: if running {
                lock(&self.address).clone()
            } else {
                None
            },
            last_error: lock(&self.last_error).clone(),
        }
    }

    /// `address` checked against the network, or a fresh key's address from the keys service.
    pub async fn payout_address(&self, address: Option<String>) -> Result<String, MinerError> {
        match address {
            Some(address) => {
                MinerError::check_address(&address, self.network)?;
                Ok(address)
            }
            None => {
                let key = self.keys.create().await?;
                tracing::info!(address = %key.address, "mining to a fresh key");
                Ok(key.address.to_string())
            }
        }
    }

    /// Mines one block paying `address`: fetches templates until a nonce is found on the
    /// current tip, checks the proof of work, submits the block. `cancel` ends the search
    /// with [`MinerError::Stopped`].
    pub async fn mine_block(
        &self,
        address: &str,
        cancel: &AtomicBool,
    ) -> Result<Mined, MinerError> {
        let Submitted {
            answer,
            height,
            attempts,
            elapsed,
        } = self.find_and_submit(address, cancel).await?;
        let view: BlockView = self.peer.block(&answer.hash).await?;
        Ok(Mined {
            hash: answer.hash,
            height: answer.height.unwrap_or(height),
            attempts,
            elapsed,
            address: address.to_owned(),
            status: answer.status,
            block: view,
        })
    }

    /// [`Miner::mine_block`] up to the submission. The background miner goes on from here at
    /// once.
    async fn find_and_submit(
        &self,
        address: &str,
        cancel: &AtomicBool,
    ) -> Result<Submitted, MinerError> {
        let payee = mycoin_core::Address::parse_for(address, self.network).map_err(|reason| {
            MinerError::InvalidAddress {
                address: address.to_owned(),
                reason,
            }
        })?;
        let started = Instant::now();
        let attempts = Arc::new(AtomicU64::new(0));
        let params = self.network.params();
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(MinerError::Stopped);
            }
            let template = self.peer.template(&payee).await?;
            let mut block: Block = decode_hex(&template.hex)
                .map_err(|err| MinerError::BadTemplate(err.to_string()))?;
            let target = Target::from_bits(block.header.bits)
                .map_err(|err| MinerError::BadTemplate(err.to_string()))?;

            let found = self
                .solve(
                    &mut block,
                    target,
                    template.prev_hash,
                    NONCE_SPACE,
                    cancel,
                    &attempts,
                )
                .await?;
            let Some(nonce) = found else {
                tracing::debug!("the tip changed: new template");
                continue;
            };
            let elapsed = started.elapsed();
            let block = with_checked_nonce(block, nonce, &params)?;

            let submitted = self.peer.submit_block(&block).await?;
            if matches!(
                submitted.status,
                BlockStatus::NewTip | BlockStatus::SideChain
            ) {
                self.blocks_found.fetch_add(1, Ordering::Relaxed);
            }
            tracing::info!(
                hash = %submitted.hash,
                height = template.height,
                status = ?submitted.status,
                "mined a block"
            );
            return Ok(Submitted {
                answer: submitted,
                height: template.height,
                attempts: attempts.load(Ordering::Relaxed),
                elapsed,
            });
        }
    }

    /// Searches `nonces` of `block`'s header for one that meets `target`; each time they are
    /// exhausted, the header's time goes up a second (a new time gives new hashes) and the
    /// search starts again. `None` when the peer's tip moves off `parent` meanwhile.
    async fn solve(
        &self,
        block: &mut Block,
        target: Target,
        parent: BlockHash,
        nonces: Range<u64>,
        cancel: &AtomicBool,
        attempts: &Arc<AtomicU64>,
    ) -> Result<Option<u32>, MinerError> {
        loop {
            let searched = self
                .search_on_tip(block, target, parent, nonces.clone(), cancel, attempts)
                .await?;
            match searched {
                Searched::Found(nonce) => return Ok(Some(nonce)),
                Searched::Stale => return Ok(None),
                Searched::Cancelled => return Err(MinerError::Stopped),
                Searched::Exhausted => {
                    block.header.time = block.header.time.checked_add(1).ok_or_else(|| {
                        MinerError::BadTemplate("the header time cannot go up".to_owned())
                    })?;
                    tracing::debug!(time = block.header.time, "nonces exhausted: time rolled");
                }
            }
        }
    }

    /// Searches `nonces` of `block`'s header on blocking threads, looking every `tip_poll` at
    /// `cancel` and waiting meanwhile (a long poll) for the peer's tip to leave `parent`.
    async fn search_on_tip(
        &self,
        block: &Block,
        target: Target,
        parent: BlockHash,
        nonces: Range<u64>,
        cancel: &AtomicBool,
        attempts: &Arc<AtomicU64>,
    ) -> Result<Searched, MinerError> {
        let stop = Arc::new(AtomicBool::new(false));
        let _guard = StopOnDrop(stop.clone());
        let header = block.header;
        let (threads, backend) = (self.threads, self.backend);
        let counters = (attempts.clone(), self.total_hashes.clone());
        let flag = stop.clone();
        let searching = self.search_starts(parent);
        let mut task = tokio::task::spawn_blocking(move || {
            search_with(
                backend,
                Priority::Background,
                &header,
                target,
                nonces,
                threads,
                &flag,
                &[&counters.0, &counters.1],
            )
        });
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + self.tip_poll, self.tip_poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let tip_moved = self.tip_moved(parent);
        tokio::pin!(tip_moved);
        let mut stale_since: Option<Instant> = None;
        let outcome = loop {
            tokio::select! {
                joined = &mut task => {
                    break joined.map_err(|err| {
                        MinerError::BadTemplate(format!("the search thread failed: {err}"))
                    })?;
                }
                moved_at = &mut tip_moved, if stale_since.is_none() => {
                    stale_since = Some(moved_at.max(searching));
                    stop.store(true, Ordering::Relaxed);
                }
                _ = ticker.tick() => {
                    if cancel.load(Ordering::Relaxed) {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
        };
        let stale = stale_since.is_some();
        self.search_ends(parent, stale_since);
        Ok(match outcome {
            Outcome::Found { nonce, .. } => Searched::Found(nonce),
            Outcome::Exhausted => Searched::Exhausted,
            Outcome::Stopped if stale => Searched::Stale,
            Outcome::Stopped => Searched::Cancelled,
        })
    }

    /// Returns once the peer's tip is no longer `parent`, with when the peer took the new tip
    /// (as it reports it). Long polls; a peer that answers at once with `parent` still the tip,
    /// or a failed call, is asked again after `tip_poll` (a failure says nothing: the
    /// submission will tell).
    async fn tip_moved(&self, parent: BlockHash) -> Instant {
        loop {
            let asked = Instant::now();
            match self.peer_tip.chain_wait(&parent, TIP_WAIT).await {
                Ok(chain) if chain.tip != parent => {
                    let now = Instant::now();
                    return now
                        .checked_sub(Duration::from_millis(chain.tip_age_ms))
                        .unwrap_or(now);
                }
                Ok(_) => {}
                Err(err) => tracing::debug!(error = %err, "cannot check the peer's tip"),
            }
            if let Some(pause) = self.tip_poll.checked_sub(asked.elapsed()) {
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// A search on `parent` starts now: the background miner counts the time since its last
    /// search as idle, and a new parent as one more tip. Returns the start.
    fn search_starts(&self, parent: BlockHash) -> Instant {
        let now = Instant::now();
        if let Some((ended, last_parent)) = lock(&self.last_search).take() {
            self.idle_nanos
                .fetch_add(nanos(now - ended), Ordering::Relaxed);
            if last_parent != parent {
                self.tips.fetch_add(1, Ordering::Relaxed);
            }
        } else if self.is_running() {
            self.tips.fetch_add(1, Ordering::Relaxed);
        }
        now
    }

    /// A search on `parent` has stopped, stale since `stale_since` if the peer's tip moved: the
    /// background miner counts the stale time, and the idle time starts.
    fn search_ends(&self, parent: BlockHash, stale_since: Option<Instant>) {
        let now = Instant::now();
        if !self.is_running() {
            return;
        }
        if let Some(since) = stale_since {
            self.stale_nanos.fetch_add(
                nanos(now.saturating_duration_since(since)),
                Ordering::Relaxed,
            );
        }
        *lock(&self.last_search) = Some((now, parent));
    }

    /// Starts background mining paying `address` (or, when `None`, a fresh key's address,
    /// asked for by the background task itself).
    pub async fn start(self: &Arc<Self>, address: Option<String>) -> Result<(), MinerError> {
        let mut background = self.background.lock().await;
        if background.is_some() {
            return Err(MinerError::AlreadyRunning);
        }
        *lock(&self.address) = address;
        *lock(&self.last_error) = None;
        *lock(&self.last_search) = None;
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(Arc::clone(self).run_background(stop.clone()));
        self.running.store(true, Ordering::Relaxed);
        *background = Some(Background { stop, task });
        tracing::info!(threads = self.threads, "background mining started");
        Ok(())
    }

    /// Stops background mining and waits (a few seconds at most) for its task to end.
    pub async fn stop(&self) -> Result<(), MinerError> {
        let mut background = self.background.lock().await;
        let Some(Background { stop, task }) = background.take() else {
            return Err(MinerError::NotRunning);
        };
        stop.store(true, Ordering::Relaxed);
        self.running.store(false, Ordering::Relaxed);
        *lock(&self.last_search) = None;
        if tokio::time::timeout(STOP_WAIT, task).await.is_err() {
            tracing::warn!("the background miner did not end in time");
        }
        tracing::info!("background mining stopped");
        Ok(())
    }

    async fn run_background(self: Arc<Self>, stop: Arc<AtomicBool>) {
        let _guard = StopOnDrop(stop.clone());
        while !stop.load(Ordering::Relaxed) {
            let known = lock(&self.address).clone();
            let address = match known {
                Some(address) => address,
                None => match self.payout_address(None).await {
                    Ok(address) => {
                        *lock(&self.address) = Some(address.clone());
                        address
                    }
                    Err(err) => {
                        self.failed(&err, &stop).await;
                        continue;
                    }
                },
            };
            match self.find_and_submit(&address, &stop).await {
                Ok(_) => *lock(&self.last_error) = None,
                Err(MinerError::Stopped) => break,
                Err(err) => self.failed(&err, &stop).await,
            }
        }
    }

    async fn failed(&self, err: &MinerError, stop: &AtomicBool) {
        tracing::warn!(error = %err, "background mining failed; retrying");
        *lock(&self.last_error) = Some(err.to_string());
        let until = Instant::now() + RETRY_PAUSE;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Samples the hash rate every second while `miner` lives.
    pub(crate) async fn sample_hash_rate(miner: Weak<Miner>) {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = (Instant::now(), 0u64);
        loop {
            ticker.tick().await;
            let Some(miner) = miner.upgrade() else {
                return;
            };
            let now = (Instant::now(), miner.total_hashes.load(Ordering::Relaxed));
            let rate = rate(now.1.saturating_sub(last.1), now.0 - last.0);
            miner.hash_rate.store(rate.to_bits(), Ordering::Relaxed);
            last = now;
        }
    }
}

/// `block` with `nonce`, once the consensus code's own proof-of-work check
/// (`check_proof_of_work`, plain SHA-256, no search backend) accepts it: whatever backend found
/// the nonce, nothing it got wrong is ever submitted.
fn with_checked_nonce(
    mut block: Block,
    nonce: u32,
    params: &mycoin_core::Params,
) -> Result<Block, MinerError> {
    block.header.nonce = nonce;
    check_proof_of_work(&block, params).map_err(MinerError::InvalidProof)?;
    Ok(block)
}

/// The API's name of a backend.
fn search_backend(backend: Backend) -> SearchBackend {
    match backend {
        Backend::Portable => SearchBackend::Portable,
        Backend::ShaNi => SearchBackend::ShaNi,
        Backend::Avx2 => SearchBackend::Avx2,
        Backend::Avx512 => SearchBackend::Avx512,
    }
}

/// A block found and submitted, as [`Miner::find_and_submit`] leaves it.
#[derive(Debug)]
struct Submitted {
    /// The peer's answer to the submission.
    answer: SubmitBlockResponse,
    /// The template's height.
    height: u32,
    /// The nonces hashed, over every template of this search.
    attempts: u64,
    /// From the first template to the nonce found.
    elapsed: Duration,
}

/// How one search on a header ended, seen from the miner.
#[derive(Debug)]
enum Searched {
    Found(u32),
    Exhausted,
    /// The peer's tip moved: the template is stale.
    Stale,
    Cancelled,
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycoin_core::Header;

    /// A real peer service (regtest, SQLite in `dir`) on a free port; returns its URL.
    async fn spawn_peer(dir: &tempfile::TempDir) -> String {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("peer.sqlite").display()
        );
        let settings = mycoin_peer::Settings::new(Network::Regtest, "127.0.0.1", 0, url);
        let peer = mycoin_peer::build(settings).await.unwrap();
        let base = format!("http://127.0.0.1:{}", peer.port());
        tokio::spawn(peer.run_until_stopped());
        base
    }

    /// Whatever backend found a nonce, the block goes out only once the consensus code's own
    /// check accepts it: a nonce that does not meet the target (as a faulty backend would
    /// report) is refused with `InvalidProof`, and `mine_block` submits only what this
    /// helper returns.
    #[test]
    fn a_nonce_the_consensus_check_rejects_is_never_submitted() {
        let params = Network::Regtest.params();
        let mut block = params.genesis_block();
        // About one hash in 2^16 meets this target.
        block.header.bits = mycoin_core::CompactTarget(0x1f00_00ff);
        let target = Target::from_bits(block.header.bits).unwrap();
        let meets = |nonce: u32| {
            let header = Header {
                nonce,
                ..block.header
            };
            target.is_met_by(&header.block_hash().0)
        };
        let bad = (0..).find(|&nonce| !meets(nonce)).unwrap();
        let good = (0..).find(|&nonce| meets(nonce)).unwrap();
        assert!(matches!(
            with_checked_nonce(block.clone(), bad, &params),
            Err(MinerError::InvalidProof(_))
        ));
        let checked = with_checked_nonce(block, good, &params).unwrap();
        assert_eq!(checked.header.nonce, good);
        check_proof_of_work(&checked, &params).unwrap();
    }

    /// Two miners (one search thread each) on one real peer service: `miner` searches, `rival`
    /// moves the peer's tip under it.
    struct TwoMiners {
        miner: Miner,
        rival: Miner,
        settings: Settings,
        _dir: tempfile::TempDir,
    }

    /// How a search of [`TwoMiners::search_while_the_rival_mines`] went.
    struct TipChange {
        searched: Result<Searched, MinerError>,
        /// The parent the search was on.
        parent: BlockHash,
        /// The nonces it hashed.
        attempts: Arc<AtomicU64>,
        /// From the rival's block being taken to the search's end.
        dropped_after: Duration,
    }

    impl TwoMiners {
        async fn start() -> TwoMiners {
            let dir = tempfile::tempdir().unwrap();
            let peer = spawn_peer(&dir).await;
            let settings =
                Settings::new(Network::Regtest, 0, peer, "http://127.0.0.1:9").with_threads(1);
            TwoMiners {
                miner: Miner::new(&settings).unwrap(),
                rival: Miner::new(&settings).unwrap(),
                settings,
                _dir: dir,
            }
        }

        /// A search of `miner` on the peer's tip that only a tip change can end (only an
        /// all-zero hash would meet its target), while `rival` mines a block, the peer's new
        /// tip, after `delay_ms`.
        async fn search_while_the_rival_mines(&self, delay_ms: u64) -> TipChange {
            let (block, parent) = template(&self.miner).await;
            let (cancel, attempts) = (AtomicBool::new(false), Arc::new(AtomicU64::new(0)));
            let impossible = Target::from_le_bytes([0; 32]);
            let search = self.miner.search_on_tip(
                &block,
                impossible,
                parent,
                NONCE_SPACE,
                &cancel,
                &attempts,
            );
            let move_tip = async {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                let mined = self
                    .rival
                    .mine_block(&payee().to_string(), &AtomicBool::new(false))
                    .await
                    .unwrap();
                assert_eq!(mined.status, BlockStatus::NewTip);
                Instant::now()
            };
            let (searched, moved_at) = tokio::join!(search, move_tip);
            TipChange {
                dropped_after: moved_at.elapsed(),
                searched,
                parent,
                attempts,
            }
        }
    }

    /// The daemon's promise: when the tip changes under a running search, the miner drops its
    /// work. The search here can never succeed (only an all-zero hash would meet its target) nor
    /// run out of nonces in the test's time, so only the tip change can end it: a second miner
    /// finds a block on the same peer, and the first search must end as stale. How soon is a
    /// figure, printed here and measured by `scripts/race.sh` (stale seconds per block), never a
    /// bound asserted in a test.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_search_is_dropped_soon_after_the_tip_changes() {
        let two = TwoMiners::start().await;
        // Let the search run for a while first.
        let change = two.search_while_the_rival_mines(700).await;
        assert!(
            matches!(change.searched, Ok(Searched::Stale)),
            "{:?}",
            change.searched
        );
        eprintln!(
            "search dropped {} ms after the tip changed (tip checked every {} ms), after {} nonces",
            change.dropped_after.as_millis(),
            two.settings.tip_poll.as_millis(),
            change.attempts.load(Ordering::Relaxed)
        );
        assert!(change.attempts.load(Ordering::Relaxed) > 0);
    }

    /// While background mining runs, the miner counts what timing costs it: a search whose
    /// parent the peer leaves counts as stale from when the peer took the new tip to when the
    /// search stopped, the gap before the next search as idle, and each new parent as a tip.
    /// (Correctness only: no bound on the times.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stale_and_idle_time_and_tips_are_counted_while_running() {
        let two = TwoMiners::start().await;
        let miner = &two.miner;
        // As `start` does, without the background task: the searches below are its.
        miner.running.store(true, Ordering::Relaxed);
        let TipChange {
            searched,
            parent,
            attempts,
            ..
        } = two.search_while_the_rival_mines(300).await;
        assert!(matches!(searched, Ok(Searched::Stale)), "{searched:?}");
        let impossible = Target::from_le_bytes([0; 32]);
        let stale = miner.stale_seconds();
        assert!(stale > 0.0, "{stale}");
        assert_eq!((miner.tips(), miner.idle_seconds()), (1, 0.0));

        // The next search, on the new tip: the gap before it is idle, and it is a new tip.
        let (block, next_parent) = template(miner).await;
        assert_ne!(next_parent, parent);
        // A search cancelled before it starts: only the counting around it happens.
        let cancelled = || async {
            let cancel = AtomicBool::new(true);
            let searched = miner
                .search_on_tip(
                    &block,
                    impossible,
                    next_parent,
                    NONCE_SPACE,
                    &cancel,
                    &attempts,
                )
                .await;
            assert!(matches!(searched, Ok(Searched::Cancelled)), "{searched:?}");
        };
        cancelled().await;
        assert_eq!(miner.tips(), 2);
        assert!(miner.idle_seconds() > 0.0);
        assert_eq!(
            miner.stale_seconds(),
            stale,
            "a cancelled search is not stale"
        );
        let status = miner.status();
        assert_eq!(
            (status.stale_seconds, status.idle_seconds, status.tips),
            (miner.stale_seconds(), miner.idle_seconds(), 2)
        );
        // Not running (a `POST /mine`): nothing is counted.
        miner.running.store(false, Ordering::Relaxed);
        *lock(&miner.last_search) = None;
        cancelled().await;
        assert_eq!(miner.tips(), 2);
    }

    /// The address the tests' blocks pay.
    fn payee() -> mycoin_core::Address {
        mycoin_core::Address::new(Network::Regtest, mycoin_core::PubKeyHash([3; 20]))
    }

    /// A template of the miner's peer paying [`payee`], and its parent.
    async fn template(miner: &Miner) -> (Block, BlockHash) {
        let template = miner.peer.template(&payee()).await.unwrap();
        (decode_hex(&template.hex).unwrap(), template.prev_hash)
    }

    /// When every nonce of the range fails, the time goes up a second and the search goes on:
    /// here a range of one nonce, and a header time at which it fails but succeeds a second
    /// later (found by hashing, against regtest's target that half of all hashes meet).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exhausted_nonces_roll_the_time_and_the_search_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let peer = spawn_peer(&dir).await;
        let settings =
            Settings::new(Network::Regtest, 0, peer, "http://127.0.0.1:9").with_threads(1);
        let miner = Miner::new(&settings).unwrap();
        let (mut block, parent) = template(&miner).await;
        let target = Target::from_bits(block.header.bits).unwrap();
        let meets = |time: u32| {
            let header = Header {
                time,
                nonce: 0,
                ..block.header
            };
            target.is_met_by(&header.block_hash().0)
        };
        let time = (block.header.time..)
            .find(|&time| !meets(time) && meets(time + 1))
            .unwrap();
        block.header.time = time;
        let attempts = Arc::new(AtomicU64::new(0));
        let found = miner
            .solve(
                &mut block,
                target,
                parent,
                0..1,
                &AtomicBool::new(false),
                &attempts,
            )
            .await
            .unwrap();
        assert_eq!(found, Some(0));
        assert_eq!(block.header.time, time + 1, "the time rolled once");
        assert_eq!(attempts.load(Ordering::Relaxed), 2);
        block.header.nonce = 0;
        check_proof_of_work(&block, &Network::Regtest.params()).unwrap();
    }

    /// `GET /miner`'s rate is live: above zero while a search runs (one that cannot succeed),
    /// and back to zero once it stops. How near it is to the nonces counted is a figure
    /// (printed here; `scripts/bench.sh` compares the live rate with the benchmark's), not a
    /// bound: on a loaded machine a nice-19 search thread may not run for a whole second.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_hash_rate_is_sampled_while_a_search_runs() {
        let dir = tempfile::tempdir().unwrap();
        let peer = spawn_peer(&dir).await;
        let settings =
            Settings::new(Network::Regtest, 0, peer, "http://127.0.0.1:9").with_threads(1);
        let miner = Arc::new(Miner::new(&settings).unwrap());
        tokio::spawn(Miner::sample_hash_rate(Arc::downgrade(&miner)));
        assert_eq!(miner.status().hash_rate, 0.0);
        let (block, parent) = template(&miner).await;
        let (cancel, attempts) = (AtomicBool::new(false), Arc::new(AtomicU64::new(0)));
        let impossible = Target::from_le_bytes([0; 32]);
        let started = Instant::now();
        let search =
            miner.search_on_tip(&block, impossible, parent, NONCE_SPACE, &cancel, &attempts);
        let watch = async {
            // Until a sample sees the search (a generous limit, only against a hang).
            let mut rate = 0.0;
            for _ in 0..600 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                rate = miner.status().hash_rate;
                if rate > 0.0 {
                    break;
                }
            }
            let mean = attempts.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
            cancel.store(true, Ordering::Relaxed);
            (rate, mean)
        };
        let (searched, (rate, mean)) = tokio::join!(search, watch);
        assert!(matches!(searched, Ok(Searched::Cancelled)), "{searched:?}");
        eprintln!("sampled {rate:.0} nonces/s; the search's mean {mean:.0}");
        assert!(rate > 0.0, "no sample saw the running search");
        let mut after = miner.status().hash_rate;
        for _ in 0..600 {
            if after == 0.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            after = miner.status().hash_rate;
        }
        assert_eq!(after, 0.0, "no search, no rate");
    }
}
