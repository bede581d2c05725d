//! stockctl against the real system: each test deploys its own topology and databases
//! with the e2e harness, runs the real services in process, and runs stockctl's
//! commands in process (parsed from a command line like the binary's), checking
//! their JSON output and exit status.

use std::time::Duration;

use clap::Parser;
use mysql_async::prelude::Queryable;
use serde_json::{Value, json};
use stockctl::{Cli, Settings};
use stockflow_e2e::{TestEnv, eventually};
use stockflow_shared::aws::names;
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(60);

fn settings(env: &TestEnv) -> Settings {
    Settings {
        aws: env.aws.clone(),
        database: env.database.clone(),
        warehouse_db: env.warehouse_db.clone(),
    }
}

/// Runs `stockctl <args>`; returns the exit status and stdout.
async fn ctl_with(settings: &Settings, args: &[&str]) -> anyhow::Result<(u8, String)> {
    let cli = Cli::try_parse_from(std::iter::once("stockctl").chain(args.iter().copied()))?;
    let mut out = Vec::new();
    let code = stockctl::run(cli, settings, &mut out, CancellationToken::new()).await?;
    Ok((code, String::from_utf8(out)?))
}

async fn ctl(env: &TestEnv, args: &[&str]) -> (u8, String) {
    ctl_with(&settings(env), args)
        .await
        .unwrap_or_else(|err| panic!("stockctl {args:?} failed: {err:#}"))
}

/// Runs `stockctl --json <args>` and parses its output.
async fn ctl_json(env: &TestEnv, args: &[&str]) -> (u8, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, out) = ctl(env, &all).await;
    let value = serde_json::from_str(&out).unwrap_or_else(|err| panic!("not JSON ({err}): {out}"));
    (code, value)
}

