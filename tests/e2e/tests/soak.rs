//! The replica soak: two replicas of every service as real processes, on a private
//! MariaDB and a private LocalStack, a fixed number of purchases (at least 5,000) by 16
//! clients over dozens of skus, while faults are injected at random moments (seeded: the
//! seed is printed), in rounds of every kind in a random order: `kill -9` of a sales,
//! factory or worker replica (started again), the factory failing with 503, SNS
//! unreachable for sales, a queue purged (messages lost outside stockflow), the database
//! crashing, LocalStack hanging (SIGSTOP) and LocalStack restarting empty.
//!
//! A fault counts only on its evidence: a crash when the process was reaped (gone from
//! /proc); factory errors when a stock-worker replica was answered the injected 5xx; an SNS
//! cut when a sales replica logged a failed publish; a purge when the queue held messages
//! just before; a LocalStack hang when its process was in state `T` and sales' `/ready`
//! answered 503; a LocalStack restart when the old process was reaped and a new one
//! deployed the topology. The soak fails if fewer than four kinds were evidenced. At the
//! end: the ledger holds for every sku; no restock request is open; each has exactly one
//! applied production order; the dead-letter queues are empty; every purchase answered
//! 200 has its order row; no 5xx outside the database outages.
//!
//! CI runs the short form (bounded by nextest's terminate-after); `scripts/soak --minutes M`
//! the same for longer (`SOAK_MINUTES`, `SOAK_PURCHASES`, `SOAK_SEED`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use stockflow_contracts::names;
use stockflow_devstack::private::{PrivateLocalstack, PrivateMariadb, process_state};
use stockflow_devstack::process::Stack;
use stockflow_devstack::service::Service;
use stockflow_e2e::cutoff::Cutoff;
use stockflow_e2e::logs;
use stockflow_e2e::replicas::{set, set_all};
use stockflow_e2e::shop::{Answer, CLIENT_TIMEOUT, DB_RECOVERY_SLACK, get_status};
use stockflow_e2e::{Setup, TestEnv};

const SKUS: u64 = 30;
const CLIENTS: usize = 16;
/// The fixed number of purchases is spread over this long (faults need time to happen).
const LOAD_SECONDS: u64 = 60;

/// xorshift64*: reproducible from the printed seed, no dependency needed.
struct Random(AtomicU64);

