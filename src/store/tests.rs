//! The store against both backends: every case runs on an SQLite file and on a fresh database of
//! a real PostgreSQL server (see [`super::testing`]).

use serde_json::json;
use sqlx::Row;
use tokio::task::JoinSet;

use super::{
    Backend, Lease, NewDefinition, NewRun, Request, RunFilter, RunUpdate, StepUpdate, Store,
    StoreError, testing, testing::both,
};
use crate::report::{EventKind, RunStatus, StepReport, StepStatus};

both!(
    migrations_are_idempotent,
    concurrent_opens_of_a_new_store_both_succeed,
    definitions_are_inserted_once,
    a_run_round_trips,
    runs_filter_newest_first,
    fenced_writes_pass_with_the_current_lease,
    one_claim_of_many_concurrent_wins,
    a_stale_lease_writes_nothing,
    a_dead_owner_lease_is_taken_over,
    claimable_runs_come_by_priority_then_age,
    requests_reach_the_lease_holder,
    completion_order_is_recorded,
    stats_count_and_average,
    size_is_reported,
    unparsable_rows_are_corrupt,
    a_run_stored_claimed_is_driven_and_ended_in_single_writes,
    a_stopping_owner_hands_back_every_lease_it_holds,
);

/// `release_owner`: what a draining replica does last. Its runs and jobs that have not ended
/// become claimable at once (no waiting for expiry), with their steps as they stood; ended ones,
/// other owners' and the old holder's later writes are untouched or refused.
async fn a_stopping_owner_hands_back_every_lease_it_holds(url: String) {
    let store = store(&url).await;
    for (i, id) in ["mine1", "mine2", "theirs", "ended"].iter().enumerate() {
        new_run(&store, id, "flow", 0, i as i64).await;
    }
    let ttl = 60_000;
    let mine1 = store
        .claim("mine1", "me", 100, ttl, &[])
        .await
        .unwrap()
        .unwrap();
    store
        .claim("mine2", "me", 100, ttl, &[])
        .await
        .unwrap()
        .unwrap();
    store
        .claim("theirs", "them", 100, ttl, &[])
        .await
        .unwrap()
        .unwrap();
    let ended = store
        .claim("ended", "me", 100, ttl, &[])
        .await
        .unwrap()
        .unwrap();
    store
        .set_step(&mine1, &step("a", StepStatus::Running, 110))
        .await
        .unwrap();
    store
        .set_run(&ended, &run_update(RunStatus::Completed, 120))
        .await
        .unwrap();
    let payload = json!({});
    let job = |id: &'static str, owner: &'static str| super::NewJob {
        id,
        kind: crate::report::JobKind::Tool,
        job_type: None,
        target: "fx__echo",
        payload: &payload,
        metadata: &payload,
        priority: 0,
        ttl_ms: None,
        inputs: &[],
        now: 100,
        claim: Some((owner, 100 + ttl)),
    };
    let my_job = store
        .create_job(&job("job-mine", "me"))
        .await
        .unwrap()
        .unwrap();
    store.start_job(&my_job, 105).await.unwrap();
    store
        .create_job(&job("job-theirs", "them"))
        .await
        .unwrap()
        .unwrap();
    // Before: nothing is claimable while the leases run.
    assert!(store.claimable(200, &[], 10).await.unwrap().is_empty());
    assert!(store.claimable_jobs(200, &[], 10).await.unwrap().is_empty());

    let released = store.release_owner("me").await.unwrap();
    assert_eq!(released, super::Released { runs: 2, jobs: 1 });

    // After: claimable at once, long before the 60 s leases would have expired.
    assert_eq!(
        store.claimable(200, &[], 10).await.unwrap(),
        ["mine1", "mine2"]
    );
    let ids: Vec<String> = store
        .claimable_jobs(200, &[], 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["job-mine"]);
    assert_eq!(store.lease_owners().await.unwrap(), ["them"]);
    // The step stays as it stood (`running`): the next holder judges it as after a crash.
    let steps = store.steps("mine1").await.unwrap();
    assert_eq!(steps[0].status, StepStatus::Running);
    // The old holder's lease writes nothing more.
    assert!(is_stale(
        store
            .set_step(&mine1, &step("a", StepStatus::Completed, 300))
            .await
    ));
    // The next holder's claim fences it out for good.
    let next = store
        .claim("mine1", "next", 300, ttl, &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.fence, mine1.fence + 1);
    // Again: nothing left to release.
    let again = store.release_owner("me").await.unwrap();
    assert_eq!(again, super::Released::default());
}

