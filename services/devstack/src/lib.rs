//! One way to start stockflow on one machine, shared by `scripts/up`/`scripts/down`
//! (through the `stockflow-devstack` binary), the end-to-end tests and the bench:
//!
//! - [`service`]: the four services, their port variables and the replica port scheme;
//! - [`process`]: service replicas as processes (pid and log files, readiness, signals,
//!   restarting the dead ones), and [`process::Stack`], a set of them;
//! - [`topology`]: the CloudFormation template deployed under a prefix, and its
//!   deletion awaited;
//! - [`mysql`]: `MYSQL_URL` read once (by mysql_async, as the services read it), a
//!   login check and dropping databases;
//! - [`private`]: a private MariaDB or LocalStack for the tests that crash or freeze them.

pub mod mysql;
pub mod private;
pub mod process;
pub mod service;
pub mod topology;
