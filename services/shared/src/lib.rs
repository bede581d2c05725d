//! Code shared by every stockflow service.
//!
//! Each service keeps only what is its own; everything two services need lives here
//! once: configuration, telemetry, AWS clients and resource names, the event types and
//! the other contracts between the parts (`contracts`), the transactional outbox and its
//! relay, the SQS consumer loop, database pools and migrations, problem+json errors and
//! the health endpoints.

pub mod aws;
pub mod config;
pub mod consumer;
pub mod contracts;
pub mod db;
pub mod events;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod outbox;
pub mod problem;
pub mod publisher;
pub mod queue_metrics;
pub mod request_id;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod worker;