async fn a_run_stored_claimed_is_driven_and_ended_in_single_writes(url: String) {
    let store = store(&url).await;
    let lease = store
        .create_run(&NewRun {
            id: "c1",
            workflow: "flow",
            definition_sha: SHA,
            input: &json!({}),
            priority: 0,
            deadline_at: None,
            steps: &["a", "b"],
            now: 10,
            claim: Some(("w1", 10_000)),
        })
        .await
        .unwrap()
        .expect("stored claimed");
    assert_eq!(lease.fence, 1);
    assert_eq!(store.lease_owners().await.unwrap(), ["w1"]);
    // Nobody else can claim it while the lease runs.
    assert!(
        store
            .claim("c1", "w2", 20, 1_000, &[])
            .await
            .unwrap()
            .is_none()
    );
    let steps = store.steps("c1").await.unwrap();
    assert_eq!(
        steps
            .iter()
            .map(|s| (s.name.as_str(), s.position))
            .collect::<Vec<_>>(),
        [("a", 0), ("b", 1)]
    );

    let missing = store
        .set_step_logged(
            &lease,
            &step("nope", StepStatus::Running, 11),
            EventKind::StepStarted,
            &json!({}),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::Corrupt { .. })),
        "{missing:?}"
    );
    assert!(
        store.events("c1", 0).await.unwrap().is_empty(),
        "nothing written"
    );
    let mut running = step("a", StepStatus::Running, 11);
    running.attempts = Some(1);
    store
        .set_step_logged(
            &lease,
            &running,
            EventKind::StepStarted,
            &json!({"attempt": 1}),
        )
        .await
        .unwrap();
    store
        .set_run_logged(
            &lease,
            &run_update(RunStatus::Completed, 12),
            EventKind::WorkflowCompleted,
            &json!({}),
            true,
        )
        .await
        .unwrap();
    let run = store.run("c1").await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(
        (run.owner, run.lease_until),
        (None, None),
        "released with the end"
    );
    let kinds: Vec<EventKind> = store
        .events("c1", 0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [EventKind::StepStarted, EventKind::WorkflowCompleted]
    );
    // The released lease writes nothing more.
    assert!(is_stale(
        store
            .set_run_logged(
                &lease,
                &run_update(RunStatus::Failed, 13),
                EventKind::WorkflowFailed,
                &json!({}),
                false
            )
            .await
    ));
    assert!(is_stale(
        store
            .set_step_logged(
                &lease,
                &step("b", StepStatus::Running, 13),
                EventKind::StepStarted,
                &json!({})
            )
            .await
    ));
    assert_eq!(store.events("c1", 0).await.unwrap().len(), 2);
}

const SHA: &str = "0f0f";

async fn open(url: &str) -> Store {
    Store::open(url).await.unwrap()
}

/// A store with the definition every run here is pinned to.
async fn store(url: &str) -> Store {
    let store = open(url).await;
    store
        .put_definition(&NewDefinition {
            sha256: SHA,
            name: "flow",
            version: "1",
            body: "{}",
        })
        .await
        .unwrap();
    store
}

/// Creates a run of `workflow` with steps a, b, c.
async fn new_run(store: &Store, id: &str, workflow: &str, priority: i64, now: i64) {
    store
        .create_run(&NewRun {
            id,
            workflow,
            definition_sha: SHA,
            input: &json!({"n": 1}),
            priority,
            deadline_at: None,
            steps: &["a", "b", "c"],
            now,
            claim: None,
        })
        .await
        .unwrap();
}

