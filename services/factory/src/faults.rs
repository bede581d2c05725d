//! Fault injection for drills and tests, off unless `FACTORY_FAULTS_ENABLED=true`:
//! `PUT /admin/faults {"fail_next": 3, "status": 503, "delay_ms": 0}` makes the next
//! three production requests fail with 503 (after the delay), as a factory in trouble
//! would; `GET /admin/faults` shows what is armed. Nothing is recorded for a failed
//! request.

use std::sync::Mutex;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use stockflow_kit::problem::Problem;

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultPlan {
    /// How many of the next production requests fail.
    pub fail_next: u32,
    /// The status they fail with (400-599; default 500).
    pub status: u16,
    /// A delay before every production request answers (e.g. longer than the caller's timeout).
    pub delay_ms: u64,
}

#[derive(Default)]
pub struct Faults(Mutex<FaultPlan>);

impl Faults {
    /// Applies the armed plan to one production request: waits, then fails or lets it pass.
    pub async fn before_request(&self) -> Result<(), Problem> {
        let (delay, fail_with) = {
            let mut plan = self.0.lock().expect("fault plan lock");
            let fail_with = (plan.fail_next > 0).then(|| {
                plan.fail_next -= 1;
                plan.status
            });
            (plan.delay_ms, fail_with)
        };
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        match fail_with {
            Some(status) => Err(Problem::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "injected-fault",
                "Injected fault",
                "this failure was injected through /admin/faults",
            )),
            None => Ok(()),
        }
    }
}

pub async fn get_faults(faults: web::Data<Faults>) -> HttpResponse {
    HttpResponse::Ok().json(*faults.0.lock().expect("fault plan lock"))
}

pub async fn put_faults(faults: web::Data<Faults>, plan: web::Json<FaultPlan>) -> Result<HttpResponse, Problem> {
    let mut plan = plan.into_inner();
    if plan.status == 0 {
        plan.status = 500;
    }
    if !(400..=599).contains(&plan.status) {
        return Err(Problem::invalid_field("status must be from 400 to 599"));
    }
    *faults.0.lock().expect("fault plan lock") = plan;
    tracing::warn!(?plan, "fault injection armed");
    Ok(HttpResponse::Ok().json(plan))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fails_exactly_the_next_n_requests() {
        let faults = Faults::default();
        *faults.0.lock().unwrap() = FaultPlan {
            fail_next: 2,
            status: 503,
            delay_ms: 0,
        };
        assert_eq!(faults.before_request().await.unwrap_err().status, 503);
        assert_eq!(faults.before_request().await.unwrap_err().status, 503);
        assert!(faults.before_request().await.is_ok());
    }

    #[tokio::test]
    async fn nothing_is_armed_by_default() {
        assert!(Faults::default().before_request().await.is_ok());
    }
}
