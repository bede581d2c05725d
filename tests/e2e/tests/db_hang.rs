//! The database hangs: the private `mariadbd` is stopped with SIGSTOP (the kernel still
//! accepts its connections and takes what is sent; nothing answers) for longer than every
//! timeout, under a real stack of the four services as processes, then continued.
//!
//! While it hangs: sales answers every purchase 503 problem+json with `Retry-After`
//! within its checkout deadline (`CHECKOUT_TIMEOUT_MS`), never past the client's 10 s;
//! `/ready` says the database does not answer; the stock-inc-worker, whose handlers wait
//! on the database, keeps each message it holds hidden by renewing its visibility: no
//! message comes back to the queue while its handler still holds it (every receive is
//! one delivery, or follows a release the worker counted). After SIGCONT everything
//! carries on without a restart, and nothing is lost or doubled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stockflow_contracts::events::StockArrival;
use stockflow_contracts::names;
use stockflow_devstack::private::{PrivateMariadb, process_state};
use stockflow_devstack::service::Service;
use stockflow_e2e::metrics::scrape;
use stockflow_e2e::replicas::{first_url, stop_all};
use stockflow_e2e::shop::{Buyers, PATIENT_CLIENT_TIMEOUT, assert_retry_later, report, spreading_client_waiting};
use stockflow_e2e::{Setup, TestEnv, await_stopped, eventually};

/// Longer than every timeout the services have: the checkout deadline (5 s), a readiness
/// check (2 s), the workers' visibility in these tests (3 s), the factory call (2 s).
const HANG: Duration = Duration::from_secs(15);
/// sales' default `CHECKOUT_TIMEOUT_MS`.
const CHECKOUT_DEADLINE: Duration = Duration::from_secs(5);
/// Production orders placed without a restock request (a legacy client): each adds one
/// unit, once.
const ARRIVALS: i64 = 4;
const ARRIVING_SKU: &str = "DBHANG-ARRIVALS";

fn legacy_arrival() -> StockArrival {
    stockflow_e2e::arrival(ARRIVING_SKU, None, 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_hanging_past_every_timeout_answers_in_time_and_loses_nothing() {
    let database = PrivateMariadb::start().await.expect("private MariaDB");
    // The stock-worker's factory calls fail while the factory's database hangs; enough
    // deliveries that a hang this long never dead-letters a shortage.
    let mut env = TestEnv::with(Setup::on_mysql(database.url()).max_receive_count(10)).await;
    let stack = env.start_replicas(1, |_| {}).await;
    env.add_product("DBHANG-STOCK", 1_000_000, 10).await;
    env.add_product(ARRIVING_SKU, 0, 1).await;
    let shortages = env.add_products("DBHANG", 4, 0, 3).await;
    let env = Arc::new(env);
    let inc_worker = first_url(&stack, Service::StockIncWorker);
    let inc_queue = env.resources.name(names::STOCK_INC_QUEUE);
    let received = || scrape(&env.http, &inc_worker, "messages_received_total");
    let released_series = format!("messages_handled_total{{queue=\"{inc_queue}\",result=\"failed\"");
    let released = || scrape(&env.http, &inc_worker, &released_series);

    let client = spreading_client_waiting(PATIENT_CLIENT_TIMEOUT);
    let started = Instant::now();
    let buyers = Buyers::start(&env, "DBHANG-STOCK", 4, &client);
    env.await_stock_below("DBHANG-STOCK", 1_000_000 - 20).await;
    let received_before = received().await;

    database.freeze().expect("SIGSTOP mariadbd");
    let frozen_at = Instant::now();
    let pid = database.pid().expect("running");
    await_stopped("mariadbd", pid).await;

    // Work in the workers' hands that waits on the database.
    for _ in 0..ARRIVALS {
        env.publish(&legacy_arrival()).await;
    }
    eventually(
        "the stock-inc-worker holds every arrival",
        Duration::from_secs(20),
        || async {
            let got = received().await - received_before;
            let (visible, hidden) = env.visible_and_hidden(names::STOCK_INC_QUEUE).await;
            (got == ARRIVALS as f64 && visible == 0 && hidden == ARRIVALS).then_some(())
        },
    )
    .await;
    let (received_in_hand, released_in_hand) = (received().await, released().await);

    env.assert_not_ready(&client, "database", "while the database hangs")
        .await;

    eventually(
        "the hang outlasted every timeout",
        HANG + Duration::from_secs(10),
        || async { (frozen_at.elapsed() >= HANG).then_some(()) },
    )
    .await;
    // Still before SIGCONT: the handlers have held their messages for several visibility
    // timeouts. Had one not been renewed it would have come back and been received again.
    let (visible, hidden) = env.visible_and_hidden(names::STOCK_INC_QUEUE).await;
    let received_again = received().await - received_in_hand;
    let released_meanwhile = released().await - released_in_hand;
    assert_eq!(
        (visible, hidden),
        (0, ARRIVALS),
        "the arrivals stayed in the worker's hands"
    );
    assert_eq!(
        received_again, released_meanwhile,
        "a message was received again while its handler still held it (visibility not renewed)"
    );
    assert_eq!(process_state(pid), 'T', "the database hung throughout");

    database.thaw().expect("SIGCONT mariadbd");
    let thawed_at = Instant::now();
    let recovered = env.await_selling(&client, "DBHANG-STOCK").await;
    let answers = buyers.stop().await;
    let ended = Instant::now();
    println!(
        "database hung {:.1} s; sales sold again {:.1} s after SIGCONT",
        (thawed_at - frozen_at).as_secs_f64(),
        (recovered - thawed_at).as_secs_f64()
    );
    report("purchases before the hang", &answers, started, frozen_at);
    let during = report("purchases while the database hung", &answers, frozen_at, thawed_at);
    report("purchases after SIGCONT", &answers, thawed_at, ended);

    assert!(
        answers.iter().all(|a| a.status != 0),
        "no purchase waited past the client's {PATIENT_CLIENT_TIMEOUT:?}"
    );
    assert!(
        answers.iter().all(|a| matches!(a.status, 200 | 503)),
        "only sold or 'retry shortly': {:?}",
        answers.iter().find(|a| !matches!(a.status, 200 | 503))
    );
    // Answered while it still hung: refused in time, saying when to retry.
    assert!(
        during.len() >= 4,
        "each of the 4 buyers was answered during the hang: {}",
        during.len()
    );
    for answer in &during {
        assert_retry_later(answer);
        assert!(
            answer.latency < CHECKOUT_DEADLINE + Duration::from_secs(1),
            "answered within sales' own deadline: {answer:?}"
        );
    }
    // Never a 200 without a commit.
    env.assert_sold_are_recorded(&answers).await;

    // Everything carries on: the held arrivals applied once each, and new shortages
    // restocked through the whole pipeline by the same processes.
    assert!(env.buy_each(&shortages).await.iter().all(|a| a.status == 409));
    env.settle(Duration::from_secs(90)).await;
    env.assert_exactly_once().await;
    assert_eq!(env.stock(ARRIVING_SKU).await, ARRIVALS, "each arrival added once");
    stop_all(stack, env, Duration::from_secs(30)).await;
}