fn step<'a>(name: &'a str, status: StepStatus, now: i64) -> StepUpdate<'a> {
    StepUpdate {
        name,
        status,
        attempts: None,
        output: None,
        error: None,
        task_id: None,
        now,
    }
}

fn run_update<'a>(status: RunStatus, now: i64) -> RunUpdate<'a> {
    RunUpdate {
        status,
        output: None,
        error: None,
        now,
    }
}

fn is_stale<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::StaleLease { .. }))
}

async fn migrations_are_idempotent(url: String) {
    let first = store(&url).await;
    new_run(&first, "r1", "flow", 0, 1).await;
    first.close().await;
    let second = open(&url).await;
    let applied = sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations")
        .fetch_one(&second.pool)
        .await
        .unwrap()
        .try_get::<i64, _>("n")
        .unwrap();
    assert_eq!(applied, 2, "two migrations, each applied once");
    assert!(second.run("r1").await.unwrap().is_some(), "data survives");
    assert!(!second.display_url().is_empty());
}

async fn concurrent_opens_of_a_new_store_both_succeed(url: String) {
    let (a, b) = tokio::join!(Store::open(&url), Store::open(&url));
    let (a, b) = (a.unwrap(), b.unwrap());
    new_run(&store(&url).await, "r1", "flow", 0, 1).await;
    assert!(a.run("r1").await.unwrap().is_some() && b.run("r1").await.unwrap().is_some());
}

async fn definitions_are_inserted_once(url: String) {
    let store = store(&url).await;
    // Same sha, different text: the first one stays (the sha is of the body, so this cannot
    // happen for real; it shows the insert does not overwrite).
    store
        .put_definition(&NewDefinition {
            sha256: SHA,
            name: "other",
            version: "2",
            body: "[]",
        })
        .await
        .unwrap();
    let d = store.definition(SHA).await.unwrap().unwrap();
    assert_eq!(
        (
            d.sha256.as_str(),
            d.name.as_str(),
            d.version.as_str(),
            d.body.as_str()
        ),
        (SHA, "flow", "1", "{}")
    );
    assert!(store.definition("nope").await.unwrap().is_none());
}

async fn a_run_round_trips(url: String) {
    let store = store(&url).await;
    let input = json!({"phone": "+1", "nested": {"list": [1, 2.5, null, true], "s": "é\"'"}});
    store
        .create_run(&NewRun {
            id: "r1",
            workflow: "flow",
            definition_sha: SHA,
            input: &input,
            priority: 7,
            deadline_at: Some(9_000),
            steps: &["fetch", "send", "archive"],
            now: 1_000,
            claim: None,
        })
        .await
        .unwrap();
    let run = store.run("r1").await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Pending);
    assert_eq!(run.input, input);
    assert_eq!(
        (run.priority, run.created_at, run.deadline_at),
        (7, 1_000, Some(9_000))
    );
    assert_eq!(run.output, None);
    assert_eq!((run.owner, run.lease_until, run.fence), (None, None, 0));
    assert!(store.run("nope").await.unwrap().is_none());

    let steps = store.steps("r1").await.unwrap();
    let names: Vec<_> = steps
        .iter()
        .map(|s| (s.name.as_str(), s.position))
        .collect();
    assert_eq!(names, [("fetch", 0), ("send", 1), ("archive", 2)]);
    assert!(
        steps
            .iter()
            .all(|s| s.status == StepStatus::Pending && s.attempts == 0)
    );

    let lease = store
        .claim("r1", "w", 1_000, 60_000, &[])
        .await
        .unwrap()
        .unwrap();
    let output = json!({"id": "sms-1", "parts": [1, 2]});
    store
        .set_step(
            &lease,
            &StepUpdate {
                attempts: Some(1),
                ..step("fetch", StepStatus::Running, 1_100)
            },
        )
        .await
        .unwrap();
    store
        .set_step(
            &lease,
            &StepUpdate {
                output: Some(&output),
                task_id: Some("child-task-1"),
                ..step("fetch", StepStatus::Completed, 1_200)
            },
        )
        .await
        .unwrap();
    store
        .set_run(
            &lease,
            &RunUpdate {
                output: Some(&output),
                ..run_update(RunStatus::Completed, 1_300)
            },
        )
        .await
        .unwrap();

    let report = store.report("r1").await.unwrap().unwrap();
    assert_eq!(report.run_id, "r1");
    assert_eq!(report.definition, SHA);
    assert_eq!(report.status, RunStatus::Completed);
    assert_eq!(report.input, input);
    assert_eq!(report.output, Some(output.clone()));
    assert_eq!(
        (report.created_at, report.finished_at),
        (1_000, Some(1_300))
    );
    assert_eq!(
        report.steps[0],
        StepReport {
            name: "fetch".into(),
            status: StepStatus::Completed,
            attempts: 1,
            output: Some(output),
            error: None,
            started_at: Some(1_100),
            finished_at: Some(1_200),
        }
    );
    assert_eq!(report.steps.len(), 3);
    let fetch = &store.steps("r1").await.unwrap()[0];
    assert_eq!(fetch.task_id.as_deref(), Some("child-task-1"));
    assert!(store.report("nope").await.unwrap().is_none());
}

