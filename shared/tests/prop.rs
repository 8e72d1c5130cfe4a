//! Property tests: encodings round-trip, text forms round-trip, mined blocks validate, and any
//! sequence of valid blocks, forks and reorganisations leaves exactly the unspent outputs that
//! a replay of the best chain from scratch gives.

mod common;

use std::collections::HashMap;

use common::*;
use mycoin_core::address::PubKeyHash;
use mycoin_core::validation::check_block;
use mycoin_core::{
    Address, Amount, Block, BlockHash, CompactTarget, Header, MerkleRoot, Network, OutPoint,
    PrivateKey, PublicKey, Signature, Transaction, TxIn, TxOut, Txid, deserialize,
};
use mycoin_core::{Encode, MAX_MONEY};
use proptest::prelude::*;

fn arb_hash() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn arb_input() -> impl Strategy<Value = TxIn> {
    prop_oneof![
        (
            arb_hash(),
            0..u32::MAX,
            any::<[u8; 33]>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>()
        )
            .prop_map(|(txid, index, key, r, s)| {
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(&r);
                sig[32..].copy_from_slice(&s);
                TxIn::Spend {
                    prevout: OutPoint::new(Txid(txid), index),
                    public_key: PublicKey::from_raw(key),
                    signature: Signature(sig),
                }
            }),
        (any::<u32>(), any::<u64>()).prop_map(|(height, extra_nonce)| TxIn::Coinbase {
            height,
            extra_nonce
        }),
    ]
}

fn arb_output() -> impl Strategy<Value = TxOut> {
    (0..=MAX_MONEY, any::<[u8; 20]>()).prop_map(|(units, hash)| TxOut {
        amount: Amount::from_units(units).unwrap(),
        pubkey_hash: PubKeyHash(hash),
    })
}

fn arb_tx() -> impl Strategy<Value = Transaction> {
    (
        any::<u32>(),
        proptest::collection::vec(arb_input(), 0..4),
        proptest::collection::vec(arb_output(), 0..4),
    )
        .prop_map(|(version, inputs, outputs)| Transaction {
            version,
            inputs,
            outputs,
        })
}

