//! A cache of signatures already verified, so that a transaction checked when it entered the
//! mempool is not checked again when its block connects (Bitcoin Core's signature cache).
//!
//! An entry records a fact of arithmetic, not of chain state: "this signature over this txid
//! verifies under this key". It is keyed by a hash of exactly what [`PublicKey::verify`] reads —
//! the 32-byte digest signed (the txid), the 33 key bytes and the 64 signature bytes — so a hit
//! implies the very same verification would succeed. The txid alone would not do: it leaves the
//! signatures out, so a copy of a pooled transaction with a forged signature shares its txid.
//! Because entries never go stale, a transaction that leaves the mempool (confirmed, evicted by a
//! conflict, reorganised) can leave its entries behind without harm; they cost only room.
//!
//! The table has a fixed size: buckets of [`SigCache::WAYS`] slots, the bucket and the slot to
//! evict chosen by bits of the key. The keys are salted with a per-process random value, so
//! nobody outside can aim entries at one bucket to push others' out.

use std::fmt;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use crate::hash::Txid;
use crate::keys::{PublicKey, Signature};
use crate::transaction::{Transaction, TxIn};

/// The cache key of one (digest, key, signature) triple: a salted SHA-256 of all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SigKey([u8; 32]);

impl SigKey {
    /// The bucket this key lives in, among `buckets`.
    fn bucket(&self, buckets: usize) -> usize {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0[..8]);
        (u64::from_le_bytes(word) % buckets as u64) as usize
    }

    /// The slot this key replaces when its bucket is full: another uniformly random choice.
    fn victim(&self) -> usize {
        usize::from(self.0[8]) % SigCache::WAYS
    }
}

/// Counters of what the cache did, for tests, benches and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found the signature: a verification saved.
    pub hits: u64,
    /// Lookups that found nothing: the caller then verifies for real.
    pub misses: u64,
    pub insertions: u64,
    /// Entries pushed out by a newer one because their bucket was full.
    pub evictions: u64,
    /// Entries held now.
    pub entries: usize,
}

/// A bounded, thread-safe set of verified signatures. Every operation takes `&self`: each bucket
/// has its own lock, held for a few comparisons, so the threads that verify transactions and
/// blocks before the chain's writer sees them, the writer and the readers share one cache.
pub struct SigCache {
    salt: [u8; 32],
    buckets: Vec<RwLock<Bucket>>,
    entries: AtomicUsize,
    hits: AtomicU64,
    misses: AtomicU64,
    insertions: AtomicU64,
    evictions: AtomicU64,
}

type Bucket = [Option<SigKey>; SigCache::WAYS];

/// The counters only: the table is megabytes, and the salt is better kept to ourselves.
impl fmt::Debug for SigCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigCache")
            .field("capacity", &self.capacity())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Default for SigCache {
    fn default() -> Self {
        SigCache::new(SigCache::DEFAULT_CAPACITY)
    }
}

impl SigCache {
    /// Slots per bucket: a new key evicts an older one only when all of its bucket is taken.
    pub const WAYS: usize = 4;

    /// 65,536 entries (about 2 MiB): the inputs of several full blocks (a 1 MB block holds at
    /// most about 7,500 inputs).
    pub const DEFAULT_CAPACITY: usize = 1 << 16;

