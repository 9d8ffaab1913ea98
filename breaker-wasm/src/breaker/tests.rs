//! The rules of PROTOCOL §3 on one breaker, with a fake clock (plain numbers).

use super::*;

fn cfg() -> Config {
    Config::default()
}

fn fail(b: &mut Breaker, c: &Config, now: u64, n: u64) -> CallResult {
    b.call(c, now, Attempts::Failures(n), None, &mut Vec::new())
}

fn succeed(b: &mut Breaker, c: &Config, now: u64) -> CallResult {
    b.call(c, now, Attempts::Success, None, &mut Vec::new())
}

#[test]
fn exactly_failure_threshold_consecutive_failures_open_it() {
    let c = cfg();
    let mut b = Breaker::default();
    for i in 1..5 {
        assert_eq!(
            fail(&mut b, &c, 0, 1),
            CallResult::Failed {
                state: StateName::Closed,
                failures: i
            }
        );
    }
    assert_eq!(
        fail(&mut b, &c, 0, 1),
        CallResult::Opened {
            failures: 5,
            rejected: 0
        }
    );
    assert_eq!(
        b.state(),
        State::Open {
            since: 0,
            period: 5000
        }
    );

    let mut b = Breaker::default();
    assert_eq!(
        fail(&mut b, &c, 0, 4),
        CallResult::Failed {
            state: StateName::Closed,
            failures: 4
        }
    );
    assert_eq!(
        b.state(),
        State::Closed,
        "one fewer than the threshold keeps it closed"
    );
}

