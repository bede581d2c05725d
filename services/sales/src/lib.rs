//! The Sales API: products, and atomic checkout from the warehouse database.
//!
//! A thin adapter around the `warehouse` crate: it validates requests, hands purchases
//! to the warehouse's combining checkout and renders the outcome as the answer. The
//! warehouse records each sale or shortage (with its `stock_empty` event in the outbox)
//! in one transaction and publishes the event after commit; the outbox relay publishes
//! whatever that missed.

mod answer;
mod configuration;
mod domain;
mod openapi;
mod republisher;
mod routes;
mod startup;
mod stock_gauges;

pub use configuration::Settings;
pub use openapi::ApiDoc;
pub use startup::Application;
