//! `stockflow-contracts`: the contracts between stockflow's parts, written once as types.
//! Whatever two parts exchange (an event, an HTTP body, a header, a message attribute, an
//! id, a topic's name, a default port) is defined here and used by both ends, so they
//! cannot drift apart; the black-box suite reads the same types.
//!
//! Serde only: no HTTP, no AWS, no database, no JSON reader. Its dependencies are serde,
//! `uuid` and `chrono` (`serde_json` only in its tests); the services choose how to read
//! and write the bytes. Its errors are its own ([`factory::CountOutOfRange`]); the services
//! turn them into HTTP problems, and the factory writes the Factory API's OpenAPI schemas.
//!
//! - [`events`]: the events on SNS/SQS and their message attributes;
//! - [`names`]: the topology's topic and queue names;
//! - [`ports`]: where each service listens by default;
//! - [`restock`]: the restock request id, one type in `stock_empty` and `stock_arrival`;
//! - [`dead_letter`]: the attributes a dead-lettered message carries and the failure kinds;
//! - [`legacy`]: the original system's `MessageAttribute…` fields (a count may be a number
//!   or a string of digits), shared by sales and the factory;
//! - [`idempotency_key`]: the `Idempotency-Key` header of sales and the factory;
//! - [`factory`]: the Factory API's requests and replies, used by stock-worker's client,
//!   the factory's handlers and its OpenAPI document.

pub mod dead_letter;
pub mod events;
pub mod factory;
pub mod idempotency_key;
pub mod legacy;
pub mod names;
pub mod ports;
pub mod restock;

pub use dead_letter::FailureKind;
pub use idempotency_key::IdempotencyKey;
pub use restock::RestockRequestId;
