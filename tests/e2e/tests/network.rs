//! A slow and a broken network: a fault proxy ([`FaultProxy`]) stands between the four
//! services (as processes) and each dependency: the database, LocalStack, and (for the
//! stock-worker) the factory. Buyers keep buying throughout; one fault after another:
//! - the database 20 ms slower each way, then every link 200 ms slower each way;
//! - each dependency in turn blackholed (connections accepted, nothing answered) for
//!   longer than the timeout that bounds calls to it.
//!
//! Each fault is proven (the latency measured, the blackholed calls given up on by their
//! caller's timeout), every purchase is answered within the client's 10 s, and after the
//! network heals nothing is lost or doubled. Throughput and p99 of every phase are printed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stockflow_contracts::names;
use stockflow_devstack::service::Service;
use stockflow_e2e::fault_proxy::FaultProxy;
use stockflow_e2e::metrics::scrape;
use stockflow_e2e::replicas::{first_url, set, set_all, stop_all};
use stockflow_e2e::shop::{
    Answer, Buyers, DB_RECOVERY_SLACK, PATIENT_CLIENT_TIMEOUT, assert_retry_later, report, spreading_client_waiting,
};
use stockflow_e2e::{TestEnv, eventually};

/// The latency of the slow phase, each way.
const LATENCY: Duration = Duration::from_millis(200);
/// The database's latency, each way, in the phase before.
const NEAR_LATENCY: Duration = Duration::from_millis(20);
/// How long LocalStack and the factory are blackholed: past the factory call's timeout
/// (2 s in tests) and a readiness check (2 s).
const BLACKHOLE: Duration = Duration::from_secs(8);
/// How long the database is blackholed: past two of sales' checkout deadlines (5 s),
/// so that purchases sent under the blackhole are also answered under it.
const DB_BLACKHOLE: Duration = Duration::from_secs(12);
/// sales' default `CHECKOUT_TIMEOUT_MS`.
const CHECKOUT_DEADLINE: Duration = Duration::from_secs(5);

/// `host:port` of a `mysql://user@host:port` or `http://host:port` URL.
fn address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.trim_end_matches('/').to_string()
}

