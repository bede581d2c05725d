//! The development environment's one home, shared by the scripts (through the
//! `stockflow-devstack` binary), the end-to-end tests and the bench:
//!
//! - [`ports`]: the default ports, written once, and free ports;
//! - [`service`]: the four services, their port variables and the replica port scheme;
//! - [`process`]: service replicas as processes (pid and log files, readiness, signals,
//!   restarting the dead ones), and [`process::Stack`], a set of them;
//! - [`up`]: `stockflow-devstack up`, the missing replicas started and what runs printed;
//! - [`api_stack`]: `stockflow-devstack api-stack`, the live stack of `scripts/test`'s API parts;
//! - [`localstack`]: LocalStack from its cached venv, the shared instance of a run dir
//!   and a test's private one, started, awaited and stopped in one place;
//! - [`topology`]: the CloudFormation template deployed under a prefix, and its
//!   deletion awaited;
//! - [`pidfile`]: stopping what is known by its pid file (LocalStack, a dockerd);
//! - [`queues`]: emptying an environment's queues;
//! - [`cleanup`]: a test's databases and stack removed, whether it passes or fails;
//! - [`mysql`]: `MYSQL_URL` read once (by mysql_async, as the services read it), a
//!   login check and dropping databases;
//! - [`private`]: a private MariaDB (and LocalStack) for the tests that crash or freeze them;
//! - [`poll`]: waiting for a condition with a deadline;
//! - [`venv`]: the cached Python venvs of LocalStack and the PyPI-installed checks;
//! - [`compose`]: `stockflow-devstack compose-suite`, the compose part of `scripts/test`: a
//!   Docker engine, the images (local stand-ins where no registry answers), the compose
//!   stack's story, scaling, e2e and observability checks, and its own cleanup.

pub mod api_stack;
pub mod cleanup;
pub mod compose;
pub mod localstack;
pub mod mysql;
pub mod pidfile;
pub mod poll;
pub mod ports;
pub mod private;
pub mod process;
pub mod queues;
pub mod service;
pub mod topology;
pub mod up;
pub mod venv;
