//! The node: breakers by name, config layers, snapshots, the bound. Typed requests, fake clock.

use super::*;
use crate::breaker::{Attempts, CallResult, Field, ForceMode, StateName, View};

fn call<'a>(service: &'a str, failures: u64) -> Request<'a> {
    let attempts = if failures == 0 {
        Attempts::Success
    } else {
        Attempts::Failures(failures)
    };
    Request::Call {
        service,
        fixture: CallFixture {
            state: None,
            attempts,
            duration_ms: None,
            uses_fixtures: true,
        },
        error: None,
    }
}

fn change(fields: &[(Field, u64)]) -> ConfigChange {
    let mut change = ConfigChange::default();
    for &(f, v) in fields {
        change.set.set(f, Some(crate::breaker::Setting::Int(v)));
    }
    change
}

#[test]
fn services_are_independent() {
    let mut node = Node::new(Options::default());
    node.handle(0, &call("a", 5));
    node.handle(0, &call("b", 4));
    assert_eq!(node.view("a").state, StateName::Open);
    assert_eq!(node.view("b").state, StateName::Closed);
    assert_eq!(node.view("b").failures, 4);
    assert_eq!(
        node.handle(1, &call("b", 0)),
        Reply::Call {
            service: "b",
            result: CallResult::Ok {
                state: StateName::Closed
            },
            last_failure: None,
        }
    );
    assert_eq!(node.view("a").state, StateName::Open);
    assert_eq!(node.len(), 2);
}

#[test]
fn status_of_an_unknown_service_creates_nothing() {
    let mut node = Node::new(Options::default());
    let reply = node.handle(
        0,
        &Request::Status {
            service: Some("ghost"),
        },
    );
    assert!(matches!(
        reply,
        Reply::Status {
            view: View {
                state: StateName::Closed,
                ..
            },
            ..
        }
    ));
    node.handle(
        0,
        &Request::Reset {
            service: Some("ghost"),
        },
    );
    assert!(node.is_empty());
}

#[test]
fn snapshot_and_restore_resume_the_same_countdown() {
    let mut node = Node::new(Options::default());
    node.handle(10_000, &call("db", 5)); // open until 15000
    let image = node.snapshot();
    assert_eq!(image.now_ms, 10_000);

    // Restored at a later time: 2 s have passed on the real clock.
    let mut later = Node::new(Options::default());
    later.handle(12_000, &Request::Init);
    assert_eq!(later.restore(&image), Ok(1));
    assert_eq!(later.view("db").retry_after_ms, Some(3000));

    // Restored under a clock that is behind (a manual clock at 0): the remaining 5 s are kept.
    let mut behind = Node::new(Options {
        manual_clock: true,
        fixtures: true,
        fleet: false,
    });
    assert_eq!(behind.restore(&image), Ok(1));
    assert_eq!(behind.view("db").retry_after_ms, Some(5000));
    behind.handle(0, &Request::AdvanceClock { ms: 4999 });
    assert_eq!(behind.view("db").state, StateName::Open);
    behind.handle(0, &Request::AdvanceClock { ms: 1 });
    assert_eq!(behind.view("db").state, StateName::HalfOpen);

    // The restored node answers exactly like the original from then on.
    let mut a = Node::new(Options::default());
    assert_eq!(
        a.handle(10_000, &Request::Restore(Box::new(image.clone()))),
        Reply::RestoreOk { services: 1 }
    );
    for (now, n) in [(15_000, 0), (15_001, 3), (20_001, 0), (20_002, 1)] {
        assert_eq!(
            node.handle(now, &call("db", n)),
            a.handle(now, &call("db", n))
        );
    }
    assert_eq!(node.snapshot(), a.snapshot());
}

#[test]
fn an_invalid_snapshot_changes_nothing() {
    let mut node = Node::new(Options::default());
    node.handle(0, &call("db", 5));
    let mut image = node.snapshot();
    image.breakers.push(image.breakers[0].clone());
    let before = node.snapshot();
    assert!(matches!(
        node.restore(&image),
        Err(ImageError::Duplicate { .. })
    ));
    assert_eq!(node.snapshot(), before);
}

#[test]
fn overrides_hold_only_their_fields_and_follow_later_defaults() {
    let mut node = Node::new(Options::default());
    node.handle(
        0,
        &Request::Configure {
            service: Some("db"),
            change: change(&[(Field::FailureThreshold, 2)]),
        },
    );
    node.handle(
        0,
        &Request::Configure {
            service: None,
            change: change(&[(Field::OpenTimeoutMs, 100), (Field::FailureThreshold, 9)]),
        },
    );
    let db = node.config_for("db");
    assert_eq!((db.failure_threshold, db.open_timeout_ms), (2, 100));
    assert_eq!(node.config_for("other").failure_threshold, 9);
    // A second configure patches the override; null (cleared) hands a field back to the defaults.
    node.handle(
        0,
        &Request::Configure {
            service: Some("db"),
            change: change(&[(Field::SuccessThreshold, 3)]),
        },
    );
    assert_eq!(node.config_for("db").failure_threshold, 2);
    let clear = ConfigChange {
        set: Patch::default(),
        cleared: vec![Field::FailureThreshold],
    };
    node.handle(
        0,
        &Request::Configure {
            service: Some("db"),
            change: clear,
        },
    );
    assert_eq!(
        (
            node.config_for("db").failure_threshold,
            node.config_for("db").success_threshold
        ),
        (9, 3)
    );
    // max_services belongs to the node.
    let reply = node.handle(
        0,
        &Request::Configure {
            service: Some("db"),
            change: change(&[(Field::MaxServices, 5)]),
        },
    );
    assert!(matches!(reply, Reply::Refused(_)));
}

