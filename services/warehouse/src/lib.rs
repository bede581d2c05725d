//! The warehouse: the database that `sales` and `stock-inc-worker` share, as in the
//! brief. This crate owns its schema (migrations), its typed rows and every query on
//! its tables; the services are thin adapters around it. It knows nothing of HTTP or
//! SQS: a checkout's outcome is a plain type, and the events it writes to the outbox
//! are published by the outbox handle it is given, right after the commit.
//!
//! What reaches it is already valid: a [`checkout::Purchase`] carries a [`Sku`], a
//! [`Quantity`] and an `IdempotencyKey`, which its callers can only build by parsing.

pub mod checkout;
mod idempotency;
pub mod invariant;
pub mod products;
mod quantity;
pub mod reports;
pub mod republish;
pub mod restock;
mod schema;
mod sku;

pub use idempotency::prune_expired_keys;
pub use quantity::Quantity;
pub use schema::{DEFAULT_DATABASE, open};
pub use sku::Sku;
