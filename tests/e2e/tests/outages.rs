//! Outages of what stockflow depends on, each on a private instance (its own port and
//! directory, never the shared one other tests use), under two replicas of every
//! service as real processes: LocalStack hanging longer than the services' timeouts (the
//! fast path gives up on every event, and the sweepers publish them),
//! LocalStack restarting and losing every message, and the database crashing under load
//! while restock work is in flight.
//! Each test proves its fault happened, that clients were answered in time meanwhile and
//! `/ready` told the truth, and that nothing was lost or doubled after recovery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stockflow_contracts::names;
use stockflow_devstack::private::{PrivateLocalstack, PrivateMariadb};
use stockflow_devstack::process::Stack;
use stockflow_devstack::service::Service;
use stockflow_e2e::logs;
use stockflow_e2e::replicas::{kill_replicas, relaunch_replicas, set, set_all, stop_all};
use stockflow_e2e::shop::{Answer, Buyers, CLIENT_TIMEOUT, DB_RECOVERY_SLACK, get_status, slowest, spreading_client};
use stockflow_e2e::{Setup, TestEnv, await_stopped, eventually};

const SETTLE: Duration = Duration::from_secs(150);

/// The `/ready` URL of every replica: the shared port of sales and factory (one answer
/// stands for whichever replica took it), and each worker replica's own.
fn ready_urls(stack: &Stack) -> Vec<(String, String)> {
    let mut urls = vec![
        ("sales".to_string(), format!("{}/ready", stack.url(Service::Sales, 0))),
        (
            "factory".to_string(),
            format!("{}/ready", stack.url(Service::Factory, 0)),
        ),
    ];
    for service in [Service::StockWorker, Service::StockIncWorker] {
        for replica in stack.replicas(service) {
            urls.push((
                format!("{} {}", service.name(), replica.index),
                format!("{}/ready", replica.url()),
            ));
        }
    }
    urls
}

/// Every replica answers `/ready` 200.
async fn all_ready(stack: &Stack) -> bool {
    let client = spreading_client();
    for (_, url) in ready_urls(stack) {
        if get_status(&client, &url).await.0 != 200 {
            return false;
        }
    }
    true
}

/// The ids of the messages on stock_queue (peeked, left in place).
async fn message_ids(env: &TestEnv) -> std::collections::BTreeSet<String> {
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..3 {
        for message in env.peek(names::STOCK_QUEUE).await {
            ids.extend(message.message_id().map(str::to_string));
        }
    }
    ids
}