#[test]
fn a_success_resets_the_consecutive_count() {
    let c = cfg();
    let mut b = Breaker::default();
    fail(&mut b, &c, 0, 4);
    assert_eq!(
        succeed(&mut b, &c, 1),
        CallResult::Ok {
            state: StateName::Closed
        }
    );
    assert_eq!(b.failures(), 0);
    assert_eq!(
        fail(&mut b, &c, 2, 4),
        CallResult::Failed {
            state: StateName::Closed,
            failures: 4
        }
    );
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn open_rejects_until_the_deadline_and_admits_a_probe_at_it() {
    let c = cfg();
    let mut b = Breaker::default();
    fail(&mut b, &c, 1000, 5);
    for now in [1000, 3000, 5999] {
        assert_eq!(
            succeed(&mut b, &c, now),
            CallResult::Rejected {
                state: StateName::Open
            }
        );
        assert_eq!(
            b.acquire(&c, now, 1, &mut Vec::new()),
            Err(Rejection {
                state: StateName::Open,
                retry_after_ms: Some(6000 - now)
            })
        );
    }
    let mut log = Vec::new();
    assert_eq!(
        b.acquire(&c, 6000, 7, &mut log),
        Ok(StateName::HalfOpen),
        "admitted as a probe at the deadline"
    );
    assert_eq!(
        log,
        vec![Transition {
            from: StateName::Open,
            to: StateName::HalfOpen,
            at: 6000,
            reason: Reason::OpenTimeoutElapsed { ms: 5000 }
        }]
    );
    assert_eq!(b.counts().rejections, 6);
}

#[test]
fn a_timed_transition_is_dated_at_its_deadline() {
    let c = cfg();
    let mut b = Breaker::default();
    fail(&mut b, &c, 0, 5);
    let mut log = Vec::new();
    b.settle(&c, 9000, &mut log);
    assert_eq!(log[0].at, 5000);
    assert_eq!(
        b.state(),
        State::HalfOpen {
            since: 5000,
            successes: 0
        }
    );
}

#[test]
fn half_open_admits_at_most_half_open_max_calls() {
    let c = Config {
        half_open_max_calls: 2,
        probe_timeout_ms: 1000,
        ..cfg()
    };
    let mut b = Breaker::default();
    b.set_state(&c, StateName::HalfOpen, 100, &mut Vec::new());
    assert_eq!(
        b.acquire(&c, 100, 1, &mut Vec::new()),
        Ok(StateName::HalfOpen)
    );
    assert_eq!(
        b.acquire(&c, 150, 2, &mut Vec::new()),
        Ok(StateName::HalfOpen)
    );
    let full = Rejection {
        state: StateName::HalfOpen,
        retry_after_ms: Some(900),
    };
    assert_eq!(
        b.acquire(&c, 200, 3, &mut Vec::new()),
        Err(full),
        "retry when the oldest lease expires"
    );
    assert_eq!(
        succeed(&mut b, &c, 200),
        CallResult::Rejected {
            state: StateName::HalfOpen
        }
    );
    // Recording one frees its slot.
    let r = b.record(&c, 300, 1, Outcome::Ignored, None, &mut Vec::new());
    assert_eq!(
        r,
        Recorded {
            state: StateName::HalfOpen,
            stale: false,
            transition: None
        }
    );
    assert_eq!(
        b.acquire(&c, 300, 4, &mut Vec::new()),
        Ok(StateName::HalfOpen)
    );
}

#[test]
fn a_failed_probe_reopens_with_a_fresh_period() {
    let c = cfg();
    let mut b = Breaker::default();
    fail(&mut b, &c, 0, 5);
    b.acquire(&c, 5000, 1, &mut Vec::new()).unwrap();
    let r = b.record(&c, 5200, 1, Outcome::Failure, None, &mut Vec::new());
    let t = Transition {
        from: StateName::HalfOpen,
        to: StateName::Open,
        at: 5200,
        reason: Reason::ProbeFailed,
    };
    assert_eq!(
        r,
        Recorded {
            state: StateName::Open,
            stale: false,
            transition: Some(t)
        }
    );
    assert_eq!(
        b.state(),
        State::Open {
            since: 5200,
            period: 5000
        }
    );
    assert_eq!(b.counts().opened, 2);
    // The fixture form: the probe fails and the rest of the attempts are rejected.
    let mut b = Breaker::default();
    b.set_state(&c, StateName::HalfOpen, 0, &mut Vec::new());
    assert_eq!(
        fail(&mut b, &c, 10, 3),
        CallResult::Opened {
            failures: 1,
            rejected: 2
        }
    );
    assert_eq!(
        b.state(),
        State::Open {
            since: 10,
            period: 5000
        }
    );
}

#[test]
fn success_threshold_probes_close_it_with_counters_reset() {
    let c = Config {
        success_threshold: 3,
        ..cfg()
    };
    let mut b = Breaker::default();
    fail(&mut b, &c, 0, 5);
    assert_eq!(b.failures(), 5);
    assert_eq!(
        succeed(&mut b, &c, 5000),
        CallResult::Ok {
            state: StateName::HalfOpen
        }
    );
    assert_eq!(
        succeed(&mut b, &c, 5001),
        CallResult::Ok {
            state: StateName::HalfOpen
        }
    );
    let mut log = Vec::new();
    assert_eq!(
        b.call(&c, 5002, Attempts::Success, None, &mut log),
        CallResult::Closed
    );
    assert_eq!(
        log.last().unwrap().reason,
        Reason::ProbesSucceeded {
            successes: 3,
            threshold: 3
        }
    );
    assert_eq!((b.state(), b.failures(), b.trips()), (State::Closed, 0, 0));
}

#[test]
fn a_record_after_a_state_change_is_stale() {
    let c = cfg();
    let mut b = Breaker::default();
    b.acquire(&c, 0, 1, &mut Vec::new()).unwrap();
    b.acquire(&c, 0, 2, &mut Vec::new()).unwrap();
    fail(&mut b, &c, 1, 5);
    let r = b.record(&c, 2, 1, Outcome::Success, None, &mut Vec::new());
    assert_eq!(
        r,
        Recorded {
            state: StateName::Open,
            stale: true,
            transition: None
        }
    );
    // Recorded twice: the second is stale.
    let mut b = Breaker::default();
    b.acquire(&c, 0, 3, &mut Vec::new()).unwrap();
    assert!(
        !b.record(&c, 1, 3, Outcome::Failure, None, &mut Vec::new())
            .stale
    );
    assert!(
        b.record(&c, 1, 3, Outcome::Failure, None, &mut Vec::new())
            .stale
    );
    assert_eq!(b.failures(), 1, "a stale record counts nothing");
}

#[test]
fn four_billion_forced_failures_cost_nothing_more_than_five() {
    let c = cfg();
    let mut b = Breaker::default();
    assert_eq!(
        fail(&mut b, &c, 0, 4_000_000_000),
        CallResult::Opened {
            failures: 5,
            rejected: 3_999_999_995
        }
    );
    assert_eq!(
        b.counts(),
        Counts {
            successes: 0,
            failures: 5,
            rejections: 3_999_999_995,
            opened: 1
        }
    );
}

#[test]
fn an_unrecorded_probe_lease_expires_as_a_failed_probe() {
    let c = Config {
        probe_timeout_ms: 1000,
        ..cfg()
    };
    let mut b = Breaker::default();
    b.set_state(&c, StateName::HalfOpen, 0, &mut Vec::new());
    b.acquire(&c, 10, 1, &mut Vec::new()).unwrap();
    assert_eq!(b.view(&c, 1009).state, StateName::HalfOpen);
    let mut log = Vec::new();
    b.settle(&c, 1010, &mut log);
    assert_eq!(
        log,
        vec![Transition {
            from: StateName::HalfOpen,
            to: StateName::Open,
            at: 1010,
            reason: Reason::ProbeLeaseExpired { ms: 1000 }
        }]
    );
    assert_eq!(
        b.state(),
        State::Open {
            since: 1010,
            period: 5000
        }
    );
    assert!(
        b.record(&c, 1020, 1, Outcome::Success, None, &mut Vec::new())
            .stale,
        "its late record is stale"
    );
    // Long after: expired, opened, and half_open again, each at its own deadline.
    let mut b = Breaker::default();
    b.set_state(&c, StateName::HalfOpen, 0, &mut Vec::new());
    b.acquire(&c, 0, 1, &mut Vec::new()).unwrap();
    let mut log = Vec::new();
    b.settle(&c, 100_000, &mut log);
    assert_eq!(
        log.iter().map(|t| t.at).collect::<Vec<_>>(),
        vec![1000, 6000]
    );
    assert_eq!(
        b.state(),
        State::HalfOpen {
            since: 6000,
            successes: 0
        }
    );
}

#[test]
fn forced_modes_override_the_state_machine() {
    let c = cfg();
    let mut b = Breaker::default();
    b.force(&c, ForceMode::Open, 0, &mut Vec::new());
    assert_eq!(
        b.acquire(&c, 1_000_000, 1, &mut Vec::new()),
        Err(Rejection {
            state: StateName::Open,
            retry_after_ms: None
        })
    );
    assert_eq!(
        b.view(&c, u64::MAX).state,
        StateName::Open,
        "forced open never times out"
    );
    b.force(&c, ForceMode::Closed, 1, &mut Vec::new());
    assert_eq!(
        fail(&mut b, &c, 2, 100),
        CallResult::Failed {
            state: StateName::Closed,
            failures: 0
        }
    );
    assert_eq!(b.state(), State::Closed);
    b.force(&c, ForceMode::Auto, 3, &mut Vec::new());
    assert_eq!(
        fail(&mut b, &c, 4, 5),
        CallResult::Opened {
            failures: 5,
            rejected: 0
        }
    );
}

#[test]
fn a_lowered_threshold_applies_from_the_next_failure() {
    let mut b = Breaker::default();
    fail(&mut b, &cfg(), 0, 4);
    let lower = Config {
        failure_threshold: 2,
        ..cfg()
    };
    assert_eq!(
        fail(&mut b, &lower, 1, 3),
        CallResult::Opened {
            failures: 5,
            rejected: 2
        }
    );
}
