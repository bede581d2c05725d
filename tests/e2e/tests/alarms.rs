//! The DLQ alarm end to end: a poison message reaches the DLQ, the CloudWatch alarm
//! fires, its notification and the worker's own alert arrive on `ops_alert_queue`,
//! and the alarm returns to OK once the DLQ is drained with `stockctl dlq purge`.
//!
//! How fast this runs depends on LocalStack's `SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL`
//! (how often SQS depths reach CloudWatch): `scripts/test` starts LocalStack with 5 s
//! (`STOCKFLOW_METRICS_INTERVAL`), and the test then takes about half a minute. A
//! LocalStack started with the 60 s default (e.g. by `scripts/up`) makes the alarm
//! wait up to a minute for each data point, so the deadlines below cover that too.
//! The harness deploys the template with `AlarmPeriodSeconds=10`; LocalStack looks
//! back three periods (30 s), so with the 60 s interval the alarm also flaps back to
//! OK between two data points while the DLQ is still full: that OK ("no datapoints were
//! received … [NonBreaching]") says nothing about the purge, so the test purges right after it
//! sees ALARM and accepts only an OK computed from a data point (reason "Threshold Crossed":
//! the data point that shows the empty DLQ).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use stockctl::Ctx;
use stockflow_contracts::events::ATTR_EVENT_TYPE;
use stockflow_contracts::names;
use stockflow_e2e::{TestEnv, attribute, ctl, eventually};

/// Covers a 60 s metrics interval: one interval for the data point, one alarm
/// evaluation (10 s) and slack for a busy machine. With 5 s it takes a fraction.
const ALARM_DEADLINE: Duration = Duration::from_secs(180);
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `stockctl --json <args>` in process; returns the exit status and the JSON.
async fn ctl_json(env: &TestEnv, args: &[&str]) -> (u8, Value) {
    let json_args: Vec<&str> = std::iter::once("--json").chain(args.iter().copied()).collect();
    let (code, out) = ctl::run(env, &json_args).await;
    (code, serde_json::from_str(&out).expect("JSON output"))
}

