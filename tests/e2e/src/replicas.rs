//! Several replicas of every service as real processes, for one test: sales and factory
//! replicas share their port (`SO_REUSEPORT`), each worker replica has its own health
//! port. The test's helpers (`purchase`, `arm_factory_faults`, …) then talk to the
//! shared ports, as a client would.

use std::collections::BTreeMap;

use stockflow_devstack::process::{Launcher, Stack};
use stockflow_devstack::service::Service;

use crate::TestEnv;

impl TestEnv {
    /// Starts `replicas` of each service; `tune` may change the launcher first (e.g.
    /// point one service at a cut-off relay, or shorten a bound).
    pub async fn start_replicas(&mut self, replicas: usize, tune: impl FnOnce(&mut Launcher)) -> Stack {
        let mut launcher = self.launcher(replicas);
        tune(&mut launcher);
        self.sales_url = Some(format!("http://127.0.0.1:{}", launcher.ports.sales));
        self.factory_url = Some(format!("http://127.0.0.1:{}", launcher.ports.factory));
        Stack::start(launcher, replicas)
            .await
            .unwrap_or_else(|err| panic!("starting {replicas} replicas of each service: {err:#}"))
    }
}

/// Adds `key=value` to one service's variables.
pub fn set(launcher: &mut Launcher, service: Service, key: &str, value: impl Into<String>) {
    launcher
        .service_env
        .entry(service)
        .or_default()
        .push((key.to_string(), value.into()));
}

/// Adds `key=value` to every service's variables.
pub fn set_all(launcher: &mut Launcher, key: &str, value: impl Into<String>) {
    launcher.env.push((key.to_string(), value.into()));
}

/// The worker replicas' URLs, by service.
pub fn worker_urls(stack: &Stack) -> BTreeMap<Service, Vec<String>> {
    [Service::StockWorker, Service::StockIncWorker]
        .into_iter()
        .map(|s| (s, stack.replicas(s).map(|r| r.url()).collect()))
        .collect()
}