/// Waits `phase` (the fault is on meanwhile; the buyers buy).
async fn hold(what: &str, phase: Duration) {
    let start = Instant::now();
    eventually(what, phase + Duration::from_secs(5), || async {
        (start.elapsed() >= phase).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_and_a_broken_network_bounds_every_call_and_loses_nothing() {
    // A blackholed factory fails deliveries for a while; never so many that one is
    // dead-lettered.
    let mut env = TestEnv::with_max_receive_count(10).await;
    let database = FaultProxy::start(&address(&env.database.mysql_url)).await;
    let localstack = FaultProxy::start(&address(&env.aws.aws_endpoint_url)).await;
    let factory_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let factory = FaultProxy::start(&format!("127.0.0.1:{factory_port}")).await;
    // Through the proxy, never around it: mysql_async would otherwise switch a loopback
    // connection to the server's Unix socket.
    let mysql_url = format!("mysql://root@{}?prefer_socket=false", database.address());
    let (aws_url, factory_url) = (localstack.url(), factory.url());
    let stack = env
        .start_replicas(1, |launcher| {
            launcher.ports.factory = factory_port;
            set_all(launcher, "MYSQL_URL", mysql_url);
            set_all(launcher, "AWS_ENDPOINT_URL", aws_url);
            set(launcher, Service::StockWorker, "FACTORY_URL", factory_url);
        })
        .await;
    env.add_product("NET-STOCK", 1_000_000, 10).await;
    let slow_shortages = env.add_products("NET-SLOW", 3, 0, 2).await;
    let dark_shortages = env.add_products("NET-DARK", 3, 0, 2).await;
    let env = Arc::new(env);
    let stock_worker = first_url(&stack, Service::StockWorker);
    let failed_series = format!(
        "messages_handled_total{{queue=\"{}\",result=\"failed\"",
        env.resources.name(names::STOCK_QUEUE)
    );
    let factory_calls_failed = || scrape(&env.http, &stock_worker, &failed_series);

    let client = spreading_client_waiting(PATIENT_CLIENT_TIMEOUT);
    let buyers = Buyers::start(&env, "NET-STOCK", 4, &client);

    let healthy_at = Instant::now();
    hold("a healthy baseline", Duration::from_secs(5)).await;

    // A database a region away: every round trip 40 ms.
    let near_at = Instant::now();
    database.set_latency(NEAR_LATENCY, NEAR_LATENCY);
    hold("a slower database", Duration::from_secs(6)).await;

    let slow_at = Instant::now();
    for proxy in [&database, &localstack, &factory] {
        proxy.set_latency(LATENCY, LATENCY);
    }
    // A shortage takes more round trips than a sale (the restock request, its event):
    // at 400 ms each it may pass sales' deadline, and is refused in time then.
    let slow_shortage_answers =
        futures::future::join_all(slow_shortages.iter().map(|sku| env.buy(&client, sku, 1))).await;
    for answer in &slow_shortage_answers {
        println!(
            "a shortage over the slow network: {} in {:?}",
            answer.status, answer.latency
        );
        assert!(matches!(answer.status, 409 | 503), "{answer:?}");
    }
    hold("the slow network", Duration::from_secs(10)).await;
    for proxy in [&database, &localstack, &factory] {
        proxy.set_latency(Duration::ZERO, Duration::ZERO);
    }

    let db_dark_at = Instant::now();
    database.freeze();
    hold("the database blackholed", DB_BLACKHOLE).await;
    database.restore();
    let db_back_at = Instant::now();
    env.await_selling(&client, "NET-STOCK").await;

    let ls_dark_at = Instant::now();
    localstack.freeze();
    assert!(env.buy_each(&dark_shortages).await.iter().all(|a| a.status == 409));
    env.assert_not_ready(&client, "sns", "with LocalStack blackholed").await;
    hold("LocalStack blackholed", BLACKHOLE).await;
    localstack.restore();

    // The shortages' events reach the stock-worker once LocalStack is back: the factory
    // goes dark while they are on their way to it.
    let factory_dark_at = Instant::now();
    factory.freeze();
    let failed_before = factory_calls_failed().await;
    let gave_up = eventually(
        "the stock-worker gives up on the blackholed factory",
        Duration::from_secs(20),
        || async { (factory_calls_failed().await > failed_before).then_some(Instant::now()) },
    )
    .await;
    hold("the factory blackholed", BLACKHOLE).await;
    factory.restore();
    let healed_at = Instant::now();
    hold("the healed network", Duration::from_secs(3)).await;
    let answers = buyers.stop().await;
    let ended = Instant::now();

    let healthy = report("healthy", &answers, healthy_at, near_at);
    let near = report(
        &format!("{NEAR_LATENCY:?} each way to the database"),
        &answers,
        near_at,
        slow_at,
    );
    let slow = report(
        &format!("{LATENCY:?} each way to every dependency"),
        &answers,
        slow_at,
        db_dark_at,
    );
    let db_dark = report("database blackholed", &answers, db_dark_at, db_back_at);
    report("database back", &answers, db_back_at, ls_dark_at);
    let ls_dark = report("LocalStack blackholed", &answers, ls_dark_at, factory_dark_at);
    let factory_dark = report("factory blackholed", &answers, factory_dark_at, healed_at);
    report("healed", &answers, healed_at, ended);
    println!(
        "the stock-worker gave up on the blackholed factory {:.1} s after it went dark",
        (gave_up - factory_dark_at).as_secs_f64()
    );

    assert!(
        answers.iter().all(|a| a.status != 0),
        "every purchase answered within the client's {PATIENT_CLIENT_TIMEOUT:?}"
    );
    assert!(
        !healthy.is_empty() && healthy.iter().all(|a| a.status == 200),
        "healthy: all sold"
    );
    assert!(
        near.iter().any(|a| a.status == 200) && near.iter().all(|a| matches!(a.status, 200 | 503)),
        "a slower database still sells"
    );
    assert!(
        near.iter()
            .filter(|a| a.status == 200)
            .all(|a| a.latency >= 2 * NEAR_LATENCY),
        "the slower database slowed every sale by at least one round trip"
    );
    assert!(
        slow.iter().all(|a| matches!(a.status, 200 | 503)),
        "the slow network: sold, or refused in time"
    );
    assert!(slow.iter().any(|a| a.status == 200), "the slow network still sells");
    assert!(
        slow.iter()
            .filter(|a| a.status == 200)
            .all(|a| a.latency >= 2 * LATENCY),
        "the slow network slowed every sale by at least one round trip"
    );
    // Blackholed database: refused in time, saying when to retry.
    assert!(!db_dark.is_empty());
    for answer in &db_dark {
        assert_retry_later(answer);
        assert!(
            answer.latency < CHECKOUT_DEADLINE + Duration::from_secs(1),
            "{answer:?}"
        );
    }
    // After it is back, only the pooled connections it swallowed fail, once each, shortly;
    // LocalStack and the factory are off the checkout's path: their blackholes refuse nothing.
    let late: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status != 200 && a.sent_at >= db_back_at)
        .collect();
    assert!(
        late.iter()
            .all(|a| a.status == 503 && a.sent_at <= db_back_at + DB_RECOVERY_SLACK),
        "sales recovered from the database blackhole, and sold through the others: {late:?}"
    );
    assert!(
        !ls_dark.is_empty() && !factory_dark.is_empty(),
        "the buyers bought through every fault"
    );

    // Never a 200 without a commit.
    env.assert_sold_are_recorded(&answers).await;

    env.settle(Duration::from_secs(90)).await;
    env.assert_exactly_once().await;
    for sku in &dark_shortages {
        assert_eq!(env.stock(sku).await, 2, "{sku} restocked once");
    }
    stop_all(stack, env, Duration::from_secs(30)).await;
}
