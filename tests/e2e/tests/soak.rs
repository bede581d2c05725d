//! A mixed soak: thousands of purchases over dozens of skus while the workers are
//! killed with `kill -9` and the factory fails at random. At the end, for every sku,
//! initial + produced − sold == stock; every restock request is fulfilled or its
//! message sits in a dead-letter queue; no stock ever went below zero (a CHECK
//! constraint refuses it, and the books would not balance).
//!
//! Bounded: 2,000 purchases by 16 clients, a fault every 2 s while they run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use mysql_async::prelude::Queryable;
use serde_json::json;
use stockflow_e2e::process::ServiceProcess;
use stockflow_e2e::{TestEnv, eventually};
use stockflow_shared::aws::names;

const SKUS: u64 = 30;
const PURCHASES: u64 = 2_000;
const CLIENTS: usize = 16;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_purchases_with_random_faults_keep_the_books_balanced() {
    let seed = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("soak seed {seed} (rerun with SOAK_SEED={seed})");
    let random = Arc::new(Random(AtomicU64::new(seed)));

    let mut env = TestEnv::with_max_receive_count(10).await;
    env.start_sales().await;
    let factory = env.start_factory().await;
    for i in 0..SKUS {
        env.add_product(
            &format!("SOAK-{i:02}"),
            random.below(6) as i64,
            3 + random.below(10) as i64,
        )
        .await;
    }
    let worker_env = [
        ("FACTORY_URL", factory.clone()),
        ("WORKER_CONCURRENCY", "8".to_string()),
    ];
    let mut stock_worker = ServiceProcess::start(&env, "stock-worker", &worker_env);
    let mut stock_inc_worker = ServiceProcess::start(&env, "stock-inc-worker", &[]);

    let env = Arc::new(env);
    let load = {
        let (env, random) = (env.clone(), random.clone());
        tokio::spawn(async move {
            futures::stream::iter(0..PURCHASES)
                .map(|_| {
                    let sku = format!("SOAK-{:02}", random.below(SKUS));
                    let quantity = 1 + random.below(3);
                    let env = env.clone();
                    async move { env.purchase(json!({"sku": sku, "quantity": quantity})).await.0 }
                })
                .buffer_unordered(CLIENTS)
                .collect::<Vec<u16>>()
                .await
        })
    };

    // Faults while the load runs: kill -9 a worker and restart it, or make the factory fail.
    let mut faults = 0;
    while !load.is_finished() {
        tokio::time::sleep(Duration::from_secs(2)).await; // the fault schedule's pace, not a wait for a condition
        match random.below(3) {
            0 => {
                stock_worker.kill_9().await;
                stock_worker = ServiceProcess::start(&env, "stock-worker", &worker_env);
            }
            1 => {
                stock_inc_worker.kill_9().await;
                stock_inc_worker = ServiceProcess::start(&env, "stock-inc-worker", &[]);
            }
            _ => {
                env.arm_factory_faults(json!({"fail_next": 1 + random.below(3), "status": 503}))
                    .await
            }
        }
        faults += 1;
    }
    let answers = load.await.unwrap();
    println!("{} purchases, {faults} faults injected", answers.len());
    assert!(
        answers.iter().all(|s| *s == 200 || *s == 409),
        "only sold or out of stock"
    );
    assert!(answers.contains(&200) && answers.contains(&409));

    // Let the pipeline settle: every restock request fulfilled or dead-lettered.
    let pool = env.warehouse().await;
    let dead_lettered = eventually("restock requests settled", Duration::from_secs(180), || async {
        let mut conn = pool.get_conn().await.ok()?;
        let open: Vec<String> = conn
            .query("SELECT id FROM restock_requests WHERE status <> 'fulfilled'")
            .await
            .ok()?;
        let mut dead = Vec::new();
        for queue in [names::STOCK_DLQ, names::STOCK_INC_DLQ] {
            dead.extend(
                env.peek(queue)
                    .await
                    .into_iter()
                    .filter_map(|m| m.body().map(str::to_string)),
            );
        }
        let busy = env.queue_depth(names::STOCK_QUEUE).await + env.queue_depth(names::STOCK_INC_QUEUE).await;
        let all_accounted = open.iter().all(|id| dead.iter().any(|body| body.contains(id.as_str())));
        (busy == 0 && all_accounted).then_some(dead.len())
    })
    .await;
    println!("{dead_lettered} restock message(s) dead-lettered");

    let report = env.invariant().await;
    assert!(report.holds(), "{:#?}", report.violations);
    assert_eq!(
        report.balances.iter().filter(|b| b.sku.starts_with("SOAK-")).count(),
        SKUS as usize
    );
    assert!(report.balances.iter().all(|b| b.stock >= 0));
    let sold: i64 = report.balances.iter().map(|b| b.sold).sum();
    println!(
        "sold {sold} units; produced {}",
        report.balances.iter().map(|b| b.produced).sum::<i64>()
    );
    stock_worker.terminate(Duration::from_secs(20)).await;
    stock_inc_worker.terminate(Duration::from_secs(20)).await;
    Arc::try_unwrap(env).ok().expect("no other handle").stop().await;
}