async fn runs_filter_newest_first(url: String) {
    let store = store(&url).await;
    new_run(&store, "old", "flow", 0, 1).await;
    new_run(&store, "mid", "other", 0, 2).await;
    new_run(&store, "new", "flow", 0, 3).await;
    let lease = store.claim("mid", "w", 3, 100, &[]).await.unwrap().unwrap();
    store
        .set_run(&lease, &run_update(RunStatus::Running, 4))
        .await
        .unwrap();

    let ids = |runs: Vec<super::RunRecord>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.runs(&RunFilter::default()).await.unwrap()),
        ["new", "mid", "old"]
    );
    let flow = RunFilter {
        workflow: Some("flow".into()),
        ..RunFilter::default()
    };
    assert_eq!(ids(store.runs(&flow).await.unwrap()), ["new", "old"]);
    let running = RunFilter {
        status: Some(RunStatus::Running),
        ..RunFilter::default()
    };
    assert_eq!(ids(store.runs(&running).await.unwrap()), ["mid"]);
    let both = RunFilter {
        status: Some(RunStatus::Pending),
        workflow: Some("flow".into()),
        limit: 1,
    };
    assert_eq!(ids(store.runs(&both).await.unwrap()), ["new"]);
}

async fn fenced_writes_pass_with_the_current_lease(url: String) {
    let store = store(&url).await;
    new_run(&store, "r1", "flow", 0, 10).await;
    let lease = store
        .claim("r1", "w1", 100, 1_000, &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.fence, 1);
    assert_eq!(lease.owner, "w1");

    store
        .set_run(&lease, &run_update(RunStatus::Running, 110))
        .await
        .unwrap();
    // A later `running` (a resume) keeps the first start.
    store
        .set_run(&lease, &run_update(RunStatus::Paused, 120))
        .await
        .unwrap();
    store
        .set_run(&lease, &run_update(RunStatus::Running, 130))
        .await
        .unwrap();
    let e1 = store
        .event(&lease, EventKind::WorkflowStarted, None, &json!({}), 110)
        .await
        .unwrap();
    let e2 = store
        .event(
            &lease,
            EventKind::StepStarted,
            Some("a"),
            &json!({"attempt": 1}),
            111,
        )
        .await
        .unwrap();
    assert!(e2 > e1);
    store
        .set_step(
            &lease,
            &StepUpdate {
                error: Some("boom"),
                attempts: Some(3),
                ..step("a", StepStatus::Failed, 140)
            },
        )
        .await
        .unwrap();
    store.renew(&lease, 500, 1_000).await.unwrap();
    store
        .set_run(
            &lease,
            &RunUpdate {
                error: Some("step a failed"),
                ..run_update(RunStatus::Failed, 150)
            },
        )
        .await
        .unwrap();

    let run = store.run("r1").await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!((run.started_at, run.finished_at), (Some(110), Some(150)));
    assert_eq!(run.error.as_deref(), Some("step a failed"));
    assert_eq!(
        (run.owner.as_deref(), run.lease_until),
        (Some("w1"), Some(1_500))
    );
    let a = &store.steps("r1").await.unwrap()[0];
    assert_eq!(
        (a.status, a.attempts, a.error.as_deref(), a.finished_at),
        (StepStatus::Failed, 3, Some("boom"), Some(140))
    );

    let events = store.events("r1", 0).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].kind, EventKind::StepStarted);
    assert_eq!(events[1].step.as_deref(), Some("a"));
    assert_eq!(events[1].detail, json!({"attempt": 1}));
    assert_eq!(events[1].at, 111);
    assert_eq!(store.events("r1", e1).await.unwrap().len(), 1);

    // A step the run does not have is the caller's mistake, not a lost lease.
    assert!(matches!(
        store
            .set_step(&lease, &step("nope", StepStatus::Running, 1))
            .await,
        Err(StoreError::Corrupt { .. })
    ));

    store.release(&lease).await.unwrap();
    let run = store.run("r1").await.unwrap().unwrap();
    assert_eq!((run.owner, run.lease_until), (None, None));
    // Released: the lease no longer writes.
    assert!(is_stale(store.renew(&lease, 600, 1_000).await));
    // A finished run is never claimed again.
    assert!(
        store
            .claim("r1", "w2", 700, 1_000, &[])
            .await
            .unwrap()
            .is_none()
    );
}