fn arb_header() -> impl Strategy<Value = Header> {
    (
        any::<u32>(),
        arb_hash(),
        arb_hash(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(version, prev, root, time, bits, nonce)| Header {
            version,
            prev_hash: BlockHash(prev),
            merkle_root: MerkleRoot(root),
            time,
            bits: CompactTarget(bits),
            nonce,
        })
}

proptest! {
    #[test]
    fn transactions_round_trip_byte_for_byte(tx in arb_tx()) {
        let bytes = tx.to_bytes();
        prop_assert_eq!(bytes.len(), tx.size());
        let back: Transaction = deserialize(&bytes).unwrap();
        prop_assert_eq!(back.to_bytes(), bytes);
        prop_assert_eq!(back, tx);
    }

    #[test]
    fn blocks_round_trip_byte_for_byte(header in arb_header(), txs in proptest::collection::vec(arb_tx(), 0..4)) {
        let block = Block { header, transactions: txs };
        let bytes = block.to_bytes();
        prop_assert_eq!(bytes.len(), block.size());
        prop_assert_eq!(&bytes[..80], &header.to_array()[..]);
        let back: Block = deserialize(&bytes).unwrap();
        prop_assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn truncated_or_extended_encodings_are_refused(tx in arb_tx(), cut in 1usize..20, extra in any::<u8>()) {
        let bytes = tx.to_bytes();
        let short = &bytes[..bytes.len().saturating_sub(cut)];
        prop_assert!(deserialize::<Transaction>(short).is_err());
        let mut long = bytes.clone();
        long.push(extra);
        prop_assert!(deserialize::<Transaction>(&long).is_err());
    }

    #[test]
    fn hashes_display_and_parse(bytes in arb_hash()) {
        let hash = BlockHash(bytes);
        prop_assert_eq!(hash.to_string().parse::<BlockHash>(), Ok(hash));
        let txid = Txid(bytes);
        prop_assert_eq!(txid.to_string().parse::<Txid>(), Ok(txid));
    }

    #[test]
    fn keys_addresses_signatures_and_wif_display_and_parse(secret in arb_hash(), digest in arb_hash()) {
        let Ok(key) = PrivateKey::from_bytes(&secret) else { return Ok(()) };
        let public = key.public_key();
        prop_assert_eq!(public.to_string().parse::<PublicKey>(), Ok(public));
        let sig = key.sign(&digest);
        prop_assert_eq!(sig.to_string().parse::<Signature>(), Ok(sig));
        prop_assert_eq!(public.verify(&digest, &sig), Ok(()));
        for network in Network::ALL {
            let address = Address::new(network, public.pubkey_hash());
            prop_assert_eq!(address.to_string().parse::<Address>(), Ok(address));
            let wif = key.to_wif(network);
            prop_assert_eq!(PrivateKey::from_wif(&wif, network), Ok(key.clone()));
        }
    }

    #[test]
    fn compact_bits_of_a_target_decode_to_at_most_that_target(bytes in arb_hash()) {
        let target = ruint::aliases::U256::from_be_bytes(bytes);
        let bits = CompactTarget::from_target(target);
        let decoded = bits.expand();
        prop_assert!(!decoded.negative && !decoded.overflow);
        prop_assert!(decoded.target <= target);
        prop_assert_eq!(CompactTarget::from_target(decoded.target), bits);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn a_block_mined_at_regtest_difficulty_validates(payees in proptest::collection::vec(any::<u8>(), 1..4)) {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let mut f = Fixture::new(Network::Regtest.params()).await;
            f.mine_empty(payees.len() + 1).await;
            for (i, payee) in payees.iter().enumerate() {
                let coin = f.coinbase_at(i as u32 + 1).await;
                f.submit(spend(&[coin], 0, &[(99_000_000, pkh(*payee))])).unwrap();
            }
            let mut block = f.chain.block_template(pkh(0), f.now + 1, 0);
            assert_eq!(block.transactions.len(), payees.len() + 1);
            solve(&mut block, &f.params);
            assert!(check_block(&block, &f.params).is_ok());
            let outcome = f.chain.submit_block(block, f.now + 1).await.unwrap();
            assert!(matches!(outcome, mycoin_core::BlockAccepted::NewTip { .. }));
            assert!(f.chain.mempool().is_empty());
        });
    }

    #[test]
    fn utxos_always_equal_a_replay_of_the_best_chain(
        ops in proptest::collection::vec((any::<usize>(), 0usize..3), 1..24)
    ) {
        tokio::runtime::Runtime::new().unwrap().block_on(random_tree(ops));
    }
}

/// Builds blocks on randomly chosen known blocks (forks and reorganisations follow from the
/// choice), each spending some coins of its own branch, and checks the chain after each step.
async fn random_tree(ops: Vec<(usize, usize)>) {
    let mut f = Fixture::new(Network::Regtest.params()).await;
    let genesis = f.params.genesis_block();
    let mut blocks: HashMap<BlockHash, Block> = HashMap::from([(genesis.block_hash(), genesis)]);
    let mut known = vec![f.chain.tip().hash];
    for (choice, spends) in ops {
        let parent = known[choice % known.len()];
        let branch = branch_to(&blocks, parent);
        let utxos = rebuild_utxos(&branch);
        let mut coins: Vec<(OutPoint, u64)> = utxos
            .iter()
            .map(|(o, c)| (*o, c.output.amount.units()))
            .collect();
        coins.sort();
        // Zero-fee spends, each splitting one coin of key 0 into two.
        let txs: Vec<Transaction> = coins
            .iter()
            .filter(|(_, units)| *units >= 2)
            .take(spends)
            .map(|(o, units)| {
                spend(
                    &[*o],
                    0,
                    &[(units / 2, pkh(0)), (units - units / 2, pkh(0))],
                )
            })
            .collect();
        f.now += 1;
        let block = f.block_on(parent, txs, 0, pkh(0));
        let hash = block.block_hash();
        f.chain.submit_block(block.clone(), f.now).await.unwrap();
        blocks.insert(hash, block);
        known.push(hash);

        let active = active_blocks(&f.chain).await;
        assert_eq!(
            f.chain.utxos(),
            &rebuild_utxos(&active),
            "UTXO set after {hash}"
        );
        assert_eq!(f.chain.utxo_total(), f.chain.subsidy_issued());
        // The active chain has the most work of all known blocks (all blocks weigh the same
        // on regtest, so: the greatest height), and no longer chain was passed over.
        let best = known
            .iter()
            .map(|h| branch_to(&blocks, *h).len())
            .max()
            .unwrap();
        assert_eq!(active.len(), best);
    }
}
