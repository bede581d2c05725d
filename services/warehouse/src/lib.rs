//! The warehouse: the database that `sales` and `stock-inc-worker` share, as in the
//! brief. This crate owns its schema (migrations), its typed rows and every query on
//! its tables; the services are thin adapters around it. It knows nothing of HTTP or
//! SQS: a checkout's outcome is a plain type, and the events it writes to the outbox
//! are published by the outbox handle it is given, right after the commit.

pub mod checkout;
mod idempotency;
pub mod invariant;
pub mod products;
pub mod reports;
pub mod republish;
pub mod restock;
mod schema;

pub use idempotency::prune_expired_keys;
pub use schema::{DEFAULT_DATABASE, open};
