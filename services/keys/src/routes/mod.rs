//! The keys service's HTTP handlers.

pub mod keys;

pub use keys::configure;