impl Random {
    fn below(&self, n: u64) -> u64 {
        let mut x = self.0.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.store(x, Ordering::Relaxed);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    KillSales,
    KillFactory,
    KillWorker,
    FactoryErrors,
    SnsCut,
    QueuePurged,
    DatabaseCrash,
    LocalstackHang,
    LocalstackRestart,
}

const FAULTS: [Fault; 9] = [
    Fault::KillSales,
    Fault::KillFactory,
    Fault::KillWorker,
    Fault::FactoryErrors,
    Fault::SnsCut,
    Fault::QueuePurged,
    Fault::DatabaseCrash,
    Fault::LocalstackHang,
    Fault::LocalstackRestart,
];

/// One fault that happened (on its evidence): what, and from when to when it lasted.
struct Injected {
    fault: Fault,
    from: Instant,
    to: Instant,
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A purchase as a careful client makes it: with an Idempotency-Key, sent again on the
/// same key when the connection broke (a sales replica killed under it).
async fn purchase(env: &TestEnv, client: &reqwest::Client, sku: &str, quantity: u64) -> Answer {
    let key = uuid::Uuid::new_v4().to_string();
    let mut tries = 0;
    loop {
        let sent_at = Instant::now();
        let sent = client
            .post(env.sales("/checkout"))
            .header("idempotency-key", &key)
            .json(&serde_json::json!({"sku": sku, "quantity": quantity}))
            .send()
            .await;
        tries += 1;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                return Answer {
                    status,
                    latency: sent_at.elapsed(),
                    content_type: String::new(),
                    retry_after,
                    body: response.json().await.unwrap_or_default(),
                    sent_at,
                };
            }
            Err(err) if err.is_timeout() || tries >= 10 => {
                return Answer {
                    status: 0,
                    latency: sent_at.elapsed(),
                    content_type: String::new(),
                    retry_after: None,
                    body: serde_json::json!({"error": err.to_string()}),
                    sent_at,
                };
            }
            // The connection broke: the pace of a client's retry, not a wait for a condition.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The private instances and relays the faults act on.
struct World {
    stack: Stack,
    database: PrivateMariadb,
    localstack: PrivateLocalstack,
    sns: Cutoff,
    last_purge: BTreeMap<&'static str, Instant>,
}

/// How often `text` occurs in the logs of `service`'s replicas.
fn logged(stack: &Stack, service: Service, text: &str) -> usize {
    stack
        .replicas(service)
        .map(|r| {
            std::fs::read_to_string(r.log())
                .unwrap_or_default()
                .matches(text)
                .count()
        })
        .sum()
}

/// Failed publishes the sales replicas logged (fast path and sweeper).
fn failed_publishes(stack: &Stack) -> usize {
    let sweeps: usize = stack
        .replicas(Service::Sales)
        .map(|r| logs::task_failures(r.log(), "outbox_sweep"))
        .sum();
    logged(stack, Service::Sales, logs::FAST_PATH_FAILED) + sweeps
}

/// Polls `check` every 100 ms for at most `bound`; whether it held.
async fn within(bound: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + bound;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Injects `fault` and undoes it; returns whether its evidence was seen.
async fn inject(fault: Fault, env: &TestEnv, world: &mut World, random: &Random) -> bool {
    let replica = random.below(2) as usize;
    let pause = Duration::from_millis(500 + random.below(2000));
    let gone = |pid: Option<u32>| pid.is_some_and(|pid| process_state(pid) == '?');
    match fault {
        Fault::KillSales | Fault::KillFactory | Fault::KillWorker => {
            let service = match fault {
                Fault::KillSales => Service::Sales,
                Fault::KillFactory => Service::Factory,
                _ if random.below(2) == 0 => Service::StockWorker,
                _ => Service::StockIncWorker,
            };
            let pid = world.stack.replica(service, replica).map(|r| r.pid);
            world.stack.kill_9(service, replica).await.expect("kill -9");
            let reaped = gone(pid);
            world
                .stack
                .launch(service, replica, &[])
                .await
                .expect("the replica starts again");
            reaped
        }
        Fault::FactoryErrors => {
            let before = logged(&world.stack, Service::StockWorker, "injected-fault");
            env.arm_factory_faults(serde_json::json!({"fail_next": 1 + random.below(3), "status": 503}))
                .await;
            // Evidence: a stock-worker replica was answered the injected 503 (while restocks flow).
            within(pause + Duration::from_secs(2), async || {
                logged(&world.stack, Service::StockWorker, "injected-fault") > before
            })
            .await
        }
        Fault::SnsCut => {
            let before = failed_publishes(&world.stack);
            world.sns.cut();
            tokio::time::sleep(pause).await; // how long the fault lasts
            let failed = within(Duration::from_secs(3), async || failed_publishes(&world.stack) > before).await;
            world.sns.restore();
            failed
        }
        Fault::QueuePurged => {
            let queue = if random.below(2) == 0 {
                names::STOCK_QUEUE
            } else {
                names::STOCK_INC_QUEUE
            };
            // SQS allows one purge per queue a minute.
            if world
                .last_purge
                .get(queue)
                .is_some_and(|t| t.elapsed() < Duration::from_secs(61))
            {
                return false;
            }
            let held = env.queue_depth(queue).await;
            let purged = env.sqs.purge_queue().queue_url(env.queue_url(queue).await).send().await;
            if purged.is_err() {
                return false;
            }
            world.last_purge.insert(queue, Instant::now());
            held > 0
        }
        Fault::DatabaseCrash => {
            let pid = world.database.pid();
            world.database.kill_9().await.expect("kill -9 mariadbd");
            let reaped = gone(pid);
            tokio::time::sleep(pause).await; // how long the fault lasts
            world.database.restart().await.expect("mariadbd restarts");
            reaped
        }
        Fault::LocalstackHang => {
            let pid = world.localstack.pid().expect("LocalStack runs");
            world.localstack.freeze().expect("SIGSTOP");
            let stopped = within(Duration::from_secs(5), async || process_state(pid) == 'T').await;
            let client = reqwest::Client::new();
            let not_ready = within(pause, async || get_status(&client, &env.sales("/ready")).await.0 == 503).await;
            world.localstack.thaw().expect("SIGCONT");
            stopped && not_ready
        }
        Fault::LocalstackRestart => {
            let pid = world.localstack.pid();
            world.localstack.restart_empty().await.expect("LocalStack restarts");
            gone(pid) && world.localstack.pid() != pid
        }
    }
}

fn percentile(latencies: &mut [Duration], p: f64) -> Duration {
    if latencies.is_empty() {
        return Duration::ZERO;
    }
    latencies.sort();
    latencies[((latencies.len() - 1) as f64 * p) as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_under_random_faults_keep_every_guarantee() {
    let seed = env_number(
        "SOAK_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1,
    );
    let purchases = env_number("SOAK_PURCHASES", 5_000).max(5_000);
    let minutes = env_number("SOAK_MINUTES", 0);
    println!("soak seed {seed} (rerun with SOAK_SEED={seed}); {purchases} purchases at least, {minutes} min at least");
    let random = Arc::new(Random(AtomicU64::new(seed)));

    let database = PrivateMariadb::start().await.expect("private MariaDB");
    let prefix = "soak_";
    let localstack = PrivateLocalstack::start(prefix, 10).await.expect("private LocalStack");
    let mut env = TestEnv::with(Setup {
        mysql_url: Some(database.url()),
        localstack: Some((localstack.endpoint(), prefix.into())),
        ..Setup::default()
    })
    .await;
    let sns = Cutoff::start(env.aws.aws_endpoint_url.trim_start_matches("http://")).await;
    let sns_url = sns.url();
    let stack = env
        .start_replicas(2, |l| {
            set(l, Service::Sales, "AWS_ENDPOINT_URL", sns_url);
            set_all(l, "RESTOCK_REPUBLISH_SECONDS", "10");
        })
        .await;
    for i in 0..SKUS {
        env.add_product(
            &format!("SOAK-{i:02}"),
            random.below(6) as i64,
            3 + random.below(10) as i64,
        )
        .await;
    }

    let env = Arc::new(env);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60 * minutes);
    let pace = Duration::from_secs(LOAD_SECONDS) / purchases as u32;
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let load = {
        let client = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).build().unwrap();
        let buyers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (env, random, next, answers, client) = (
                    env.clone(),
                    random.clone(),
                    next.clone(),
                    answers.clone(),
                    client.clone(),
                );
                tokio::spawn(async move {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= purchases && Instant::now() >= deadline {
                            break;
                        }
                        // Client think time: purchase n is due n × pace after the start, so
                        // the purchases span the faults instead of ending before the first.
                        tokio::time::sleep_until((started + pace * n as u32).into()).await;
                        let sku = format!("SOAK-{:02}", random.below(SKUS));
                        let answer = purchase(&env, &client, &sku, 1 + random.below(3)).await;
                        answers.lock().unwrap().push(answer);
                    }
                })
            })
            .collect();
        let done = done.clone();
        tokio::spawn(async move {
            futures::future::join_all(buyers).await;
            done.store(true, Ordering::Relaxed);
        })
    };