async fn one_claim_of_many_concurrent_wins(url: String) {
    let first = store(&url).await;
    new_run(&first, "r1", "flow", 0, 1).await;
    // Two pools on one database: two replicas.
    let second = open(&url).await;
    let mut claims = JoinSet::new();
    for i in 0..20 {
        let store = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        claims.spawn(async move {
            store
                .claim("r1", &format!("worker-{i}"), 100, 10_000, &[])
                .await
                .unwrap()
        });
    }
    let won: Vec<Lease> = claims.join_all().await.into_iter().flatten().collect();
    assert_eq!(won.len(), 1, "exactly one claim wins: {won:?}");
    let run = first.run("r1").await.unwrap().unwrap();
    assert_eq!(run.owner.as_deref(), Some(won[0].owner.as_str()));
    assert_eq!(run.fence, 1);
}

async fn a_stale_lease_writes_nothing(url: String) {
    let store = store(&url).await;
    new_run(&store, "r1", "flow", 0, 1).await;
    let old = store
        .claim("r1", "w1", 100, 1_000, &[])
        .await
        .unwrap()
        .unwrap();
    store
        .set_run(&old, &run_update(RunStatus::Running, 100))
        .await
        .unwrap();
    store
        .event(&old, EventKind::WorkflowStarted, None, &json!({}), 100)
        .await
        .unwrap();
    store.request("r1", Request::Pause).await.unwrap();

    // Not yet expired: nobody else gets it.
    assert!(
        store
            .claim("r1", "w2", 1_100, 1_000, &[])
            .await
            .unwrap()
            .is_none()
    );
    let new = store
        .claim("r1", "w2", 1_101, 1_000, &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new.fence, old.fence + 1);

    let before = (
        store.run("r1").await.unwrap(),
        store.steps("r1").await.unwrap(),
        store.events("r1", 0).await.unwrap(),
    );
    assert!(is_stale(
        store
            .set_step(&old, &step("a", StepStatus::Completed, 1_200))
            .await
    ));
    assert!(is_stale(
        store
            .set_run(&old, &run_update(RunStatus::Completed, 1_200))
            .await
    ));
    assert!(is_stale(
        store
            .event(&old, EventKind::WorkflowCompleted, None, &json!({}), 1_200)
            .await
    ));
    assert!(is_stale(store.renew(&old, 1_200, 1_000).await));
    assert!(is_stale(store.clear_request(&old, Request::Pause).await));
    store.release(&old).await.unwrap();
    let after = (
        store.run("r1").await.unwrap(),
        store.steps("r1").await.unwrap(),
        store.events("r1", 0).await.unwrap(),
    );
    assert_eq!(before, after, "the stale lease changed nothing");
    assert_eq!(after.0.unwrap().owner.as_deref(), Some("w2"));

    // The new holder writes.
    store
        .set_step(&new, &step("a", StepStatus::Running, 1_300))
        .await
        .unwrap();
}

