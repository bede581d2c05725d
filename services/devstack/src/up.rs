//! `stockflow-devstack up`: the replicas of every service started where missing and
//! awaited, then what runs where printed, and the README's two sample requests sent.

use std::path::Path;
use std::time::Duration;

use crate::localstack;
use crate::process::Launcher;
use crate::service::{Service, WORKER_PORT_STRIDE};

pub fn say(line: impl std::fmt::Display) {
    eprintln!("    {line}");
}

pub fn step(line: impl std::fmt::Display) {
    eprintln!("\n==> {line}");
}

/// Starts what is missing, sales and factory first (the workers call the factory), and
/// waits until every replica answers `/ready`. Live replicas are left alone.
pub async fn start_missing(launcher: &Launcher, replicas: usize) -> anyhow::Result<()> {
    for group in [
        [Service::Sales, Service::Factory],
        [Service::StockWorker, Service::StockIncWorker],
    ] {
        let mut running = Vec::new();
        for service in group {
            let live: Vec<_> = (0..replicas).filter_map(|i| launcher.recorded(service, i)).collect();
            // A port another program holds: only our own replicas may share it.
            let port_free = crate::ports::port_free;
            let shared_port_free =
                !service.shares_port() || !live.is_empty() || port_free(launcher.ports.of(service, 0));
            for index in 0..replicas {
                if let Some(replica) = live.iter().find(|r| r.index == index) {
                    say(format_args!(
                        "{} replica {index} already running (pid {}, :{})",
                        service.name(),
                        replica.pid,
                        replica.port
                    ));
                    continue;
                }
                let port = launcher.ports.of(service, index);
                let free = if service.shares_port() {
                    shared_port_free
                } else {
                    port_free(port)
                };
                if !free {
                    anyhow::bail!(
                        "port {port} (for {} replica {index}) is taken by another process; stop it or set {}",
                        service.name(),
                        service.port_variable()
                    );
                }
                let replica = launcher.spawn(service, index, &[])?;
                say(format_args!(
                    "{} replica {index} started (pid {}, :{port}, log {})",
                    service.name(),
                    replica.pid,
                    replica.log().display()
                ));
                running.push(replica);
            }
            running.extend(live);
        }
        for replica in &mut running {
            replica.wait_ready(launcher.ready_timeout).await?;
        }
        say(format_args!(
            "ready: {}",
            group.map(|s| format!("{} ×{replicas}", s.name())).join(", ")
        ));
    }
    Ok(())
}

/// Stops every replica the run dir records; false when one ignored SIGTERM (a defect: it
/// would not drain) and was killed.
pub async fn stop_replicas(run_dir: &Path, grace: Duration) -> anyhow::Result<bool> {
    let mut clean = true;
    for line in crate::process::stop_recorded(run_dir, grace).await? {
        clean &= !line.contains("ignored SIGTERM");
        say(line);
    }
    Ok(clean)
}

/// What runs where, and how to stop it.
pub fn summary(launcher: &Launcher, replicas: usize, localstack_port: u16, down: &str) {
    let ports = &launcher.ports;
    let workers = |service| {
        (0..replicas)
            .map(|i| ports.of(service, i).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let pid = std::fs::read_to_string(launcher.run_dir.join("localstack.pid"))
        .map(|p| p.trim().to_string())
        .unwrap_or_else(|_| "not ours".into());
    let run_dir = launcher.run_dir.display();
    say(format_args!(
        "sales             http://127.0.0.1:{}   (/products, /checkout, /ready, /metrics; {replicas} replica(s) share the port)",
        ports.sales
    ));
    say(format_args!(
        "factory           http://127.0.0.1:{}   (/api/manufactures; {replicas} replica(s) share the port)",
        ports.factory
    ));
    say(format_args!(
        "stock-worker      /ready and /metrics on :{}   (one port per replica, {WORKER_PORT_STRIDE} apart)",
        workers(Service::StockWorker)
    ));
    say(format_args!(
        "stock-inc-worker  /ready and /metrics on :{}",
        workers(Service::StockIncWorker)
    ));
    say(format_args!(
        "LocalStack        {}   (pid {pid})",
        localstack::endpoint(localstack_port)
    ));
    say(format_args!(
        "logs and pids     {run_dir}/<service>-<replica>.log and .pid       stop with: {down}"
    ));
}

/// The README's sample requests against sales (they buy one CP-502101), shown with
/// their answers.
pub async fn try_requests(sales_port: u16) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let base = format!("localhost:{sales_port}");
    say("Try:");
    say(format_args!("$ curl -s {base}/products"));
    match http.get(format!("http://{base}/products")).send().await {
        Ok(response) => println!("{}", response.text().await.unwrap_or_default()),
        Err(err) => say(format_args!("(no answer: {err})")),
    }
    let body = r#"{"sku":"CP-502101","quantity":1}"#;
    say(format_args!(
        "$ curl -s -X POST {base}/checkout -H 'content-type: application/json' -d '{body}'"
    ));
    let checkout = http
        .post(format!("http://{base}/checkout"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match checkout {
        Ok(response) => println!("{}", response.text().await.unwrap_or_default()),
        Err(err) => say(format_args!("(no answer: {err})")),
    }
    Ok(())
}

/// Removes the run dir (`down --purge`).
pub fn purge(run_dir: &Path) -> anyhow::Result<()> {
    if run_dir.exists() {
        std::fs::remove_dir_all(run_dir)?;
        say(format_args!("removed {}/", run_dir.display()));
    }
    Ok(())
}