    let mut injected: Vec<Injected> = Vec::new();
    let mut world = World {
        stack,
        database,
        localstack,
        sns,
        last_purge: BTreeMap::new(),
    };
    let mut unproven: BTreeMap<Fault, usize> = BTreeMap::new();
    // Faults come in rounds, each round every kind once in a random order.
    let mut round: Vec<Fault> = Vec::new();
    while !done.load(Ordering::Relaxed) {
        // Random moments: the next fault 1-3 s after the last one ended.
        tokio::time::sleep(Duration::from_millis(1000 + random.below(2000))).await;
        if done.load(Ordering::Relaxed) {
            break;
        }
        if round.is_empty() {
            round = FAULTS.to_vec();
            for i in (1..round.len()).rev() {
                round.swap(i, random.below(i as u64 + 1) as usize);
            }
        }
        let fault = round.pop().expect("a fault");
        let from = Instant::now();
        if inject(fault, &env, &mut world, &random).await {
            injected.push(Injected {
                fault,
                from,
                to: Instant::now(),
            });
        } else {
            *unproven.entry(fault).or_default() += 1;
        }
    }
    load.await.unwrap();
    let load_time = started.elapsed();
    let answers = std::mem::take(&mut *answers.lock().unwrap());

    let mut counts: BTreeMap<Fault, usize> = BTreeMap::new();
    for i in &injected {
        *counts.entry(i.fault).or_default() += 1;
    }
    println!(
        "{} purchases in {:.1} s ({:.0}/s); faults with evidence: {counts:?}; tried without evidence \
         (nothing flowed to fail, or a purge within a minute): {unproven:?}",
        answers.len(),
        load_time.as_secs_f64(),
        answers.len() as f64 / load_time.as_secs_f64()
    );
    // What each fault did to latency and throughput while it lasted.
    for fault in FAULTS {
        let during: Vec<&Answer> = answers
            .iter()
            .filter(|a| {
                injected
                    .iter()
                    .any(|i| i.fault == fault && a.sent_at >= i.from && a.sent_at <= i.to)
            })
            .collect();
        let lasted: f64 = injected
            .iter()
            .filter(|i| i.fault == fault)
            .map(|i| (i.to - i.from).as_secs_f64())
            .sum();
        if lasted > 0.0 {
            let mut latencies: Vec<Duration> = during.iter().map(|a| a.latency).collect();
            println!(
                "  during {fault:?} ({lasted:.1} s in all): {:.0} purchases/s, p50 {:?}, p99 {:?}, 503s {}",
                during.len() as f64 / lasted,
                percentile(&mut latencies, 0.5),
                percentile(&mut latencies, 0.99),
                during.iter().filter(|a| a.status == 503).count()
            );
        }
    }
    assert!(
        counts.len() >= 4,
        "only {} kinds of fault were evidenced ({counts:?}): a soak without faults proves nothing",
        counts.len()
    );
    assert!(answers.len() as u64 >= purchases, "{} purchases", answers.len());

