//! A fresh stack sends the operations team no false alert: its alarms move from
//! INSUFFICIENT_DATA to OK at start, and that change is not an alert (an alert is a change
//! to a bad state, or a recovery from one). The `ops_alerts` subscriptions filter it out
//! (`localstack/stockflow.yaml`), so `ops_alert_queue` stays empty and `stockctl status`
//! has nothing to report; a real alert published after it still arrives.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use stockctl::Ctx;
use stockflow_contracts::FailureKind;
use stockflow_contracts::events::OpsAlert;
use stockflow_contracts::names;
use stockflow_e2e::{TestEnv, ctl, eventually};

/// The harness deploys alarms with a 10 s period: they leave INSUFFICIENT_DATA within a
/// period or two; a slow machine gets slack.
const DEADLINE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_becoming_ok_at_start_raise_no_alert_and_a_real_alert_still_arrives() {
    let env = TestEnv::running_sales().await; // creates the warehouse that `stockctl status` reads
    let ctx = Ctx::new(&ctl::settings(&env)).await;

    // The change that used to land as four alerts really happens.
    let alarms = eventually(
        "every alarm of the fresh stack left INSUFFICIENT_DATA",
        DEADLINE,
        || async {
            let alarms = stockctl::status::alarms(&ctx).await.expect("DescribeAlarms");
            (alarms.len() == 4 && alarms.iter().all(|a| a.state.as_str() == "OK")).then_some(alarms)
        },
    )
    .await;
    assert!(alarms.iter().all(|a| a.state.as_str() == "OK"), "{alarms:#?}");

    // A worker alert published after those changes arrives; nothing else is there.
    let sentinel = OpsAlert {
        kind: FailureKind::DeadLettered,
        service: "fresh-stack-test".into(),
        queue: env.resources.name(names::STOCK_QUEUE),
        now_in: env.resources.name(names::STOCK_DLQ),
        error: "a real alert".into(),
        attempts: 1,
        message_id: format!("sentinel-{}", env.id),
        sku: None,
        restock_request_id: None,
        correlation_id: None,
        body: String::new(),
        at: Utc::now(),
    };
    env.publish(&sentinel).await;
    let inbox = eventually("the real alert on ops_alert_queue", DEADLINE, || async {
        let messages = env.peek(names::OPS_ALERT_QUEUE).await;
        let bodies: Vec<Value> = messages
            .iter()
            .filter_map(|m| serde_json::from_str(m.body()?).ok())
            .collect();
        bodies
            .iter()
            .any(|b| b["message_id"] == sentinel.message_id.as_str())
            .then_some(bodies)
    })
    .await;
    assert_eq!(
        inbox.len(),
        1,
        "only the real alert is in ops_alert_queue, no alarm's INSUFFICIENT_DATA -> OK: {inbox:#?}"
    );

    // stockctl status: the one unread alert is the real one.
    let (code, out) = ctl::run(&env, &["--json", "status"]).await;
    assert_eq!(code, 0, "{out}");
    let status: Value = serde_json::from_str(&out).expect("JSON");
    let attention = status["attention"].to_string();
    assert!(attention.contains("1 unread alert(s)"), "{status:#}");
    env.stop().await;
}