    /// A cache of at most `capacity` entries (rounded up to whole buckets). A capacity of 0
    /// makes a cache that holds nothing: every lookup misses.
    pub fn new(capacity: usize) -> SigCache {
        let mut salt = [0u8; 32];
        if let Err(error) = getrandom::fill(&mut salt) {
            // The salt only makes bucket placement unpredictable; the keys stay collision-free
            // without it, so a hit still implies a valid signature.
            tracing::warn!(%error, "no random salt for the signature cache");
        }
        SigCache {
            salt,
            buckets: (0..capacity.div_ceil(SigCache::WAYS))
                .map(|_| RwLock::new([None; SigCache::WAYS]))
                .collect(),
            entries: AtomicUsize::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            insertions: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// How many entries the cache can hold.
    pub fn capacity(&self) -> usize {
        self.buckets.len() * SigCache::WAYS
    }

    /// The key of `signature` over `digest` under `public_key`: covers every byte the
    /// verification reads.
    pub fn key(&self, digest: &Txid, public_key: &PublicKey, signature: &Signature) -> SigKey {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update(digest.as_bytes());
        hasher.update(public_key.as_bytes());
        hasher.update(signature.0);
        SigKey(hasher.finalize().into())
    }

    /// Whether `key` was inserted (and not since evicted or removed). Counts a hit or a miss.
    pub fn contains(&self, key: &SigKey) -> bool {
        let found = self.bucket(key).is_some_and(|bucket| {
            bucket
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&Some(*key))
        });
        let counter = if found { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Records a signature that verified. Only a successful [`PublicKey::verify`] of the triple
    /// behind `key` may lead here: a hit skips that verification.
    pub fn insert(&self, key: SigKey) {
        let Some(bucket) = self.bucket(&key) else {
            return;
        };
        let mut bucket = bucket.write().unwrap_or_else(|e| e.into_inner());
        if bucket.contains(&Some(key)) {
            return;
        }
        let (slot, evicted) = match bucket.iter().position(Option::is_none) {
            Some(free) => (free, false),
            None => (key.victim(), true),
        };
        bucket[slot] = Some(key);
        self.insertions.fetch_add(1, Ordering::Relaxed);
        if evicted {
            self.evictions.fetch_add(1, Ordering::Relaxed);
        } else {
            self.entries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Forgets `key`, if held.
    pub fn remove(&self, key: &SigKey) {
        let Some(bucket) = self.bucket(key) else {
            return;
        };
        let mut bucket = bucket.write().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = bucket.iter_mut().find(|s| **s == Some(*key)) {
            *slot = None;
            self.entries.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Records every input signature of `tx`, which must have passed its input checks.
    pub fn insert_transaction(&self, tx: &Transaction) {
        for key in self.transaction_keys(tx) {
            self.insert(key);
        }
    }

    /// Forgets every input signature of `tx`: once confirmed it will not be checked again
    /// (unless a reorganisation returns it to the mempool, which checks and inserts it anew).
    pub fn remove_transaction(&self, tx: &Transaction) {
        for key in self.transaction_keys(tx) {
            self.remove(&key);
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            insertions: self.insertions.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: self.entries.load(Ordering::Relaxed),
        }
    }

    fn transaction_keys(&self, tx: &Transaction) -> Vec<SigKey> {
        let txid = tx.txid();
        tx.inputs
            .iter()
            .filter_map(|input| match input {
                TxIn::Spend {
                    public_key,
                    signature,
                    ..
                } => Some(self.key(&txid, public_key, signature)),
                TxIn::Coinbase { .. } => None,
            })
            .collect()
    }

    fn bucket(&self, key: &SigKey) -> Option<&RwLock<Bucket>> {
        let len = self.buckets.len();
        (len > 0).then(|| &self.buckets[key.bucket(len)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;

    fn triple(i: u8) -> (Txid, PublicKey, Signature) {
        let key = PrivateKey::from_bytes(&[i.max(1); 32]).unwrap();
        let digest = Txid::hash(&[i]);
        let signature = key.sign(&digest.0);
        (digest, key.public_key(), signature)
    }

    #[test]
    fn the_key_covers_digest_public_key_and_signature() {
        let cache = SigCache::new(16);
        let (digest, public_key, signature) = triple(1);
        let (other_digest, other_key, other_signature) = triple(2);
        let key = cache.key(&digest, &public_key, &signature);
        assert_eq!(key, cache.key(&digest, &public_key, &signature));
        assert_ne!(key, cache.key(&other_digest, &public_key, &signature));
        assert_ne!(key, cache.key(&digest, &other_key, &signature));
        assert_ne!(key, cache.key(&digest, &public_key, &other_signature));
        let mut flipped = signature;
        flipped.0[63] ^= 1;
        assert_ne!(key, cache.key(&digest, &public_key, &flipped));
    }

    #[test]
    fn keys_are_salted_per_cache() {
        let (digest, public_key, signature) = triple(1);
        assert_ne!(
            SigCache::new(4).key(&digest, &public_key, &signature),
            SigCache::new(4).key(&digest, &public_key, &signature)
        );
    }

    #[test]
    fn insert_contains_remove_and_stats() {
        let cache = SigCache::new(64);
        let (digest, public_key, signature) = triple(3);
        let key = cache.key(&digest, &public_key, &signature);
        assert!(!cache.contains(&key));
        cache.insert(key);
        cache.insert(key);
        assert!(cache.contains(&key));
        assert_eq!(
            cache.stats(),
            CacheStats {
                hits: 1,
                misses: 1,
                insertions: 1,
                evictions: 0,
                entries: 1
            }
        );
        cache.remove(&key);
        cache.remove(&key);
        assert!(!cache.contains(&key));
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn the_size_is_bounded_and_a_full_bucket_evicts() {
        let cache = SigCache::new(8);
        assert_eq!(cache.capacity(), 8);
        let keys: Vec<SigKey> = (0..200u8)
            .map(|i| cache.key(&Txid::hash(&[i]), &triple(1).1, &triple(1).2))
            .collect();
        for key in &keys {
            cache.insert(*key);
        }
        let stats = cache.stats();
        assert_eq!(stats.entries, 8);
        assert_eq!(stats.insertions, 200);
        assert_eq!(stats.evictions, 192);
        let held = keys.iter().filter(|k| cache.contains(k)).count();
        assert_eq!(held, 8);
        // The most recent key is always held: it evicts, it is never the one evicted.
        assert!(cache.contains(&keys[199]));
    }

    #[test]
    fn debug_shows_counters_not_the_table() {
        let shown = format!("{:?}", SigCache::new(1 << 10));
        assert!(shown.contains("capacity: 1024"), "{shown}");
        assert!(shown.len() < 200, "{shown}");
    }

    #[test]
    fn a_zero_capacity_cache_holds_nothing() {
        let cache = SigCache::new(0);
        let (digest, public_key, signature) = triple(4);
        let key = cache.key(&digest, &public_key, &signature);
        cache.insert(key);
        assert!(!cache.contains(&key));
        assert_eq!(cache.stats().entries, 0);
    }
}
