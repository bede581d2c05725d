//! Several replicas of every service as real processes, for one test: sales and factory
//! replicas share their port (`SO_REUSEPORT`), each worker replica has its own health
//! port. The test's helpers (`purchase`, `arm_factory_faults`, …) then talk to the
//! shared ports, as a client would.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use stockflow_devstack::process::{Launcher, Stack};
use stockflow_devstack::service::Service;

use crate::TestEnv;
use crate::fault_proxy::FaultProxy;

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

    /// Starts `replicas` of each service, sales reaching SNS through a relay to this
    /// test's LocalStack that the test can freeze (a broker that hangs): the replicas and
    /// the relay.
    pub async fn start_replicas_behind_relay(&mut self, replicas: usize) -> (Stack, FaultProxy) {
        let localstack = self.aws.aws_endpoint_url.trim_start_matches("http://").to_string();
        let relay = FaultProxy::start(&localstack).await;
        let stack = self
            .start_replicas(replicas, |l| set(l, Service::Sales, "AWS_ENDPOINT_URL", relay.url()))
            .await;
        (stack, relay)
    }
}

/// Stops every replica of `stack` (each must exit cleanly on SIGTERM within `grace`),
/// then the test's world ([`TestEnv::stop_shared`]).
pub async fn stop_all(stack: Stack, env: impl Into<Arc<TestEnv>>, grace: Duration) {
    stack
        .stop(grace)
        .await
        .unwrap_or_else(|err| panic!("every replica stops cleanly on SIGTERM: {err:#}"));
    TestEnv::stop_shared(env.into()).await;
}

/// The URL of the first replica of `service`.
pub fn first_url(stack: &Stack, service: Service) -> String {
    stack
        .replicas(service)
        .next()
        .unwrap_or_else(|| panic!("a {} replica", service.name()))
        .url()
}

/// `kill -9` replicas `0..replicas` of `service`.
pub async fn kill_replicas(stack: &mut Stack, service: Service, replicas: usize) {
    for i in 0..replicas {
        stack
            .kill_9(service, i)
            .await
            .unwrap_or_else(|err| panic!("kill -9 of {} replica {i}: {err:#}", service.name()));
    }
}

/// Launches replicas `0..replicas` of `service` again, each waited for until ready.
pub async fn relaunch_replicas(stack: &mut Stack, service: Service, replicas: usize) {
    for i in 0..replicas {
        stack
            .launch(service, i, &[])
            .await
            .unwrap_or_else(|err| panic!("{} replica {i} restarts: {err:#}", service.name()));
    }
}

/// Whether something accepts connections on `port` of 127.0.0.1 (a replica serves it).
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
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
