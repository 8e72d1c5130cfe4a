//! The wallet's own table: the payments it made (`wallet_sent`, migration 3001).
//!
//! The peer service keeps no per-address history, so the wallet remembers what it sent: the
//! history's payments, and the keys it spent from (a key emptied by a payment is "used", not
//! "unused").

use std::collections::HashSet;

use mycoin_core::store::Database;
use sqlx::Row;
use sqlx::migrate::Migrator;

use crate::error::WalletError;

static WALLET_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static WALLET_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// A payment the wallet made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPayment {
    /// Txid in display order.
    pub txid: String,
    /// Address paid.
    pub recipient: String,
    /// Amount paid, base units.
    pub amount: u64,
    /// Fee paid, base units.
    pub fee: u64,
    /// Change key, when there was change.
    pub change_address: Option<String>,
    /// Addresses of the outputs spent.
    pub spent_from: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The wallet's table in the stack's database.
#[derive(Debug, Clone)]
pub struct WalletStore {
    db: Database,
}

fn to_i64(units: u64) -> Result<i64, WalletError> {
    i64::try_from(units).map_err(|_| WalletError::Store(format!("amount {units} out of range")))
}

fn to_u64(value: i64) -> Result<u64, WalletError> {
    u64::try_from(value).map_err(|_| WalletError::Store(format!("negative amount {value}")))
}

impl WalletStore {
    /// Connects to `url` and runs the wallet's migrations.
    pub async fn open(url: &str) -> Result<WalletStore, WalletError> {
        let db = Database::connect(url)
            .await
            .map_err(|err| WalletError::Store(err.to_string()))?;
        db.migrate(&WALLET_SQLITE, &WALLET_POSTGRES)
            .await
            .map_err(|err| WalletError::Store(err.to_string()))?;
        Ok(WalletStore { db })
    }

    /// Records a payment the peer accepted.
    pub async fn record(&self, payment: &SentPayment) -> Result<(), WalletError> {
        sqlx::query(
            "INSERT INTO wallet_sent \
             (txid, recipient, amount, fee, change_address, spent_from, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(payment.txid.clone())
        .bind(payment.recipient.clone())
        .bind(to_i64(payment.amount)?)
        .bind(to_i64(payment.fee)?)
        .bind(payment.change_address.clone())
        .bind(payment.spent_from.join(" "))
        .bind(payment.created_at)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Every recorded payment, oldest first.
    pub async fn payments(&self) -> Result<Vec<SentPayment>, WalletError> {
        let rows = sqlx::query(
            "SELECT txid, recipient, amount, fee, change_address, spent_from, created_at \
             FROM wallet_sent ORDER BY created_at, txid",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let spent_from: String = row.try_get("spent_from")?;
                Ok(SentPayment {
                    txid: row.try_get("txid")?,
                    recipient: row.try_get("recipient")?,
                    amount: to_u64(row.try_get("amount")?)?,
                    fee: to_u64(row.try_get("fee")?)?,
                    change_address: row.try_get("change_address")?,
                    spent_from: spent_from.split_whitespace().map(str::to_owned).collect(),
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Addresses a recorded payment spent from or paid to (change included).
    pub async fn used_addresses(&self) -> Result<HashSet<String>, WalletError> {
        let mut used = HashSet::new();
        for payment in self.payments().await? {
            used.insert(payment.recipient);
            used.extend(payment.change_address);
            used.extend(payment.spent_from);
        }
        Ok(used)
    }
}