async fn a_dead_owner_lease_is_taken_over(url: String) {
    let store = store(&url).await;
    new_run(&store, "r1", "flow", 0, 1).await;
    new_run(&store, "r2", "flow", 0, 2).await;
    store
        .claim("r1", "dead", 100, 60_000, &[])
        .await
        .unwrap()
        .unwrap();
    store
        .claim("r2", "alive", 100, 60_000, &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.lease_owners().await.unwrap(), ["alive", "dead"]);

    // Live leases: nothing to claim, unless their owner is known dead.
    assert!(store.claimable(200, &[], 10).await.unwrap().is_empty());
    assert!(
        store
            .claim("r1", "me", 200, 1_000, &[])
            .await
            .unwrap()
            .is_none()
    );
    let dead = vec!["dead".to_owned(), "also-dead".to_owned()];
    assert_eq!(store.claimable(200, &dead, 10).await.unwrap(), ["r1"]);
    let lease = store
        .claim("r1", "me", 200, 1_000, &dead)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.fence, 2);
    assert!(
        store
            .claim("r2", "me", 200, 1_000, &dead)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.lease_owners().await.unwrap(), ["alive", "me"]);
}

async fn claimable_runs_come_by_priority_then_age(url: String) {
    let store = store(&url).await;
    new_run(&store, "low-old", "flow", 0, 1).await;
    new_run(&store, "high-new", "flow", 5, 4).await;
    new_run(&store, "high-old", "flow", 5, 2).await;
    new_run(&store, "low-new", "flow", 0, 3).await;
    new_run(&store, "done", "flow", 9, 1).await;
    new_run(&store, "held", "flow", 9, 1).await;
    new_run(&store, "expired", "flow", -1, 1).await;

    let done = store
        .claim("done", "w", 10, 100, &[])
        .await
        .unwrap()
        .unwrap();
    store
        .set_run(&done, &run_update(RunStatus::Completed, 10))
        .await
        .unwrap();
    store.release(&done).await.unwrap();
    store
        .claim("held", "w", 10, 1_000, &[])
        .await
        .unwrap()
        .unwrap();
    store
        .claim("expired", "w", 10, 100, &[])
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        store.claimable(500, &[], 10).await.unwrap(),
        ["high-old", "high-new", "low-old", "low-new", "expired"]
    );
    assert_eq!(
        store.claimable(500, &[], 2).await.unwrap(),
        ["high-old", "high-new"]
    );
}

