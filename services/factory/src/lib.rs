//! The Factory API: the legacy manufacturing contract, kept.
//!
//! `POST /api/manufactures` records a production order (deduplicated by
//! `Idempotency-Key`); the production line finishes it after the configured time and,
//! in the same transaction, writes its `stock_arrival` event to the outbox, which the
//! relay publishes to SNS. A crash at any point loses neither the order nor the event.

mod configuration;
mod contract_schemas;
mod faults;
mod manufacture_request;
mod openapi;
mod production_line;
mod routes;
pub mod schema;
mod startup;
mod store;

pub use configuration::Settings;
pub use openapi::ApiDoc;
pub use startup::Application;