fn find<'a>(items: &'a Value, key: &str, value: &str) -> &'a Value {
    items
        .as_array()
        .expect("an array")
        .iter()
        .find(|item| item[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {items:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_verify_report_the_books_and_catch_a_corrupted_stock() {
    let mut env = TestEnv::new().await;
    env.start_sales().await;
    env.add_product("CTL-1", 5, 4).await;
    env.add_product("CTL-2", 0, 3).await;
    let (sold, _) = env.purchase(json!({"sku": "CTL-1", "quantity": 2})).await;
    assert_eq!(sold, 200);
    let (short, body) = env.purchase(json!({"sku": "CTL-2", "quantity": 1})).await;
    assert_eq!(short, 409);
    let restock_id = body["restock_request_id"].as_str().expect("restock id").to_string();

    // No stock-worker runs: the stock_empty event waits in stock_queue.
    let status = eventually("status shows the event in stock_queue", DEADLINE, || async {
        let (code, status) = ctl_json(&env, &["status"]).await;
        assert_eq!(code, 0);
        (find(&status["queues"], "queue", names::STOCK_QUEUE)["visible"] == 1).then_some(status)
    })
    .await;
    assert_eq!(find(&status["products"], "sku", "CTL-1")["stock"], 3);
    assert_eq!(find(&status["products"], "sku", "CTL-2")["stock"], 0);
    let open = &status["open_restocks"];
    assert_eq!(open.as_array().unwrap().len(), 1, "{open:#}");
    assert_eq!(open[0]["id"], restock_id.as_str());
    assert_eq!(open[0]["sku"], "CTL-2");
    assert_eq!(open[0]["quantity"], 3);
    assert_eq!(open[0]["shortages"], 1);
    assert!(open[0]["age_seconds"].as_i64().unwrap() >= 0);
    let queues = status["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 5);
    for q in queues {
        assert_eq!(
            q["name"],
            format!("{}{}", env.aws.stockflow_prefix, q["queue"].as_str().unwrap())
        );
    }
    assert_eq!(find(&status["queues"], "queue", names::STOCK_DLQ)["visible"], 0);
    let alarms = status["alarms"].as_array().unwrap();
    assert_eq!(alarms.len(), 4, "the template's four alarms: {alarms:#?}");
    let dlq_alarm = format!("{}dead_letter_queue-not-empty", env.aws.stockflow_prefix);
    assert!(find(&status["alarms"], "name", &dlq_alarm)["state"].is_string());

    let (code, human) = ctl(&env, &["status"]).await;
    assert_eq!(code, 0);
    assert!(human.contains("CTL-1") && human.contains(&restock_id), "{human}");

    let (code, verify) = ctl_json(&env, &["verify"]).await;
    assert_eq!(code, 0, "{verify:#}");
    assert_eq!(verify["holds"], true);
    let books = find(&verify["balances"], "sku", "CTL-1");
    assert_eq!(
        (&books["initial"], &books["produced"], &books["sold"], &books["stock"]),
        (&json!(5), &json!(0), &json!(2), &json!(3))
    );

    // The restock request has been open for more than 0 s.
    let (code, strict) = ctl_json(&env, &["verify", "--max-open-seconds", "0"]).await;
    assert_eq!(code, 1);
    assert!(
        strict["violations"][0].as_str().unwrap().contains(&restock_id),
        "{strict:#}"
    );

    // Corrupt the books behind the system's back.
    let mut conn = env.warehouse().await.get_conn().await.unwrap();
    conn.exec_drop("UPDATE products SET stock = stock + 7 WHERE sku = ?", ("CTL-1",))
        .await
        .unwrap();
    let (code, broken) = ctl_json(&env, &["verify"]).await;
    assert_eq!(code, 1);
    assert_eq!(broken["holds"], false);
    let violations = broken["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(violations[0].as_str().unwrap().starts_with("CTL-1:"), "{violations:#?}");
    let (code, human) = ctl(&env, &["verify"]).await;
    assert_eq!(code, 1);
    assert!(
        human.contains("MISMATCH") && human.contains("INVARIANT VIOLATED"),
        "{human}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_list_and_show_explain_a_dead_lettered_message_and_alerts_read_like_an_inbox() {
    let mut env = TestEnv::new().await;
    env.start_stock_worker().await;
    env.send_raw(names::STOCK_QUEUE, "not json {").await;
    eventually("the worker dead-lettered it", DEADLINE, || async {
        (env.queue_depth(names::STOCK_DLQ).await == 1).then_some(())
    })
    .await;

    let (code, list) = ctl_json(&env, &["dlq", "list"]).await;
    assert_eq!(code, 0);
    let stock = find(&list["queues"], "dlq", names::STOCK_DLQ);
    let messages = stock["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{list:#}");
    let m = &messages[0];
    assert_eq!(m["failure_kind"], "dead_lettered");
    assert_eq!(m["failure_attempts"], "1");
    assert_eq!(m["failure_service"], "stock-worker");
    assert_eq!(m["source_queue"], env.resources.name(names::STOCK_QUEUE));
    assert!(!m["failure_reason"].as_str().unwrap().is_empty(), "{m:#}");
    assert_eq!(m["body_preview"], "not json {");
    assert!(m.get("body").is_none(), "list shows a preview only");
    let stock_inc = find(&list["queues"], "dlq", names::STOCK_INC_DLQ);
    assert_eq!(stock_inc["messages"].as_array().unwrap().len(), 0);

    // Listing is non-destructive: it is still there, and visible.
    let (_, again) = ctl_json(&env, &["dlq", "list", "--queue", "stock"]).await;
    assert_eq!(again["queues"].as_array().unwrap().len(), 1);
    assert_eq!(again["queues"][0]["messages"].as_array().unwrap().len(), 1);
    assert_eq!(again["queues"][0]["visible"], 1);

    let id = m["message_id"].as_str().unwrap();
    let (code, shown) = ctl_json(&env, &["dlq", "show", id]).await;
    assert_eq!(code, 0);
    assert_eq!(shown["body"], "not json {");
    assert_eq!(shown["attributes"]["failure_reason"], m["failure_reason"]);
    let original = m["original_message_id"].as_str().unwrap();
    let (_, by_original) = ctl_json(&env, &["dlq", "show", original]).await;
    assert_eq!(by_original["message_id"], id);
    let (_, human) = ctl(&env, &["dlq", "list"]).await;
    assert!(human.contains(id) && human.contains("dead_lettered"), "{human}");
    let missing = ctl_with(&settings(&env), &["dlq", "show", "no-such-id"])
        .await
        .unwrap_err();
    assert!(format!("{missing:#}").contains("no message `no-such-id`"));

    // The worker's alert, first peeked, then consumed.
    let alert = eventually("the worker's alert arrived", DEADLINE, || async {
        let (_, report) = ctl_json(&env, &["alerts", "--peek"]).await;
        report["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["source"] == "worker")
            .cloned()
    })
    .await;
    assert_eq!(alert["alert"]["kind"], "dead_lettered");
    assert_eq!(alert["alert"]["message_id"], original);
    assert_eq!(alert["alert"]["now_in"], env.resources.name(names::STOCK_DLQ));
    let (_, read) = ctl_json(&env, &["alerts"]).await;
    assert_eq!(read["consumed"], true);
    assert!(
        read["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["source"] == "worker")
    );
    let (_, after) = ctl_json(&env, &["alerts"]).await;
    assert!(
        !after["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["source"] == "worker"),
        "read alerts are gone: {after:#}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_sends_a_refused_restock_back_and_it_completes_once() {
    let mut env = TestEnv::new().await;
    env.start_all().await;
    env.arm_factory_faults(json!({"fail_next": 1, "status": 400})).await;
    env.add_product("REDRIVE-1", 0, 5).await;

    let (status, _) = env.purchase(json!({"sku": "REDRIVE-1", "quantity": 1})).await;
    assert_eq!(status, 409);
    eventually("the refused restock is dead-lettered", DEADLINE, || async {
        (env.queue_depth(names::STOCK_DLQ).await == 1).then_some(())
    })
    .await;
    let (_, list) = ctl_json(&env, &["dlq", "list", "--queue", "stock"]).await;
    let m = &list["queues"][0]["messages"][0];
    assert_eq!(m["failure_kind"], "dead_lettered");
    assert_eq!(m["event_type"], "stock_empty");
    assert!(m["failure_reason"].as_str().unwrap().contains("400"), "{m:#}");
    assert_eq!(env.stock("REDRIVE-1").await, 0);
    let orders = "SELECT COUNT(*) FROM production_orders WHERE product_id = ?";
    assert_eq!(env.factory_count(orders, "REDRIVE-1").await, 0);

    let (code, out) = ctl(&env, &["dlq", "redrive", "--queue", "stock"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("COMPLETED"), "{out}");

    eventually("restocked after the redrive", DEADLINE, || async {
        (env.stock("REDRIVE-1").await == 5).then_some(())
    })
    .await;
    assert_eq!(env.factory_count(orders, "REDRIVE-1").await, 1);
    assert_eq!(
        env.warehouse_count(
            "SELECT COUNT(*) FROM applied_production_orders WHERE sku = ?",
            "REDRIVE-1"
        )
        .await,
        1
    );
    assert_eq!(env.queue_depth(names::STOCK_DLQ).await, 0);
    let (code, verify) = ctl_json(&env, &["verify"]).await;
    assert_eq!(code, 0, "{verify:#}");

    // Nothing left: a second redrive has nothing to do.
    let (code, again) = ctl_json(&env, &["dlq", "redrive", "--queue", "stock"]).await;
    assert_eq!(code, 0);
    assert_eq!(again["tasks"][0]["status"], "EMPTY");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_with_yes_empties_only_the_chosen_dlq() {
    let env = TestEnv::new().await;
    for i in 0..3 {
        env.send_raw(names::STOCK_DLQ, &format!("junk {i}")).await;
    }
    env.send_raw(names::STOCK_INC_DLQ, "keep me").await;
    eventually("the DLQs hold the messages", DEADLINE, || async {
        (env.queue_depth(names::STOCK_DLQ).await == 3 && env.queue_depth(names::STOCK_INC_DLQ).await == 1).then_some(())
    })
    .await;

    let (code, report) = ctl_json(&env, &["dlq", "purge", "--queue", "stock", "--yes"]).await;
    assert_eq!(code, 0);
    assert_eq!(report["purged"].as_array().unwrap().len(), 1);
    assert_eq!(report["purged"][0]["dlq"], names::STOCK_DLQ);
    assert_eq!(report["purged"][0]["messages"], 3);
    eventually("the stock DLQ is empty", DEADLINE, || async {
        (env.queue_depth(names::STOCK_DLQ).await == 0).then_some(())
    })
    .await;
    assert_eq!(env.queue_depth(names::STOCK_INC_DLQ).await, 1);
    env.stop().await;
}

#[tokio::test]
async fn unreachable_dependencies_are_named_with_what_to_do() {
    let mut settings = Settings::default();
    settings.aws.aws_endpoint_url = "http://127.0.0.1:9".into();
    let err = ctl_with(&settings, &["dlq", "list"]).await.unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "cannot reach LocalStack at http://127.0.0.1:9: start it with scripts/up (or set AWS_ENDPOINT_URL)"
    );

    let mut settings = Settings::default();
    settings.database.mysql_url = "mysql://root@127.0.0.1:9".into();
    let err = ctl_with(&settings, &["verify"]).await.unwrap_err();
    assert!(
        format!("{err:#}").starts_with("cannot reach MySQL at mysql://root@127.0.0.1:9"),
        "{err:#}"
    );
}
