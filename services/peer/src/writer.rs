//! The chain's single writer.
//!
//! One task owns the [`Chain`]: every change — a block from the miner or a peer, a sync batch, a
//! transaction — reaches it as a [`Command`] through a bounded queue, and it carries them out one
//! at a time. After each, it publishes the chain's [`ChainState`] (an O(1) snapshot) on a watch
//! channel; readers answer from the latest snapshot and never wait for the writer, whatever it is
//! doing. The expensive part of a change, verifying signatures, is done before the command is
//! sent, on blocking threads, into the shared signature cache ([`ChainWriter::verify_blocks`] and
//! friends): the writer then finds the signatures there. When the queue is full, senders wait
//! their turn (back-pressure): nothing is dropped.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use mycoin_core::validation::{verify_signatures_into, verify_transaction_signatures_into};
use mycoin_core::{
    Admitted, Block, BlockAccepted, BlockHash, Chain, ChainError, ChainState, Params, SqlStore,
    Transaction, TxRefused,
};
use tokio::sync::{mpsc, oneshot, watch};

/// How many changes may wait for the writer at once.
pub const WRITER_QUEUE: usize = 64;

/// The active chain's tip and when this node took it: what a long poll on the tip waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TipSeen {
    /// The tip's hash.
    pub hash: BlockHash,
    /// When the writer published it (or when the writer started, for the tip it opened with).
    pub since: Instant,
}

/// A change for the writer, with where to send its outcome.
#[derive(Debug)]
enum Command {
    Block {
        block: Block,
        now: u32,
        reply: oneshot::Sender<Result<BlockAccepted, ChainError>>,
    },
    Blocks {
        blocks: Vec<Block>,
        now: u32,
        reply: oneshot::Sender<(Vec<BlockAccepted>, Option<ChainError>)>,
    },
    Transaction {
        tx: Transaction,
        now: u64,
        reply: oneshot::Sender<Result<Admitted, TxRefused>>,
    },
}

/// Why the writer could not take a change.
#[derive(Debug, thiserror::Error)]
#[error("the chain's writer has stopped")]
pub struct WriterGone;

/// Something run on the verifying thread before it verifies: tests hold verification there to
/// show that nothing else waits for it.
pub type VerificationHook = Arc<dyn Fn() + Send + Sync>;

/// The handle on the writer: sends it changes, and hands out the latest snapshot.
pub struct ChainWriter {
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<Arc<ChainState>>,
    tip: watch::Receiver<TipSeen>,
    params: Params,
    hook: OnceLock<VerificationHook>,
}

impl std::fmt::Debug for ChainWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainWriter")
            .field("network", &self.params.network)
            .field("queued", &self.queued())
            .finish()
    }
}

impl ChainWriter {
    /// Starts the writer task (on the current Tokio runtime), which owns `chain` from now on.
    pub fn spawn(chain: Chain<SqlStore>) -> ChainWriter {
        let params = chain.params().clone();
        let (commands, queue) = mpsc::channel(WRITER_QUEUE);
        let (publish, state) = watch::channel(Arc::new(chain.snapshot()));
        let (publish_tip, tip) = watch::channel(TipSeen {
            hash: state.borrow().tip().hash,
            since: Instant::now(),
        });
        tokio::spawn(run(chain, queue, publish, publish_tip));
        ChainWriter {
            commands,
            state,
            tip,
            params,
            hook: OnceLock::new(),
        }
    }

    /// The chain as the writer last published it.
    pub fn state(&self) -> Arc<ChainState> {
        self.state.borrow().clone()
    }

    /// The tip and when it was taken, as a watch: `changed()` wakes when the tip moves (a
    /// change that leaves the tip where it was wakes no one).
    pub fn tip(&self) -> watch::Receiver<TipSeen> {
        self.tip.clone()
    }

    /// Changes waiting in the writer's queue.
    pub fn queued(&self) -> usize {
        WRITER_QUEUE - self.commands.capacity()
    }

    /// Sets the hook run before each verification (once; later calls are ignored).
    pub fn set_verification_hook(&self, hook: VerificationHook) {
        let _ = self.hook.set(hook);
    }

