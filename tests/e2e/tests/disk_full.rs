//! The database's disk fills: the private MariaDB keeps its data on a tmpfs of its own
//! (256 MiB), which the test fills with a ballast file while buyers buy, under a real
//! stack of the four services as processes. InnoDB then cannot extend its files
//! (`preallocating … failed with error 28`, ENOSPC) and its writes fail with "table is
//! full" (1114): a genuine lack of space, not a simulated error.
//!
//! While full: purchases get 503 problem+json with `Retry-After`, never a 200 without a
//! commit (every 200 is in `orders`). Once the ballast is removed, everything recovers
//! by itself, and nothing is lost or doubled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stockflow_devstack::private::PrivateMariadb;
use stockflow_e2e::replicas::stop_all;
use stockflow_e2e::shop::{Buyers, PATIENT_CLIENT_TIMEOUT, assert_retry_later, report, spreading_client_waiting};
use stockflow_e2e::{Setup, TestEnv, eventually};

/// The private MariaDB's disk: its install takes about 115 MiB of it.
const DISK_MIB: u64 = 256;
/// How long the disk stays full once the first purchase was refused.
const FULL_FOR: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_disk_filling_up_refuses_purchases_and_recovers_once_freed() {
    let database = PrivateMariadb::start_on_small_disk(DISK_MIB)
        .await
        .expect("a private MariaDB on a small disk of its own");
    // The factory and the stock-inc-worker fail their writes too while the disk is full;
    // enough deliveries that none is dead-lettered meanwhile.
    let mut env = TestEnv::with(Setup::on_mysql(database.url()).max_receive_count(10)).await;
    let stack = env.start_replicas(1, |_| {}).await;
    env.add_product("FULL-STOCK", 1_000_000, 10).await;
    let shortages = env.add_products("FULL", 4, 0, 3).await;
    let env = Arc::new(env);

    let client = spreading_client_waiting(PATIENT_CLIENT_TIMEOUT);
    let started = Instant::now();
    let buyers = Buyers::start(&env, "FULL-STOCK", 4, &client);
    env.await_stock_below("FULL-STOCK", 1_000_000 - 20).await;

    let ballast = database.fill_disk().expect("filling the disk");
    let full_at = Instant::now();
    assert_eq!(database.disk_free().unwrap(), 0, "no byte left on the disk");
    println!("a ballast of {} MiB filled the disk", ballast >> 20);
    let first_refused = eventually(
        "a purchase refused for lack of space",
        Duration::from_secs(60),
        || async { (env.buy(&client, "FULL-STOCK", 1).await.status == 503).then_some(Instant::now()) },
    )
    .await;
    let log = std::fs::read_to_string(database.log()).unwrap_or_default();
    assert!(
        log.contains("failed with error 28") && log.contains("is full"),
        "MariaDB's writes failed for lack of space (ENOSPC, 'table is full'): {}",
        log.lines().rev().take(10).collect::<Vec<_>>().join("\n")
    );
    // Shortages while full: the restock request and its event need space too.
    for answer in env.buy_each(&shortages).await {
        println!("a shortage while the disk is full: {}", answer.status);
        assert!(matches!(answer.status, 409 | 503), "{answer:?}");
    }
    eventually("the disk stayed full a while", FULL_FOR * 2, || async {
        (first_refused.elapsed() >= FULL_FOR).then_some(())
    })
    .await;

    database.free_disk().expect("removing the ballast");
    let freed_at = Instant::now();
    let recovered = env.await_selling(&client, "FULL-STOCK").await;
    eventually("the buyers buy on after", Duration::from_secs(10), || async {
        (recovered.elapsed() >= Duration::from_secs(2)).then_some(())
    })
    .await;
    let answers = buyers.stop().await;
    let ended = Instant::now();
    println!(
        "first refusal {:.1} s after the disk filled; sales sold again {:.1} s after the space was freed",
        (first_refused - full_at).as_secs_f64(),
        (recovered - freed_at).as_secs_f64()
    );
    report("purchases before the disk filled", &answers, started, full_at);
    let full = report("purchases while the disk was full", &answers, full_at, freed_at);
    let after = report("purchases after the space was freed", &answers, recovered, ended);

    assert!(
        answers.iter().all(|a| matches!(a.status, 200 | 503)),
        "only sold or 'retry shortly', every answer in time: {:?}",
        answers.iter().find(|a| !matches!(a.status, 200 | 503))
    );
    let refused: Vec<_> = full.iter().filter(|a| a.status == 503).collect();
    assert!(!refused.is_empty(), "the buyers were refused while the disk was full");
    for answer in refused {
        assert_retry_later(answer);
    }
    assert!(
        after.iter().all(|a| a.status == 200),
        "every purchase sold once the space was freed"
    );
    // Never a 200 without a commit.
    env.assert_sold_are_recorded(&answers).await;

    // Every shortage, refused or not while full, is restocked now: more than a restock
    // brings is short whatever came already, and opens or joins a request.
    for sku in &shortages {
        let answer = env.buy(&client, sku, 5).await;
        assert_eq!(answer.status, 409, "{answer:?}");
    }
    env.settle(Duration::from_secs(90)).await;
    env.assert_exactly_once().await;
    for sku in &shortages {
        assert!(env.stock(sku).await >= 3, "{sku} restocked");
    }
    stop_all(stack, env, Duration::from_secs(30)).await;
}