async fn requests_reach_the_lease_holder(url: String) {
    let store = store(&url).await;
    new_run(&store, "r1", "flow", 0, 1).await;
    new_run(&store, "r2", "flow", 0, 2).await;
    new_run(&store, "other", "flow", 0, 3).await;
    assert_eq!(
        store.request("r1", Request::Pause).await.unwrap(),
        Some(RunStatus::Pending)
    );
    assert_eq!(store.request("nope", Request::Cancel).await.unwrap(), None);

    let l1 = store
        .claim("r1", "w", 10, 1_000, &[])
        .await
        .unwrap()
        .unwrap();
    let l2 = store
        .claim("r2", "w", 10, 1_000, &[])
        .await
        .unwrap()
        .unwrap();
    store
        .claim("other", "x", 10, 1_000, &[])
        .await
        .unwrap()
        .unwrap();
    store
        .set_run(&l2, &run_update(RunStatus::Running, 11))
        .await
        .unwrap();
    assert_eq!(
        store.request("r2", Request::Cancel).await.unwrap(),
        Some(RunStatus::Running)
    );
    store.request("other", Request::Pause).await.unwrap();
    assert_eq!(
        store.requests("w").await.unwrap(),
        [
            ("r1".to_owned(), Request::Pause),
            ("r2".to_owned(), Request::Cancel)
        ]
    );
    // A later request replaces one not yet acted on.
    store.request("r1", Request::Resume).await.unwrap();
    assert_eq!(
        store.run("r1").await.unwrap().unwrap().requested,
        Some(Request::Resume)
    );

    // Clearing a request other than the one pending leaves it: it was not acted on.
    store.clear_request(&l1, Request::Pause).await.unwrap();
    assert_eq!(
        store.run("r1").await.unwrap().unwrap().requested,
        Some(Request::Resume)
    );
    store.clear_request(&l1, Request::Resume).await.unwrap();
    assert_eq!(
        store.requests("w").await.unwrap(),
        [("r2".to_owned(), Request::Cancel)]
    );

    // An ended run records nothing; the caller learns its state.
    store.clear_request(&l2, Request::Cancel).await.unwrap();
    store
        .set_run(&l2, &run_update(RunStatus::Cancelled, 12))
        .await
        .unwrap();
    assert_eq!(
        store.request("r2", Request::Pause).await.unwrap(),
        Some(RunStatus::Cancelled)
    );
    assert_eq!(store.run("r2").await.unwrap().unwrap().requested, None);
}

async fn completion_order_is_recorded(url: String) {
    let store = store(&url).await;
    new_run(&store, "r1", "flow", 0, 1).await;
    new_run(&store, "r2", "flow", 0, 1).await;
    let lease = store
        .claim("r1", "w", 10, 1_000, &[])
        .await
        .unwrap()
        .unwrap();
    let other = store
        .claim("r2", "w", 10, 1_000, &[])
        .await
        .unwrap()
        .unwrap();
    for (i, name) in ["c", "a", "b"].into_iter().enumerate() {
        let now = 20 + i64::try_from(i).unwrap();
        store
            .set_step(&lease, &step(name, StepStatus::Running, now))
            .await
            .unwrap();
        store
            .set_step(&lease, &step(name, StepStatus::Completed, now))
            .await
            .unwrap();
        // Another run's completions do not disturb this run's order.
        store
            .set_step(&other, &step(name, StepStatus::Completed, now))
            .await
            .unwrap();
    }
    // Compensating and compensated later keep the completion order.
    store
        .set_step(&lease, &step("a", StepStatus::Compensating, 30))
        .await
        .unwrap();
    store
        .set_step(&lease, &step("a", StepStatus::Compensated, 31))
        .await
        .unwrap();

    let steps = store.steps("r1").await.unwrap();
    let mut by_completion: Vec<_> = steps
        .iter()
        .map(|s| (s.completed_seq.unwrap(), s.name.as_str()))
        .collect();
    by_completion.sort();
    let order: Vec<_> = by_completion.iter().map(|(_, n)| *n).collect();
    assert_eq!(order, ["c", "a", "b"]);
    assert!(by_completion.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(steps[0].status, StepStatus::Compensated);
    assert_eq!(steps[0].finished_at, Some(31));
    assert_eq!(steps[0].started_at, Some(21));
}

async fn stats_count_and_average(url: String) {
    let store = store(&url).await;
    let empty = store.stats(5).await.unwrap();
    assert!(empty.totals.is_empty());
    assert_eq!((empty.active, empty.average_duration_ms), (0, None));

    for (id, end, started, finished) in [
        ("ok", Some(RunStatus::Completed), 100, 400),
        ("bad", Some(RunStatus::Failed), 100, 200),
        ("undone", Some(RunStatus::Compensated), 100, 300),
        ("going", None, 100, 0),
    ] {
        new_run(&store, id, "flow", 0, 50).await;
        let lease = store.claim(id, "w", 60, 1_000, &[]).await.unwrap().unwrap();
        store
            .set_run(&lease, &run_update(RunStatus::Running, started))
            .await
            .unwrap();
        if let Some(end) = end {
            store
                .set_run(
                    &lease,
                    &RunUpdate {
                        error: Some("why"),
                        ..run_update(end, finished)
                    },
                )
                .await
                .unwrap();
        }
    }
    new_run(&store, "waiting", "flow", 0, 60).await;

    let stats = store.stats(5).await.unwrap();
    assert_eq!(stats.active, 2);
    let totals: Vec<_> = stats.totals.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        totals,
        [
            ("compensated", 1),
            ("completed", 1),
            ("failed", 1),
            ("pending", 1),
            ("running", 1)
        ]
    );
    // (300 + 100 + 200) / 3
    assert_eq!(stats.average_duration_ms, Some(200.0));
    let failures: Vec<_> = stats
        .last_failures
        .iter()
        .map(|f| (f.run_id.as_str(), f.status, f.finished_at))
        .collect();
    assert_eq!(
        failures,
        [
            ("undone", RunStatus::Compensated, Some(300)),
            ("bad", RunStatus::Failed, Some(200))
        ]
    );
    assert_eq!(stats.last_failures[0].error.as_deref(), Some("why"));
    assert_eq!(store.stats(1).await.unwrap().last_failures.len(), 1);
}