fn summary(what: &str, answers: &[Answer], over: Duration) {
    let ok = answers.iter().filter(|a| a.status == 200).count();
    println!(
        "{what}: {} answers in {:.1} s ({:.0}/s), {ok} sold, slowest {:?}",
        answers.len(),
        over.as_secs_f64(),
        answers.len() as f64 / over.as_secs_f64().max(0.001),
        slowest(answers)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localstack_hanging_past_every_timeout_loses_nothing_and_ready_says_so() {
    let prefix = "hang_";
    let localstack = PrivateLocalstack::start(prefix, 5).await.expect("private LocalStack");
    let mut env = TestEnv::with(Setup::on_localstack(localstack.endpoint(), prefix)).await;
    // One attempt per AWS call for sales (instead of the SDK's three): the fast path gives
    // up within the hang, as it would after any hang longer than its retries, and the
    // events are then the sweepers' to publish.
    let stack = env
        .start_replicas(2, |l| set(l, Service::Sales, "AWS_MAX_ATTEMPTS", "1"))
        .await;
    let shortages = env.add_products("HANG", 8, 0, 3).await;
    env.add_product("HANG-STOCK", 1_000_000, 10).await;
    let env = Arc::new(env);

    let before = Instant::now();
    let buyers = Buyers::start(&env, "HANG-STOCK", 4, &spreading_client());
    // The broker hangs: longer than the AWS SDK's 30 s attempt timeout.
    localstack.freeze().expect("SIGSTOP");
    let frozen_at = Instant::now();
    let pid = localstack.pid().expect("running");
    await_stopped("LocalStack", pid).await;
    // One at a time: each event's fast path is then a task of its own (a batch's events
    // are published one after another), and each gives up within the hang.
    let client = spreading_client();
    let mut during = Vec::new();
    for sku in &shortages {
        during.push(env.buy(&client, sku, 1).await);
    }
    assert!(
        during.iter().all(|a| a.status == 409),
        "shortages answered while frozen: {during:?}"
    );

    // /ready tells the truth, in time, on every replica.
    for (name, url) in ready_urls(&stack) {
        let asked = Instant::now();
        let (status, body) = get_status(&client, &url).await;
        assert!(asked.elapsed() < CLIENT_TIMEOUT, "{name} /ready answered in time");
        assert_eq!(status, 503, "{name} /ready while LocalStack hangs: {body}");
        let checks = body["checks"].as_object().cloned().unwrap_or_default();
        let aws = checks
            .get("sns")
            .or_else(|| checks.get("sqs"))
            .cloned()
            .unwrap_or_default();
        assert!(
            aws.as_str().is_some_and(|s| s.contains("did not answer")),
            "{name}: {body}"
        );
        if let Some(database) = checks.get("database") {
            assert_eq!(database, "ok", "{name}: the database is fine: {body}");
        }
    }
    eventually(
        "the hang outlasted the SDK's attempt timeout",
        Duration::from_secs(60),
        || async { (frozen_at.elapsed() > Duration::from_secs(35)).then_some(()) },
    )
    .await;
    // Every event's fast path failed while LocalStack hung: each is logged with its
    // outbox row, by the replica that committed it.
    let events: std::collections::BTreeSet<u64> = env
        .warehouse_ids("SELECT id FROM outbox WHERE topic = 'stock_empty'")
        .await
        .into_iter()
        .collect();
    assert_eq!(events.len(), shortages.len(), "one event per shortage");
    let failed_fast = eventually(
        "the fast path gave up on every event",
        Duration::from_secs(20),
        || async {
            let failed: std::collections::BTreeSet<u64> = stack
                .replicas(Service::Sales)
                .flat_map(|r| logs::saying(r.log(), logs::FAST_PATH_FAILED))
                .filter_map(|v| v["outbox_id"].as_u64())
                .collect();
            (failed == events).then_some(failed)
        },
    )
    .await;
    localstack.thaw().expect("SIGCONT");
    let thawed_at = Instant::now();
    let answers = buyers.stop().await;
    let frozen: Vec<Answer> = answers.iter().filter(|a| a.sent_at >= frozen_at).cloned().collect();
    summary("purchases while LocalStack hung", &frozen, thawed_at - frozen_at);
    assert!(!frozen.is_empty());
    assert!(
        answers.iter().all(|a| a.status == 200),
        "every purchase answered 200 in time: {:?}",
        answers.iter().filter(|a| a.status != 200).take(3).collect::<Vec<_>>()
    );

    env.settle(SETTLE).await;
    // So the sweepers published them all (no other path could).
    let swept: u64 = stack
        .replicas(Service::Sales)
        .map(|r| logs::sum(r.log(), logs::SWEEPER_PUBLISHED, "published"))
        .sum();
    println!(
        "fast path failed for {} events, the sweepers published {swept}",
        failed_fast.len()
    );
    assert!(
        swept >= events.len() as u64,
        "the sweepers published every event: {swept}"
    );
    println!(
        "every shortage restocked {:.1} s after LocalStack resumed (frozen {:.1} s, test {:.1} s)",
        thawed_at.elapsed().as_secs_f64(),
        (thawed_at - frozen_at).as_secs_f64(),
        before.elapsed().as_secs_f64()
    );
    eventually(
        "every replica ready again without a restart",
        Duration::from_secs(60),
        || async { all_ready(&stack).await.then_some(()) },
    )
    .await;
    env.assert_exactly_once().await;
    env.assert_each_stock(&shortages, 3).await;
    stop_all(stack, env, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localstack_restarting_empty_loses_messages_and_the_bound_restocks_anyway() {
    let prefix = "lost_";
    let mut localstack = PrivateLocalstack::start(prefix, 5).await.expect("private LocalStack");
    let mut env = TestEnv::with(Setup::on_localstack(localstack.endpoint(), prefix)).await;
    let mut stack = env
        .start_replicas(2, |l| set_all(l, "RESTOCK_REPUBLISH_SECONDS", "5"))
        .await;
    // No stock-worker reads stock_queue: the events wait there when LocalStack dies.
    kill_replicas(&mut stack, Service::StockWorker, 2).await;
    let skus = env.add_products("LOST", 6, 0, 2).await;
    assert!(env.buy_each(&skus).await.iter().all(|a| a.status == 409));
    let in_flight = eventually("the six events are in stock_queue", Duration::from_secs(30), || async {
        let ids = message_ids(&env).await;
        (ids.len() == 6).then_some(ids)
    })
    .await;

    let restarted = Instant::now();
    localstack.restart_empty().await.expect("LocalStack restarts");
    // The messages are gone: whatever stock_queue holds now was published after the
    // restart (sales' bound re-enqueues the events while LocalStack starts again).
    let now = message_ids(&env).await;
    assert!(in_flight.is_disjoint(&now), "the messages did not survive the restart");
    assert_eq!(env.open_restock_requests().await, 6, "and the shortages are still open");
    relaunch_replicas(&mut stack, Service::StockWorker, 2).await;
    env.settle(SETTLE).await;
    println!(
        "LocalStack lost 6 messages; all restocked {:.1} s after its restart (bound 5 s)",
        restarted.elapsed().as_secs_f64()
    );
    let enqueued = env
        .warehouse_scalar("SELECT COUNT(*) FROM outbox WHERE topic = 'stock_empty'")
        .await;
    assert!(
        enqueued >= 12,
        "each lost event was enqueued again ({enqueued} events for 6 requests)"
    );
    env.assert_exactly_once().await;
    stop_all(stack, env, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_crashing_under_load_loses_no_answered_sale() {
    let mut database = PrivateMariadb::start().await.expect("private MariaDB");
    let mut env = TestEnv::with(Setup::on_mysql(database.url())).await;
    // Production takes long enough for the crash to find factory orders still pending.
    let stack = env
        .start_replicas(2, |l| set(l, Service::Factory, "FACTORY_PRODUCTION_SECONDS", "3"))
        .await;
    env.add_product("CRASH-STOCK", 1_000_000, 10).await;
    let arrived = env.add_products("CRASH-ARRIVED", 4, 0, 3).await;
    let ordered = env.add_products("CRASH-ORDERED", 4, 0, 3).await;
    let shortages = env.add_products("CRASH", 4, 0, 3).await;
    let env = Arc::new(env);

    let buyers = Buyers::start(&env, "CRASH-STOCK", 6, &spreading_client());
    env.await_stock_below("CRASH-STOCK", 1_000_000 - 50).await;

    // Restock work in flight when the database dies: shortages committed, arrivals waiting
    // in stock_inc_queue (its consumers paused), factory orders still in production.
    for replica in stack.replicas(Service::StockIncWorker) {
        replica.pause().expect("SIGSTOP stock-inc-worker");
    }
    assert!(env.buy_each(&arrived).await.iter().all(|a| a.status == 409));
    eventually(
        "the first arrivals wait in stock_inc_queue",
        Duration::from_secs(60),
        || async {
            let (visible, hidden) = env.visible_and_hidden(names::STOCK_INC_QUEUE).await;
            (visible + hidden >= arrived.len() as i64).then_some(())
        },
    )
    .await;
    assert!(env.buy_each(&ordered).await.iter().all(|a| a.status == 409));
    let pending_sql = "SELECT COUNT(*) FROM production_orders WHERE completed_at IS NULL";
    eventually("factory orders in production", Duration::from_secs(30), || async {
        (env.factory_scalar(pending_sql).await >= 1).then_some(())
    })
    .await;
    let open_sql = "SELECT COUNT(*) FROM restock_requests WHERE fulfilled_at IS NULL";
    let (open, in_production, in_queue) = (
        env.warehouse_scalar(open_sql).await,
        env.factory_scalar(pending_sql).await,
        env.visible_and_hidden(names::STOCK_INC_QUEUE).await,
    );
    database.kill_9().await.expect("kill -9 mariadbd");
    let down_at = Instant::now();
    println!(
        "at the crash: {open} restock requests open, {in_production} factory orders in production, \
         stock_inc_queue {in_queue:?} (visible, in flight)"
    );
    assert_eq!(open, (arrived.len() + ordered.len()) as i64, "every shortage committed");
    assert!(in_production >= 1 && in_queue.0 + in_queue.1 >= 1);
    for replica in stack.replicas(Service::StockIncWorker) {
        replica.resume().expect("SIGCONT stock-inc-worker");
    }
    let client = spreading_client();
    // While it is down: 503 problem+json with Retry-After, and /ready says why.
    let refused = eventually("a purchase refused with 503", Duration::from_secs(30), || async {
        let answer = env.buy(&client, "CRASH-STOCK", 1).await;
        (answer.status == 503).then_some(answer)
    })
    .await;
    assert_eq!(refused.content_type, "application/problem+json", "{refused:?}");
    assert!(refused.retry_after.is_some(), "Retry-After: {refused:?}");
    for (name, url) in ready_urls(&stack) {
        if name.starts_with("stock-worker") {
            continue; // it uses no database
        }
        let (status, body) = eventually(
            &format!("{name} /ready reports the database"),
            Duration::from_secs(20),
            || async {
                let (status, body) = get_status(&client, &url).await;
                (status == 503 && body["checks"]["database"] != "ok").then_some((status, body))
            },
        )
        .await;
        println!("{name} /ready with the database down: {status} {body}");
    }
    // The work in flight met the outage: every factory replica's production line, and the
    // arrivals in the workers' hands.
    eventually(
        "the restock work in flight met the outage",
        Duration::from_secs(30),
        || async {
            let factories = stack
                .replicas(Service::Factory)
                .all(|r| logs::task_failures(r.log(), "production_line") > 0);
            let arrivals = stack
                .replicas(Service::StockIncWorker)
                .any(|r| !logs::saying(r.log(), logs::TRANSIENT_FAILURE).is_empty());
            (factories && arrivals).then_some(())
        },
    )
    .await;
    database.restart().await.expect("mariadbd restarts");
    let up_at = Instant::now();
    let recovered = eventually("sales sells again", Duration::from_secs(60), || async {
        (env.buy(&client, "CRASH-STOCK", 1).await.status == 200).then_some(Instant::now())
    })
    .await;
    let answers = buyers.stop().await;

    let in_outage = |a: &Answer| a.sent_at + a.latency >= down_at && a.sent_at <= recovered;
    let outage: Vec<Answer> = answers.iter().filter(|a| in_outage(a)).cloned().collect();
    summary(
        "purchases while the database was down or recovering",
        &outage,
        recovered - down_at,
    );
    println!(
        "database down {:.1} s, sales selling again {:.1} s after its restart",
        (up_at - down_at).as_secs_f64(),
        (recovered - up_at).as_secs_f64()
    );
    assert!(
        answers.iter().all(|a| a.status != 0),
        "no answer took longer than the client's {CLIENT_TIMEOUT:?}"
    );
    assert!(
        answers.iter().all(|a| matches!(a.status, 200 | 503)),
        "only sold or 'retry shortly'"
    );
    // After the first sale following the restart, only the pools' stale connections may
    // still fail, once each, shortly after.
    let tail: Vec<&Answer> = answers.iter().filter(|a| a.status == 503 && !in_outage(a)).collect();
    println!("503s after sales sold again (stale pooled connections): {}", tail.len());
    assert!(
        tail.iter().all(|a| a.sent_at <= up_at + DB_RECOVERY_SLACK),
        "no 503 later than {DB_RECOVERY_SLACK:?} after the restart"
    );
    assert!(
        tail.len() <= 2 * 8,
        "at most one 503 per connection pooled before the crash (2 replicas × DB_POOL_MAX 8): {}",
        tail.len()
    );
    assert!(
        answers
            .iter()
            .filter(|a| a.status == 503)
            .all(|a| a.retry_after.is_some())
    );
    // Never a 200 without a commit.
    env.assert_sold_are_recorded(&answers).await;

    // Every service recovered by itself: the same processes, ready, and restocking.
    eventually("every replica ready again", Duration::from_secs(60), || async {
        all_ready(&stack).await.then_some(())
    })
    .await;
    assert!(env.buy_each(&shortages).await.iter().all(|a| a.status == 409));
    env.settle(SETTLE).await;
    env.assert_exactly_once().await;
    for sku in arrived.iter().chain(&ordered).chain(&shortages) {
        assert_eq!(env.stock(sku).await, 3, "{sku} restocked once");
    }
    stop_all(stack, env, Duration::from_secs(30)).await;
}
