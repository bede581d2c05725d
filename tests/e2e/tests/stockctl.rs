//! stockctl against the real system: each test deploys its own topology and databases
//! with the e2e harness, runs the real services in process, and runs stockctl's
//! commands in process (parsed from a command line like the binary's), checking
//! their JSON output and exit status.

use std::time::Duration;

use clap::Parser;
use mysql_async::prelude::Queryable;
use serde_json::{Value, json};
use stockctl::{Cli, Settings};
use stockflow_contracts::names;
use stockflow_e2e::{TestEnv, ctl, eventually};
use tokio_util::sync::CancellationToken;
use wiremock::matchers::any;
use wiremock::{Mock, MockGuard, MockServer, ResponseTemplate};

const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `stockctl --json <args>` and parses its output.
async fn ctl_json(env: &TestEnv, args: &[&str]) -> (u8, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, out) = ctl::run(env, &all).await;
    let value = serde_json::from_str(&out).unwrap_or_else(|err| panic!("not JSON ({err}): {out}"));
    (code, value)
}

/// Waits until queue `base` holds `count` messages (visible or in flight).
async fn until_held(env: &TestEnv, what: &str, base: &str, count: i64) {
    eventually(what, DEADLINE, || async {
        (env.queue_depth(base).await == count).then_some(())
    })
    .await;
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
    let env = TestEnv::selling("CTL-1", 5, 4).await;
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

    let (code, human) = ctl::run(&env, &["status"]).await;
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
    let (code, human) = ctl::run(&env, &["verify"]).await;
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
    until_held(&env, "the worker dead-lettered it", names::STOCK_DLQ, 1).await;

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
    let (_, human) = ctl::run(&env, &["dlq", "list"]).await;
    assert!(human.contains(id) && human.contains("dead_lettered"), "{human}");
    let missing = ctl::run_with(&ctl::settings(&env), &["dlq", "show", "no-such-id"])
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
    let env = TestEnv::running_all().await;
    env.arm_factory_faults(json!({"fail_next": 1, "status": 400})).await;
    env.ran_out("REDRIVE-1", 5).await;
    until_held(&env, "the refused restock is dead-lettered", names::STOCK_DLQ, 1).await;
    let (_, list) = ctl_json(&env, &["dlq", "list", "--queue", "stock"]).await;
    let m = &list["queues"][0]["messages"][0];
    assert_eq!(m["failure_kind"], "dead_lettered");
    assert_eq!(m["event_type"], "stock_empty");
    assert!(m["failure_reason"].as_str().unwrap().contains("400"), "{m:#}");
    assert_eq!(env.stock("REDRIVE-1").await, 0);
    assert_eq!(env.production_orders("REDRIVE-1").await, 0);

    let (code, out) = ctl::run(&env, &["dlq", "redrive", "--queue", "stock"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("COMPLETED"), "{out}");

    eventually("restocked after the redrive", DEADLINE, || async {
        (env.stock("REDRIVE-1").await == 5).then_some(())
    })
    .await;
    assert_eq!(env.production_orders("REDRIVE-1").await, 1);
    assert_eq!(env.applied_orders("REDRIVE-1").await, 1);
    assert_eq!(env.queue_depth(names::STOCK_DLQ).await, 0);
    let (code, verify) = ctl_json(&env, &["verify"]).await;
    assert_eq!(code, 0, "{verify:#}");

    // Nothing left: a second redrive has nothing to do.
    let (code, again) = ctl_json(&env, &["dlq", "redrive", "--queue", "stock"]).await;
    assert_eq!(code, 0);
    assert_eq!(again["tasks"][0]["status"], "EMPTY");
    env.stop().await;
}

/// Sends `count` raw bodies, `junk 0`, `junk 1`, …, straight to `queue`.
async fn send_junk(env: &TestEnv, queue: &str, count: usize) {
    for i in 0..count {
        env.send_raw(queue, &format!("junk {i}")).await;
    }
}

/// A DLQ holding more than one receive's ten messages is listed whole, and left whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_list_shows_every_message_of_a_full_dlq_and_leaves_them_there() {
    let env = TestEnv::new().await;
    send_junk(&env, names::STOCK_INC_DLQ, 25).await;
    until_held(&env, "the DLQ holds the messages", names::STOCK_INC_DLQ, 25).await;
    let (code, list) = ctl_json(&env, &["dlq", "list", "--queue", "stock-inc"]).await;
    assert_eq!(code, 0, "{list:#}");
    let listed = list["queues"][0]["messages"].as_array().unwrap().len();
    assert_eq!(listed, 25, "every message is listed: {list:#}");
    // Left in place, and visible again at once: a second scan right away sees them all
    // (hidden messages would not be listed until their timeout ran out).
    assert_eq!(env.queue_depth(names::STOCK_INC_DLQ).await, 25);
    let (_, again) = ctl_json(&env, &["dlq", "list", "--queue", "stock-inc"]).await;
    assert_eq!(again["queues"][0]["messages"].as_array().unwrap().len(), 25);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_with_yes_empties_only_the_chosen_dlq() {
    let env = TestEnv::new().await;
    send_junk(&env, names::STOCK_DLQ, 3).await;
    env.send_raw(names::STOCK_INC_DLQ, "keep me").await;
    until_held(&env, "the stock DLQ holds the messages", names::STOCK_DLQ, 3).await;
    until_held(&env, "the stock-inc DLQ holds its message", names::STOCK_INC_DLQ, 1).await;

    let (code, report) = ctl_json(&env, &["dlq", "purge", "--queue", "stock", "--yes"]).await;
    assert_eq!(code, 0);
    assert_eq!(report["purged"].as_array().unwrap().len(), 1);
    assert_eq!(report["purged"][0]["dlq"], names::STOCK_DLQ);
    assert_eq!(report["purged"][0]["messages"], 3);
    until_held(&env, "the stock DLQ is empty", names::STOCK_DLQ, 0).await;
    assert_eq!(env.queue_depth(names::STOCK_INC_DLQ).await, 1);
    env.stop().await;
}

#[tokio::test]
async fn unreachable_dependencies_are_named_with_what_to_do() {
    let mut settings = Settings::default();
    settings.aws.aws_endpoint_url = "http://127.0.0.1:9".into();
    let err = ctl::run_with(&settings, &["dlq", "list"]).await.unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "cannot reach LocalStack at http://127.0.0.1:9: start it with scripts/up (or set AWS_ENDPOINT_URL)"
    );

    let mut settings = Settings::default();
    settings.database.mysql_url = "mysql://root@127.0.0.1:9".into();
    let err = ctl::run_with(&settings, &["verify"]).await.unwrap_err();
    assert!(
        format!("{err:#}").starts_with("cannot reach MySQL at mysql://root@127.0.0.1:9"),
        "{err:#}"
    );
}