/// The state and reason of one of this environment's alarms (CloudWatch DescribeAlarms).
async fn alarm(ctx: &Ctx, name: &str) -> (String, String) {
    let alarms = stockctl::status::alarms(ctx).await.expect("DescribeAlarms");
    let alarm = alarms
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no alarm {name} in {alarms:#?}"));
    (alarm.state.as_str().to_string(), alarm.reason.clone())
}

/// An OK (or ALARM) that LocalStack reached with no data point at all, rather than from a
/// data point of the queue's depth.
fn is_missing_data(reason: &str) -> bool {
    reason.contains("no datapoints")
}

/// Everything seen on `ops_alert_queue` so far, by message id: each poll peeks
/// (VisibilityTimeout=0, nothing is consumed) and adds what is new.
#[derive(Default)]
struct Inbox(RefCell<BTreeMap<String, aws_sdk_sqs::types::Message>>);

impl Inbox {
    async fn poll(&self, env: &TestEnv) {
        let messages = env.peek(names::OPS_ALERT_QUEUE).await;
        let mut seen = self.0.borrow_mut();
        for m in messages {
            seen.insert(m.message_id().unwrap_or_default().to_string(), m);
        }
    }

    /// CloudWatch's notification that `alarm` went to `state` (from `from`, if given), as JSON.
    fn alarm_notification(&self, alarm: &str, from: Option<&str>, state: &str) -> Option<Value> {
        self.0
            .borrow()
            .values()
            .filter_map(|m| serde_json::from_str::<Value>(m.body()?).ok())
            .find(|v| {
                v["AlarmName"] == alarm
                    && v["NewStateValue"] == state
                    && from.is_none_or(|from| v["OldStateValue"] == from)
            })
    }

    /// The worker's `ops_alert`, as JSON.
    fn worker_alert(&self) -> Option<Value> {
        self.0
            .borrow()
            .values()
            .filter(|m| attribute(m, ATTR_EVENT_TYPE).as_deref() == Some("ops_alert"))
            .find_map(|m| serde_json::from_str(m.body()?).ok())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_fires_the_dlq_alarm_which_alerts_ops_and_clears_after_the_purge() {
    let mut env = TestEnv::new().await;
    env.start_stock_worker().await;
    let ctx = Ctx::new(&ctl::settings(&env)).await;
    let name = format!("{}dead_letter_queue-not-empty", env.aws.stockflow_prefix);
    let (state, _) = alarm(&ctx, &name).await;
    assert_ne!(state, "ALARM", "a fresh topology's DLQ alarm is not firing");

    let start = Instant::now();
    env.send_raw(names::STOCK_QUEUE, "garbage").await;
    eventually("the worker dead-lettered the poison message", DEADLINE, || async {
        (env.queue_depth(names::STOCK_DLQ).await == 1).then_some(())
    })
    .await;
    let dead_lettered = start.elapsed();

    eventually("the DLQ alarm is in ALARM", ALARM_DEADLINE, || async {
        (alarm(&ctx, &name).await.0 == "ALARM").then_some(())
    })
    .await;
    let fired = start.elapsed();

    let inbox = Inbox::default();
    let notification = eventually(
        "CloudWatch's ALARM notification on ops_alert_queue",
        ALARM_DEADLINE,
        || async {
            inbox.poll(&env).await;
            inbox.alarm_notification(&name, None, "ALARM")
        },
    )
    .await;
    let notified = start.elapsed();
    assert_eq!(notification["AlarmName"], name.as_str());
    assert!(
        notification["AlarmArn"]
            .as_str()
            .is_some_and(|arn| arn.ends_with(&name)),
        "{notification:#}"
    );
    assert_eq!(
        notification["Trigger"]["MetricName"], "ApproximateNumberOfMessagesVisible",
        "{notification:#}"
    );

    // The worker's own alert came first (it publishes as it dead-letters).
    let alert = inbox
        .worker_alert()
        .expect("the worker's ops_alert is on ops_alert_queue");
    for field in [
        "kind",
        "service",
        "queue",
        "now_in",
        "error",
        "attempts",
        "message_id",
        "sku",
        "restock_request_id",
        "correlation_id",
    ] {
        assert!(alert.get(field).is_some(), "the alert has no `{field}`: {alert:#}");
    }
    assert_eq!(alert["kind"], "dead_lettered");
    assert_eq!(alert["service"], "stock-worker");
    assert_eq!(alert["queue"], env.resources.name(names::STOCK_QUEUE));
    assert_eq!(alert["now_in"], env.resources.name(names::STOCK_DLQ));
    assert_eq!(alert["attempts"], 1);
    assert!(
        alert["error"]
            .as_str()
            .unwrap()
            .contains("malformed stock_empty message"),
        "{alert:#}"
    );
    assert!(
        alert["sku"].is_null() && alert["restock_request_id"].is_null(),
        "{alert:#}"
    );
    assert!(alert["correlation_id"].is_string(), "{alert:#}");

    // Drain the DLQ the way an operator would.
    let (code, purged) = ctl_json(&env, &["dlq", "purge", "--queue", "stock", "--yes"]).await;
    assert_eq!(code, 0, "{purged:#}");
    assert_eq!(purged["purged"][0]["messages"], 1);
    let purged_at = start.elapsed();
    eventually("the DLQ is empty", DEADLINE, || async {
        (env.queue_depth(names::STOCK_DLQ).await == 0).then_some(())
    })
    .await;

    let ok_reason = eventually(
        "the DLQ alarm is back to OK because a data point shows the empty DLQ",
        ALARM_DEADLINE,
        || async {
            let (state, reason) = alarm(&ctx, &name).await;
            (state == "OK" && !is_missing_data(&reason)).then_some(reason)
        },
    )
    .await;
    let cleared = start.elapsed();
    let recovery = eventually(
        "CloudWatch's OK notification on ops_alert_queue",
        ALARM_DEADLINE,
        || async {
            inbox.poll(&env).await;
            inbox
                .alarm_notification(&name, Some("ALARM"), "OK")
                .filter(|n| !is_missing_data(n["NewStateReason"].as_str().unwrap_or_default()))
        },
    )
    .await;
    assert!(recovery["NewStateReason"].is_string(), "{recovery:#}");
    let ok_notified = start.elapsed();

    // Shown with `--no-capture` (and on failure): what each step took here.
    println!(
        "alarm timings from sending the poison message: dead-lettered {:.1} s, ALARM {:.1} s, \
         ALARM notification {:.1} s, purged {:.1} s, OK {:.1} s (+{:.1} s after the purge; reason: {ok_reason}), \
         OK notification {:.1} s",
        dead_lettered.as_secs_f64(),
        fired.as_secs_f64(),
        notified.as_secs_f64(),
        purged_at.as_secs_f64(),
        cleared.as_secs_f64(),
        (cleared - purged_at).as_secs_f64(),
        ok_notified.as_secs_f64(),
    );
    env.stop().await;
}