    // Sold or out of stock; 503 only while the database was down (and recovering).
    let outage = |a: &Answer| {
        injected.iter().any(|i| {
            i.fault == Fault::DatabaseCrash && a.sent_at + a.latency >= i.from && a.sent_at <= i.to + DB_RECOVERY_SLACK
        })
    };
    let unexpected: Vec<&Answer> = answers
        .iter()
        .filter(|a| !(matches!(a.status, 200 | 409) || a.status == 503 && outage(a)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} answers neither sold, out of stock nor a 503 in a database outage, e.g. {:?}",
        unexpected.len(),
        unexpected.iter().take(3).collect::<Vec<_>>()
    );

    // Let the pipeline settle; a lost message is published again after 10 s.
    env.settle(Duration::from_secs(240)).await;
    env.assert_exactly_once().await;
    let report = env.invariant().await;
    assert_eq!(
        report.balances.iter().filter(|b| b.sku.starts_with("SOAK-")).count(),
        SKUS as usize
    );
    let pool = env.warehouse().await;
    let mut conn = pool.get_conn().await.unwrap();
    let orders: Vec<u64> = conn.query("SELECT id FROM orders").await.unwrap();
    let orders: std::collections::BTreeSet<u64> = orders.into_iter().collect();
    let sold: Vec<u64> = answers
        .iter()
        .filter(|a| a.status == 200)
        .map(|a| a.body["order_id"].as_u64().expect("order_id"))
        .collect();
    let missing: Vec<&u64> = sold.iter().filter(|id| !orders.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "sales answered 200 without an order row: {missing:?}"
    );
    drop(conn);
    println!(
        "checks passed: ledger for {SKUS} skus, 0 open requests, one applied production order each, \
         DLQs empty, {} sales each with its order row, no 5xx outside {} database outage(s)",
        sold.len(),
        counts.get(&Fault::DatabaseCrash).copied().unwrap_or_default()
    );
    world
        .stack
        .stop(Duration::from_secs(30))
        .await
        .expect("every replica stops on SIGTERM");
    Arc::try_unwrap(env).ok().expect("one handle").stop().await;
}
