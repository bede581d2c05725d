//! `stockflow-kit`: what every stockflow service runs on, and nothing that only one needs.
//!
//! - [`config`]: settings from environment variables, each with a working default;
//! - [`telemetry`]: logging (human or JSON lines);
//! - [`db`]: MySQL pools, migrations under a lock, the error codes stockflow acts on;
//! - [`metrics`]: the Prometheus recorder and the HTTP request middleware;
//! - [`health`]: `/health`, `/ready` and `/metrics`, and the small port workers serve them on;
//! - [`body`]: reading a JSON request body field by field, the legacy order fields too;
//! - [`problem`]: RFC 9457 problem+json errors, and the HTTP reading of request bodies
//!   and the contracts' `Idempotency-Key`;
//! - [`request_id`]: `X-Request-Id` on every request;
//! - [`binary`]: a service binary's life, from its settings to its shutdown;
//! - [`shutdown`], [`serve`] and [`periodic`]: stopping on a signal, draining an HTTP
//!   server, and the one loop every periodic task runs in.
//!
//! The wire contracts live in `stockflow-contracts`, messaging (SNS/SQS, the outbox) in
//! `stockflow-messaging`.

pub mod binary;
pub mod body;
pub mod config;
pub mod db;
pub mod health;
pub mod metrics;
pub mod periodic;
pub mod problem;
pub mod request_id;
pub mod serve;
pub mod shutdown;
pub mod telemetry;
