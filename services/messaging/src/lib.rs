//! `stockflow-messaging`: how stockflow's events travel over SNS/SQS without being lost.
//!
//! - [`aws`]: SDK configuration and the environment's topic and queue names;
//! - [`publisher`]: publishing an event with its message attributes;
//! - [`outbox`]: the transactional outbox (its table's migration is here, once), its fast
//!   path and its sweeper;
//! - [`consumer`]: the SQS consumer loop: it decodes each message into the handler's
//!   event type, and dead-letters what does not decode, with the decoding error as reason;
//! - [`queue_metrics`]: queue depth and backlog age gauges;
//! - [`sqs`]: one receive, one batch delete and the attribute readers, for every reader of a
//!   queue;
//! - [`settings`]: the settings every service with a database shares;
//! - [`worker`]: a worker's settings, connections and run loop.
//!
//! The events themselves are `stockflow-contracts`'; configuration, health and metrics are
//! `stockflow-kit`'s.

pub mod aws;
pub mod consumer;
pub mod outbox;
pub mod publisher;
pub mod queue_metrics;
pub mod settings;
pub mod sqs;
pub mod worker;