/// One request a [`WebhookReceiver`] got, and the status it answered.
#[derive(Debug, Clone)]
struct HookRequest {
    /// The method and the target (path and query), e.g. `POST /services/…`.
    request_line: String,
    content_type: String,
    body: Value,
    answered: u16,
}

/// A wiremock server standing in for a Slack incoming webhook: it records every
/// request and answers each with the status currently set.
struct WebhookReceiver {
    url: String,
    server: MockServer,
    /// One mock a status set; the latest takes priority.
    answers: Vec<(u16, MockGuard)>,
}

impl WebhookReceiver {
    async fn start(status: u16) -> Self {
        let server = MockServer::start().await;
        let url = format!("{}/services/T000/B000/secret", server.uri());
        let mut hook = Self {
            url,
            server,
            answers: Vec::new(),
        };
        hook.answer(status).await;
        hook
    }

    /// From now on every request is answered `status` (a mock that takes priority
    /// over the earlier ones, which keep what they answered).
    async fn answer(&mut self, status: u16) {
        let priority = u8::MAX - u8::try_from(self.answers.len()).expect("a few answers");
        let text = if status == 200 { "ok" } else { "internal_error" };
        let mock = Mock::given(any())
            .respond_with(ResponseTemplate::new(status).set_body_string(text))
            .with_priority(priority)
            .mount_as_scoped(&self.server)
            .await;
        self.answers.push((status, mock));
    }