async fn size_is_reported(url: String) {
    let store = store(&url).await;
    new_run(&store, "r1", "flow", 0, 1).await;
    assert!(store.size_bytes().await.unwrap() > 0);
}

async fn unparsable_rows_are_corrupt(url: String) {
    let store = store(&url).await;
    new_run(&store, "r1", "flow", 0, 1).await;
    sqlx::query("UPDATE runs SET status = 'exploded' WHERE id = $1")
        .bind("r1")
        .execute(&store.pool)
        .await
        .unwrap();
    let err = store.run("r1").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { what } if what.contains("exploded")),
        "{err}"
    );
}

#[tokio::test]
async fn backends_are_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = open(&testing::sqlite_url(&dir).await).await;
    assert_eq!(sqlite.backend(), Backend::Sqlite);
    let postgres = open(&testing::postgres_url().await).await;
    assert_eq!(postgres.backend(), Backend::Postgres);
}

#[tokio::test]
async fn sqlite_creates_directories_and_runs_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep/er/main.db");
    let store = open(&format!("sqlite://{}", path.display())).await;
    assert!(path.is_file());
    let mode = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .try_get::<String, _>(0)
        .unwrap();
    assert_eq!(mode.to_ascii_lowercase(), "wal");
    let fk = sqlx::query("PRAGMA foreign_keys")
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap();
    assert_eq!(fk, 1);
}

#[tokio::test]
async fn bad_urls_are_clear_errors_without_the_password() {
    let err = Store::open("mysql://u:s3cret@h/db").await.err().unwrap();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("sqlite://") && !text.contains("s3cret"),
        "{text}"
    );

    let err = Store::open("postgres://u:s3cret@127.0.0.1:1/db")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("postgres://u:***@127.0.0.1:1/db"), "{shown}");

    // A file where a directory must be.
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let err = Store::open(&format!("sqlite://{}/sub/main.db", blocker.display()))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
}

#[tokio::test]
async fn a_placeholder_may_be_used_twice_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&testing::sqlite_url(&dir).await).await;
    let row = sqlx::query("SELECT $1 + $1 AS twice, $2 AS second")
        .bind(20_i64)
        .bind("x")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(row.try_get::<i64, _>("twice").unwrap(), 40);
    assert_eq!(row.try_get::<String, _>("second").unwrap(), "x");
}
