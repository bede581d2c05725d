//! `stockflow-contracts`: the contracts between stockflow's parts, written once as types.
//! Whatever two parts exchange (an event, an HTTP body, a header, a message attribute, an
//! id, a topic's name, a default port) is defined here and used by both ends, so they
//! cannot drift apart; the black-box suite reads the same types.
//!
//! Serde only: no HTTP, no AWS, no database. Its dependencies are serde with `serde_json`
//! (serde's JSON: every body it defines is JSON, the factory's reply echoes the request as
//! received, and [`fields`] reads a body field by field), `uuid` and `chrono`. Its errors
//! are its own ([`fields::BodyError`]);
//! the services turn them into HTTP problems. The `openapi` feature derives the Factory
//! API's schemas for the factory's document.
//!
//! - [`events`]: the events on SNS/SQS and their message attributes;
//! - [`names`]: the topology's topic and queue names;
//! - [`ports`]: where each service listens by default;
//! - [`restock`]: the restock request id, one type in `stock_empty` and `stock_arrival`;
//! - [`dead_letter`]: the attributes a dead-lettered message carries and the failure kinds;
//! - [`fields`] and [`legacy`]: reading a JSON request body field by field, with a precise
//!   error for each mistake, and the original system's `MessageAttribute…` fields (a
//!   count may be a number or a string of digits), shared by sales and the factory;
//! - [`idempotency_key`]: the `Idempotency-Key` header of sales and the factory;
//! - [`factory`]: the Factory API's requests and replies, used by stock-worker's client,
//!   the factory's handlers and its OpenAPI document.

pub mod dead_letter;
pub mod events;
pub mod factory;
pub mod fields;
pub mod idempotency_key;
pub mod legacy;
pub mod names;
pub mod ports;
pub mod restock;

pub use dead_letter::FailureKind;
pub use idempotency_key::IdempotencyKey;
pub use restock::RestockRequestId;