    /// The requests whose Slack text mentions `needle`, in the order of the answers.
    async fn requests_about(&self, needle: &str) -> Vec<HookRequest> {
        let mut about = Vec::new();
        for (answered, mock) in &self.answers {
            for request in mock.received_requests().await {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                if !body["text"].as_str().is_some_and(|t| t.contains(needle)) {
                    continue;
                }
                let target = match request.url.query() {
                    Some(query) => format!("{}?{query}", request.url.path()),
                    None => request.url.path().to_string(),
                };
                let content_type = request.headers.get("content-type");
                about.push(HookRequest {
                    request_line: format!("{} {target}", request.method),
                    content_type: content_type
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string(),
                    body,
                    answered: *answered,
                });
            }
        }
        about
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_follow_forwards_each_alert_to_a_slack_webhook_and_keeps_what_it_refuses() {
    let mut env = TestEnv::new().await;
    env.start_stock_worker().await;

    // A one-off read with a webhook that cannot be reached forwards nothing and keeps
    // the alert in the queue (exit 2 with what to do).
    env.send_raw(names::STOCK_QUEUE, r#"{"sku":"HOOK-0"}"#).await;
    eventually("the first alert arrived", DEADLINE, || async {
        (!env.ops_alerts().await.is_empty()).then_some(())
    })
    .await;
    let unreachable = Settings {
        alert_webhook_url: "http://127.0.0.1:9/hook".into(),
        ..ctl::settings(&env)
    };
    let err = ctl::run_with(&unreachable, &["alerts"]).await.unwrap_err();
    let err = format!("{err:#}");
    assert!(err.starts_with("webhook http://127.0.0.1:9/… is unreachable"), "{err}");
    assert!(err.contains("not delivered stay in"), "{err}");
    assert!(
        !err.contains("/hook"),
        "the webhook's path (its secret) is not printed: {err}"
    );
    let kept = env.ops_alerts().await;
    assert!(kept.iter().any(|a| a["sku"] == "HOOK-0"), "{kept:#?}");

    let mut hook = WebhookReceiver::start(500).await;

    // The forwarder, as `stockctl --json alerts --follow --webhook URL --retry-seconds 1`.
    let stop = CancellationToken::new();
    let forwarder = {
        let settings = ctl::settings(&env);
        let stop = stop.clone();
        let args = [
            "stockctl",
            "--json",
            "alerts",
            "--follow",
            "--webhook",
            hook.url.as_str(),
            "--retry-seconds",
            "1",
        ];
        let cli = Cli::try_parse_from(args).unwrap();
        tokio::spawn(async move {
            let mut out = Vec::new();
            let code = stockctl::run(cli, &settings, &mut out, stop).await;
            (code.map_err(|e| format!("{e:#}")), String::from_utf8(out).unwrap())
        })
    };

    // A stock_empty the worker can never process (quantity is not a number): it is
    // dead-lettered at once, with an alert that names the sku.
    env.send_raw(names::STOCK_QUEUE, r#"{"sku":"HOOK-1","quantity":"many"}"#)
        .await;

    // The webhook is down (500): the forwarder tries, keeps the alerts, tries again
    // (HOOK-0's alert, still queued, and HOOK-1's, in whatever order SQS hands them).
    // The new alarms' INSUFFICIENT_DATA → OK notifications are not forwarded: noise.
    let refused = eventually("the forwarder tried again after a refusal", DEADLINE, || async {
        let seen = hook.requests_about("HOOK-").await;
        (seen.len() >= 2).then_some(seen)
    })
    .await;
    let noise = hook.requests_about("INSUFFICIENT_DATA").await;
    assert!(noise.is_empty(), "{:#?}", hook.requests_about("").await);
    assert!(refused.iter().all(|r| r.answered == 500), "{refused:#?}");
    let first = &refused[0];
    assert_eq!(first.request_line, "POST /services/T000/B000/secret", "{first:?}");
    assert!(first.content_type.starts_with("application/json"), "{first:?}");
    let text = first.body["text"].as_str().expect("a Slack `text`");
    assert!(!text.contains('\n'), "one readable line: {text}");
    assert!(
        text.contains("stock-worker") && text.contains("dead_lettered"),
        "{text}"
    );
    assert!(
        text.contains("malformed stock_empty message"),
        "the error is named: {text}"
    );
    assert!(text.contains("sku=HOOK-"), "the sku is named: {text}");
    let blocks = first.body["blocks"].as_array().expect("Slack `blocks`");
    assert!(
        blocks.iter().all(|b| b["type"] == "section" || b["type"] == "context"),
        "{blocks:#?}"
    );
    let details = serde_json::to_string(blocks).unwrap();
    assert!(
        details.contains("HOOK-") && details.contains(&env.resources.name(names::STOCK_DLQ)),
        "{details}"
    );
    // Still in ops_alert_queue (hidden until its next try): nothing is lost.
    assert!(env.queue_depth(names::OPS_ALERT_QUEUE).await >= 1);

    // The webhook recovers: the next tries are accepted and the alerts leave the queue.
    hook.answer(200).await;
    let sku_text = |sku: &str| format!("sku={sku} ");
    eventually("both alerts were delivered", DEADLINE, || async {
        for sku in ["HOOK-0", "HOOK-1"] {
            let tries = hook.requests_about(&sku_text(sku)).await;
            if !tries.iter().any(|r| r.answered == 200) {
                return None;
            }
        }
        Some(())
    })
    .await;
    until_held(&env, "the delivered alerts are deleted", names::OPS_ALERT_QUEUE, 0).await;
    for sku in ["HOOK-0", "HOOK-1"] {
        let tries = hook.requests_about(&sku_text(sku)).await;
        assert_eq!(
            tries.iter().filter(|r| r.answered == 200).count(),
            1,
            "delivered once: {tries:#?}"
        );
        assert!(
            tries.iter().all(|r| r.body == tries[0].body),
            "every try sends the same body"
        );
    }

    stop.cancel();
    let (code, out) = forwarder.await.unwrap();
    assert_eq!(code, Ok(0));
    // Printed once, when delivered: one JSON object per line.
    let printed: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for sku in ["HOOK-0", "HOOK-1"] {
        let ours = printed
            .iter()
            .filter(|a| a["source"] == "worker" && a["alert"]["sku"] == sku)
            .count();
        assert_eq!(ours, 1, "{out}");
    }

    let bad = ctl::run_with(&ctl::settings(&env), &["alerts", "--webhook", "hooks.example.com"])
        .await
        .unwrap_err();
    assert!(format!("{bad:#}").contains("must be an http(s) URL"), "{bad:#}");
    env.stop().await;
}
