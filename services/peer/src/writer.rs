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

use mycoin_api::events::{EvictionReason, PeerEvent};
use mycoin_core::validation::{verify_signatures_into, verify_transaction_signatures_into};
use mycoin_core::{
    Admitted, Block, BlockAccepted, BlockHash, Chain, ChainError, ChainState, Params, SqlStore,
    Transaction, TxRefused,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// How many changes may wait for the writer at once.
pub const WRITER_QUEUE: usize = 64;
/// How many events a subscriber may fall behind before it loses the oldest ones (it is then
/// told how many it lost: the writer never waits for a subscriber).
pub const EVENTS_BUFFER: usize = 1024;

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
    events: broadcast::Sender<PeerEvent>,
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
        ChainWriter::spawn_with_events(chain, EVENTS_BUFFER)
    }

    /// [`ChainWriter::spawn`], with room for `buffer` events per subscriber (at least 1).
    pub fn spawn_with_events(chain: Chain<SqlStore>, buffer: usize) -> ChainWriter {
        let (events, _) = broadcast::channel(buffer.max(1));
        let params = chain.params().clone();
        let (commands, queue) = mpsc::channel(WRITER_QUEUE);
        let (publish, state) = watch::channel(Arc::new(chain.snapshot()));
        let (publish_tip, tip) = watch::channel(TipSeen {
            hash: state.borrow().tip().hash,
            since: Instant::now(),
        });
        tokio::spawn(run(chain, queue, publish, publish_tip, events.clone()));
        ChainWriter {
            commands,
            state,
            tip,
            events,
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

    /// The events of every change from now on ([`PeerEvent`]); a subscriber that falls more
    /// than the buffer behind loses the oldest (its `recv` says how many).
    pub fn subscribe(&self) -> broadcast::Receiver<PeerEvent> {
        self.events.subscribe()
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
    events: broadcast::Sender<PeerEvent>,
) {
    // Sends never wait: a subscriber that lags loses the oldest events. Nothing is computed
    // while no one listens.
    let emit = |list: Vec<PeerEvent>| {
        for event in list {
            let _ = events.send(event);
        }
    };
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
                let before = publish.borrow().clone();
                let hash = block.block_hash();
                let outcome = chain.submit_block(block, now).await;
                publish_blocks(&chain);
                if events.receiver_count() > 0 {
                    let sides = match &outcome {
                        Ok(BlockAccepted::SideChain) => vec![hash],
                        _ => Vec::new(),
                    };
                    let after = publish.borrow().clone();
                    emit(block_events(&before, &after, &sides));
                }
                let _ = reply.send(outcome);
            }
            Command::Blocks { blocks, now, reply } => {
                let before = publish.borrow().clone();
                let hashes: Vec<BlockHash> = blocks.iter().map(Block::block_hash).collect();
                let outcome = chain.submit_blocks(blocks, now).await;
                publish_blocks(&chain);
                if events.receiver_count() > 0 {
                    let sides: Vec<BlockHash> = outcome
                        .0
                        .iter()
                        .zip(&hashes)
                        .filter(|(accepted, _)| matches!(accepted, BlockAccepted::SideChain))
                        .map(|(_, hash)| *hash)
                        .collect();
                    let after = publish.borrow().clone();
                    emit(block_events(&before, &after, &sides));
                }
                let _ = reply.send(outcome);
            }
            Command::Transaction { tx, now, reply } => {
                let outcome = chain.submit_transaction(tx, now);
                if let Ok(admitted) = &outcome {
                    publish.send_replace(Arc::new(chain.snapshot()));
                    emit(transaction_events(admitted));
                }
                let _ = reply.send(outcome);
            }
        }
    }
}

/// The events of a change of the block tree from `before` to `after`, in which the blocks
/// `sides` were stored on side branches: the reorganisation and the blocks it disconnected,
/// the blocks connected, the new tip, the side blocks, and the transactions a reorganisation
/// returned to the mempool. O(blocks moved), whatever the chain's length.
pub fn block_events(
    before: &ChainState,
    after: &ChainState,
    sides: &[BlockHash],
) -> Vec<PeerEvent> {
    let mut list = Vec::new();
    let (old_tip, new_tip) = (before.tip(), after.tip());
    if old_tip.hash != new_tip.hash {
        // The highest height at which both active chains hold the same block.
        let mut fork = old_tip.height.min(new_tip.height);
        while fork > 0 && before.hash_at(fork) != after.hash_at(fork) {
            fork -= 1;
        }
        if old_tip.height > fork {
            list.push(PeerEvent::Reorganisation {
                old_tip: old_tip.hash,
                new_tip: new_tip.hash,
                fork_height: fork,
                depth: old_tip.height - fork,
            });
            for height in (fork + 1..=old_tip.height).rev() {
                if let Some(hash) = before.hash_at(height) {
                    list.push(PeerEvent::BlockDisconnected { hash, height });
                }
            }
        }
        for height in fork + 1..=new_tip.height {
            if let Some(hash) = after.hash_at(height) {
                list.push(PeerEvent::BlockConnected { hash, height });
            }
        }
        list.push(PeerEvent::TipChanged {
            hash: new_tip.hash,
            height: new_tip.height,
        });
        if old_tip.height > fork {
            // Transactions of the disconnected blocks that are back in the mempool.
            for entry in after.mempool().iter() {
                if !before.mempool().contains(&entry.txid) {
                    list.push(PeerEvent::TxAccepted {
                        txid: entry.txid,
                        fee: entry.fee.units(),
                    });
                }
            }
        }
    }
    for hash in sides {
        if let Some(entry) = after.entry(hash) {
            list.push(PeerEvent::SideBlock {
                hash: *hash,
                height: entry.height,
                parent: entry.header.prev_hash,
            });
        }
    }
    list
}

/// The events of a transaction the mempool admitted: it, and those it evicted.
pub fn transaction_events(admitted: &Admitted) -> Vec<PeerEvent> {
    std::iter::once(PeerEvent::TxAccepted {
        txid: admitted.txid,
        fee: admitted.fee.units(),
    })
    .chain(admitted.evicted.iter().map(|txid| PeerEvent::TxEvicted {
        txid: *txid,
        reason: EvictionReason::MempoolFull,
    }))
    .collect()
}