#[test]
fn the_bound_is_hard_and_open_breakers_outlive_closed_ones() {
    let mut node = Node::new(Options::default());
    node.handle(
        0,
        &Request::Configure {
            service: None,
            change: change(&[(Field::MaxServices, 100)]),
        },
    );
    for i in 0..10 {
        node.handle(0, &call(&format!("open-{i}"), 5));
    }
    for i in 0..10_000 {
        node.handle(1, &call(&format!("s{i}"), 0));
        assert!(node.len() <= 100);
    }
    for i in 0..10 {
        assert_eq!(
            node.view(&format!("open-{i}")).state,
            StateName::Open,
            "open-{i} was forgotten"
        );
    }
    let Reply::StatusAll { services, evicted } = node.handle(2, &Request::Status { service: None })
    else {
        panic!()
    };
    assert_eq!((services.len(), evicted), (100, 9910));
    assert!(
        services.windows(2).all(|w| w[0].service < w[1].service),
        "sorted by name"
    );
}

#[test]
fn events_keep_the_last_thousand_in_order() {
    let mut node = Node::new(Options::default());
    for i in 0..600 {
        node.handle(i, &call("flappy", 5));
        node.handle(
            i,
            &Request::Force {
                service: Some("flappy"),
                mode: ForceMode::Auto,
            },
        );
    }
    let Reply::Events(events) = node.handle(
        1000,
        &Request::Events {
            service: None,
            after: 0,
            settle: true,
        },
    ) else {
        panic!()
    };
    assert_eq!(events.len(), MAX_EVENTS);
    assert_eq!((events[0].seq, events[999].seq), (201, 1200));
    let Reply::Events(newer) = node.handle(
        1000,
        &Request::Events {
            service: None,
            after: 1198,
            settle: true,
        },
    ) else {
        panic!()
    };
    assert_eq!(
        newer.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1199, 1200]
    );
    let Reply::Events(none) = node.handle(
        1000,
        &Request::Events {
            service: Some("other"),
            after: 0,
            settle: true,
        },
    ) else {
        panic!()
    };
    assert!(none.is_empty());
}

#[test]
fn events_show_timed_transitions_at_their_deadline() {
    let mut node = Node::new(Options::default());
    node.handle(100, &call("db", 5));
    let Reply::Events(events) = node.handle(
        60_000,
        &Request::Events {
            service: Some("db"),
            after: 0,
            settle: true,
        },
    ) else {
        panic!()
    };
    assert_eq!(
        events.iter().map(|e| (e.at, e.to)).collect::<Vec<_>>(),
        vec![(100, StateName::Open), (5100, StateName::HalfOpen)]
    );
}

#[test]
fn time_never_goes_backwards() {
    let mut node = Node::new(Options::default());
    node.handle(10_000, &call("db", 5));
    node.handle(1, &Request::Init);
    assert_eq!(node.now(), 10_000);
    assert_eq!(node.view("db").retry_after_ms, Some(5000));
}

#[test]
fn fixtures_can_be_switched_off_for_good() {
    let mut node = Node::new(Options {
        manual_clock: false,
        fixtures: false,
        fleet: false,
    });
    assert!(matches!(node.handle(0, &call("db", 5)), Reply::Refused(_)));
    let force = Request::Force {
        service: None,
        mode: ForceMode::Closed,
    };
    assert!(matches!(node.handle(0, &force), Reply::Refused(_)));
    let plain = Request::Call {
        service: "db",
        fixture: CallFixture {
            state: None,
            attempts: Attempts::Success,
            duration_ms: None,
            uses_fixtures: false,
        },
        error: None,
    };
    assert!(matches!(node.handle(0, &plain), Reply::Call { .. }));
}

#[test]
fn a_snapshot_taken_at_the_end_of_time_restores() {
    let mut node = Node::new(Options {
        manual_clock: true,
        fixtures: true,
        fleet: false,
    });
    node.handle(0, &Request::AdvanceClock { ms: u64::MAX });
    let open = Request::Call {
        service: "db",
        fixture: CallFixture {
            state: Some(StateName::Open),
            attempts: Attempts::Failures(1),
            duration_ms: None,
            uses_fixtures: true,
        },
        error: None,
    };
    node.handle(0, &open);
    node.handle(0, &call("db", 1));
    let image = node.snapshot();
    let mut other = Node::new(Options {
        manual_clock: true,
        fixtures: true,
        fleet: false,
    });
    other.handle(0, &Request::AdvanceClock { ms: u64::MAX });
    assert_eq!(
        other.handle(0, &Request::Restore(Box::new(image.clone()))),
        Reply::RestoreOk { services: 1 }
    );
    assert_eq!(other.snapshot(), image);
}

#[test]
fn a_snapshot_lists_the_overrides_in_name_order_and_a_restore_keeps_them() {
    let mut node = Node::new(Options::default());
    let names = ["m", "b", "zz", "a", "é", "B", "ab"];
    for (i, name) in (1..).zip(names) {
        let change = change(&[(Field::FailureThreshold, i)]);
        let configure = Request::Configure {
            service: Some(name),
            change,
        };
        node.handle(0, &configure);
    }
    let image = node.snapshot();
    let listed: Vec<&str> = image.overrides.iter().map(|(n, _)| &**n).collect();
    assert_eq!(listed, ["B", "a", "ab", "b", "m", "zz", "é"]);
    let mut restored = Node::new(Options::default());
    restored.restore(&image).unwrap();
    for (i, name) in (1..).zip(names) {
        assert_eq!(restored.config_for(name).failure_threshold, i, "{name}");
    }
    assert_eq!(restored.snapshot().overrides, image.overrides);
}
