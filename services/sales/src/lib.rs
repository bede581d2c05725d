//! The Sales API: products, and atomic checkout from the warehouse database.
//!
//! A sale is one conditional `UPDATE` in the transaction that records the order; a
//! shortage opens (or joins) a restock request and writes its `stock_empty` event to
//! the outbox in that same transaction, and the outbox relay publishes it to SNS.

mod answer;
mod configuration;
mod domain;
mod openapi;
mod republish;
mod routes;
mod startup;
mod store;

pub use configuration::Settings;
pub use openapi::ApiDoc;
pub use startup::Application;