    /// Verifies the signatures of `blocks` on blocking threads, across the cores, into the
    /// shared cache (those of blocks without their proof of work are not looked at), and hands
    /// the blocks back.
    pub async fn verify_blocks(&self, blocks: Vec<Block>) -> Vec<Block> {
        let cache = self.state().shared_sigcache();
        let params = self.params.clone();
        self.run_blocking(move || {
            verify_signatures_into(&cache, &blocks, &params);
            blocks
        })
        .await
    }

    /// Verifies the signatures of `tx` on a blocking thread into the shared cache, and hands it
    /// back.
    pub async fn verify_transaction(&self, tx: Transaction) -> Transaction {
        let cache = self.state().shared_sigcache();
        self.run_blocking(move || {
            verify_transaction_signatures_into(&cache, &[&tx]);
            tx
        })
        .await
    }

    /// Runs `work` — verification — on Tokio's blocking pool (after the test hook, when one is
    /// set), so that no runtime thread waits for it.
    pub async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let hook = self.hook.get().cloned();
        let verified = tokio::task::spawn_blocking(move || {
            if let Some(hook) = hook {
                hook();
            }
            work()
        })
        .await;
        match verified {
            Ok(value) => value,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }

    /// Submits one block; its signatures should have been verified first.
    pub async fn submit_block(
        &self,
        block: Block,
        now: u32,
    ) -> Result<Result<BlockAccepted, ChainError>, WriterGone> {
        let (reply, outcome) = oneshot::channel();
        self.send(Command::Block { block, now, reply }).await?;
        outcome.await.map_err(|_| WriterGone)
    }

    /// Submits a run of blocks (a sync batch): see [`Chain::submit_blocks`].
    pub async fn submit_blocks(
        &self,
        blocks: Vec<Block>,
        now: u32,
    ) -> Result<(Vec<BlockAccepted>, Option<ChainError>), WriterGone> {
        let (reply, outcome) = oneshot::channel();
        self.send(Command::Blocks { blocks, now, reply }).await?;
        outcome.await.map_err(|_| WriterGone)
    }

    /// Submits a transaction to the mempool at the node's clock `now` (Unix seconds): its
    /// txid, fee and what it evicted when it is accepted.
    pub async fn submit_transaction(
        &self,
        tx: Transaction,
        now: u64,
    ) -> Result<Result<Admitted, TxRefused>, WriterGone> {
        let (reply, outcome) = oneshot::channel();
        self.send(Command::Transaction { tx, now, reply }).await?;
        outcome.await.map_err(|_| WriterGone)
    }

    async fn send(&self, command: Command) -> Result<(), WriterGone> {
        self.commands.send(command).await.map_err(|_| WriterGone)
    }
}

/// The writer task: carries out the commands in order, publishing a snapshot after each.
async fn run(
    mut chain: Chain<SqlStore>,
    mut queue: mpsc::Receiver<Command>,
    publish: watch::Sender<Arc<ChainState>>,
    publish_tip: watch::Sender<TipSeen>,
) {
    // The snapshot first, then the tip: whoever wakes on the tip reads the chain that has it.
    let publish_blocks = |chain: &Chain<SqlStore>| {
        let state = Arc::new(chain.snapshot());
        let hash = state.tip().hash;
        publish.send_replace(state);
        publish_tip.send_if_modified(|tip| {
            let moved = tip.hash != hash;
            if moved {
                *tip = TipSeen {
                    hash,
                    since: Instant::now(),
                };
            }
            moved
        });
    };
    while let Some(command) = queue.recv().await {
        match command {
            Command::Block { block, now, reply } => {
                let outcome = chain.submit_block(block, now).await;
                publish_blocks(&chain);
                let _ = reply.send(outcome);
            }
            Command::Blocks { blocks, now, reply } => {
                let outcome = chain.submit_blocks(blocks, now).await;
                publish_blocks(&chain);
                let _ = reply.send(outcome);
            }
            Command::Transaction { tx, now, reply } => {
                let outcome = chain.submit_transaction(tx, now);
                if outcome.is_ok() {
                    publish.send_replace(Arc::new(chain.snapshot()));
                }
                let _ = reply.send(outcome);
            }
        }
    }
}
