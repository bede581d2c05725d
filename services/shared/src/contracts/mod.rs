//! The contracts between stockflow's parts, written once as types: whatever two parts
//! exchange (an HTTP body, a header, a message attribute, an id) is defined here and used
//! by both sides, so they cannot drift apart.
//!
//! - [`restock`]: the restock request id, one type in `stock_empty` and `stock_arrival`;
//! - [`dead_letter`]: the attributes a dead-lettered message carries and the failure kinds;
//! - [`fields`] and [`legacy`]: reading a JSON request body field by field, with a precise
//!   problem for each mistake, and the original system's `MessageAttribute…` fields (a
//!   count may be a number or a string of digits), shared by sales and the factory;
//! - [`idempotency_key`]: the `Idempotency-Key` header of sales and the factory;
//! - [`factory`]: the Factory API's requests and replies, used by stock-worker's client,
//!   the factory's handlers and its OpenAPI document.

pub mod dead_letter;
pub mod factory;
pub mod fields;
pub mod idempotency_key;
pub mod legacy;
pub mod restock;

pub use dead_letter::FailureKind;
pub use idempotency_key::IdempotencyKey;
pub use restock::RestockRequestId;
