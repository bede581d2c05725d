//! The outbox and the consumer on the real parts: a database of the test's own on
//! `MYSQL_URL` and the topology deployed under a prefix of its own on the LocalStack at
//! `AWS_ENDPOINT_URL` (`scripts/test` starts both). These are the tests `scripts/mutants
//! messaging` runs against every mutant of `outbox.rs` and `consumer.rs`.

mod consumer;
mod outbox;
mod support;
