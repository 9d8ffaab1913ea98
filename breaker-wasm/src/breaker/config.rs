//! The breaker's settings: one struct with documented defaults, validated once at the border.

use super::StateName;

/// The largest integer JavaScript keeps exact (2^53 − 1): the upper bound of every count and time.
pub const MAX_SAFE: u64 = (1 << 53) - 1;

/// The largest count window: its calls are kept (two bits each), so its size is bounded.
pub const MAX_WINDOW_SIZE: u64 = 100_000;

/// A decimal number with three places, as thousandths: `Milli(12_500)` is 12.5. Rates, the
/// backoff multiplier and the jitter are fixed-point, so every host computes with them exactly
/// and no float formatting or parsing is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Milli(pub u64);

impl Milli {
    pub const ONE: Milli = Milli(1000);
}

/// How failures are judged while closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// `failure_threshold` consecutive failures open the breaker.
    Consecutive,
    /// Over the last `size` recorded calls, once at least `minimum_calls` are in the window, the
    /// breaker opens when the failure percentage reaches `failure_rate` (or the slow percentage
    /// reaches `slow_call_rate`).
    Count {
        size: u64,
        minimum_calls: u64,
        failure_rate: Milli,
    },
    /// The same over the calls of the last `size_ms` milliseconds, kept in buckets.
    Time {
        size_ms: u64,
        minimum_calls: u64,
        failure_rate: Milli,
    },
}

impl Window {
    pub const COUNT_DEFAULT: Window = Window::Count {
        size: 100,
        minimum_calls: 100,
        failure_rate: Milli(50_000),
    };
    pub const TIME_DEFAULT: Window = Window::Time {
        size_ms: 60_000,
        minimum_calls: 100,
        failure_rate: Milli(50_000),
    };
}

/// How the open period grows when a breaker re-opens from half_open without closing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Each re-open multiplies the open period by this (≥ 1).
    pub multiplier: Milli,
    /// The longest open period.
    pub max_open_ms: u64,
    /// Every open period is multiplied by a factor in [1 − jitter, 1 + jitter] (0 ≤ jitter ≤ 1)
    /// that depends only on the service name and the trip count.
    pub jitter: Milli,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            multiplier: Milli::ONE,
            max_open_ms: 300_000,
            jitter: Milli(0),
        }
    }
}

/// Settings of one breaker. The defaults are the consecutive-failures policy of the protocol
/// (§3): five failures in a row open the breaker for five seconds, then one probe decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Consecutive failures that open a closed breaker (consecutive window). Default 5.
    pub failure_threshold: u64,
    /// How long an open breaker rejects before it admits a probe. Default 5000.
    pub open_timeout_ms: u64,
    /// Probes admitted at once in half_open. Default 1.
    pub half_open_max_calls: u64,
    /// Successful probes that close a half_open breaker. Default 1.
    pub success_threshold: u64,
    /// How failures are judged while closed. Default: consecutive.
    pub window: Window,
    /// A call at least this long is slow; `None` (the default) turns slow-call detection off.
    pub slow_call_ms: Option<u64>,
    /// Under a window, the slow percentage that opens the breaker. Default 100.
    pub slow_call_rate: Milli,
    /// A half_open permit is a lease: unrecorded after this long, it counts as a failed probe.
    /// Default 10000.
    pub probe_timeout_ms: u64,
    /// Growth of the open period on repeated trips. Default: none.
    pub backoff: Backoff,
    /// The most breakers a node tracks at once (a node-wide setting). Default 100000.
    pub max_services: u64,
    /// Counts, judges and transitions as usual but never rejects: a call the breaker would
    /// reject is admitted (and counted in `rejections`) without being judged. A forced-open
    /// breaker still rejects. Default false.
    pub metrics_only: bool,
    /// The longest a breaker stays half_open, probes in flight or not; `None` (the default)
    /// sets no limit. When it runs out the breaker goes to `half_open_expiry`.
    pub half_open_max_ms: Option<u64>,
    /// Where a breaker goes when `half_open_max_ms` runs out: open (the default, a new open
    /// period) or closed.
    pub half_open_expiry: StateName,
    /// What `half_open_max_calls` counts: probes in flight at once (the default) or probes
    /// admitted in one half_open period in total.
    pub half_open_budget: HalfOpenBudget,
    /// When set, half_open is judged by rate: `half_open_max_calls` trial calls are admitted
    /// per half_open period and, once all are recorded, the breaker re-opens if the failure
    /// percentage reaches this (or the slow percentage reaches `slow_call_rate`), else closes.
    /// `None` (the default): the first failed probe re-opens it.
    pub half_open_failure_rate: Option<Milli>,
    /// While closed, the counts (consecutive failures, the window) are cleared at every
    /// multiple of this many milliseconds on the clock, each clear a new generation
    /// (outstanding permits go stale). `None` (the default): never.
    pub interval_ms: Option<u64>,
    /// The state a breaker starts in when it is created (first traffic, or an operator action
    /// naming it): closed (the default), open (a first open period) or half_open.
    pub initial_state: StateName,
}

/// What `half_open_max_calls` limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HalfOpenBudget {
    /// Probes outstanding at once; a recorded probe frees its slot.
    InFlight,
    /// Probes admitted in one half_open period, recorded or not; an `ignored` one gives its slot
    /// back, and with no probe outstanding there is always a slot (so a config change cannot
    /// leave a breaker stuck). `success_threshold` above `half_open_max_calls` counts as
    /// `half_open_max_calls`.
    Period,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            failure_threshold: 5,
            open_timeout_ms: 5000,
            half_open_max_calls: 1,
            success_threshold: 1,
            window: Window::Consecutive,
            slow_call_ms: None,
            slow_call_rate: Milli(100_000),
            probe_timeout_ms: 10_000,
            backoff: Backoff::default(),
            max_services: 100_000,
            metrics_only: false,
            half_open_max_ms: None,
            half_open_expiry: StateName::Open,
            half_open_budget: HalfOpenBudget::InFlight,
            half_open_failure_rate: None,
            interval_ms: None,
            initial_state: StateName::Closed,
        }
    }
}

impl Config {
    /// Whether a call that took `duration_ms` is slow.
    pub fn is_slow(&self, duration_ms: Option<u64>) -> bool {
        matches!((self.slow_call_ms, duration_ms), (Some(limit), Some(d)) if d >= limit)
    }

    /// The successful probes that close a half_open breaker: `success_threshold`, at most
    /// `half_open_max_calls` under a per-period budget (more could never be admitted).
    /// Whether `half_open_max_calls` is a budget per half_open period (a per-period budget, or
    /// a half_open judged by rate).
    pub fn budget_per_period(&self) -> bool {
        self.half_open_budget == HalfOpenBudget::Period || self.half_open_failure_rate.is_some()
    }

    pub fn probes_to_close(&self) -> u64 {
        match self.half_open_budget {
            HalfOpenBudget::InFlight => self.success_threshold,
            HalfOpenBudget::Period => self.success_threshold.min(self.half_open_max_calls),
        }
    }
}

/// The fields of [`Config`], in wire order. The fields after `max_services` are written in a
/// config object only when they differ from their default, so the objects of a node that does
/// not use them are those of the protocol's first version.
pub const FIELDS: [Field; 17] = [
    Field::FailureThreshold,
    Field::OpenTimeoutMs,
    Field::HalfOpenMaxCalls,
    Field::SuccessThreshold,
    Field::Window,
    Field::SlowCallMs,
    Field::SlowCallRate,
    Field::ProbeTimeoutMs,
    Field::Backoff,
    Field::MaxServices,
    Field::MetricsOnly,
    Field::HalfOpenMaxMs,
    Field::HalfOpenExpiry,
    Field::HalfOpenBudget,
    Field::HalfOpenFailureRate,
    Field::IntervalMs,
    Field::InitialState,
];

/// One settable field of [`Config`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    FailureThreshold,
    OpenTimeoutMs,
    HalfOpenMaxCalls,
    SuccessThreshold,
    Window,
    SlowCallMs,
    SlowCallRate,
    ProbeTimeoutMs,
    Backoff,
    MaxServices,
    MetricsOnly,
    HalfOpenMaxMs,
    HalfOpenExpiry,
    HalfOpenBudget,
    HalfOpenFailureRate,
    IntervalMs,
    InitialState,
}

/// The value of one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// A count or a time in milliseconds.
    Int(u64),
    /// A time that can be off (`slow_call_ms`).
    OptInt(Option<u64>),
    /// A percentage.
    Rate(Milli),
    Window(Window),
    Backoff(Backoff),
    /// An on/off switch.
    Flag(bool),
    /// A state a breaker goes to (`half_open_expiry`: open or closed).
    Target(StateName),
    Budget(HalfOpenBudget),
    /// A percentage that can be off (`half_open_failure_rate`).
    OptRate(Option<Milli>),
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::FailureThreshold => "failure_threshold",
            Field::OpenTimeoutMs => "open_timeout_ms",
            Field::HalfOpenMaxCalls => "half_open_max_calls",
            Field::SuccessThreshold => "success_threshold",
            Field::Window => "window",
            Field::SlowCallMs => "slow_call_ms",
            Field::SlowCallRate => "slow_call_rate",
            Field::ProbeTimeoutMs => "probe_timeout_ms",
            Field::Backoff => "backoff",
            Field::MaxServices => "max_services",
            Field::MetricsOnly => "metrics_only",
            Field::HalfOpenMaxMs => "half_open_max_ms",
            Field::HalfOpenExpiry => "half_open_expiry",
            Field::HalfOpenBudget => "half_open_budget",
            Field::HalfOpenFailureRate => "half_open_failure_rate",
            Field::IntervalMs => "interval_ms",
            Field::InitialState => "initial_state",
        }
    }

    /// Whether a full config object leaves the field out at its default value (a field added
    /// after the protocol's first version).
    pub fn optional_in_objects(self) -> bool {
        (self as usize) > Field::MaxServices as usize
    }

    pub fn from_name(name: &str) -> Option<Field> {
        FIELDS.into_iter().find(|f| f.name() == name)
    }

    /// Whether the field belongs to the node as a whole rather than to one service.
    pub fn node_wide(self) -> bool {
        self == Field::MaxServices
    }

    pub fn get(self, c: &Config) -> Setting {
        match self {
            Field::FailureThreshold => Setting::Int(c.failure_threshold),
            Field::OpenTimeoutMs => Setting::Int(c.open_timeout_ms),
            Field::HalfOpenMaxCalls => Setting::Int(c.half_open_max_calls),
            Field::SuccessThreshold => Setting::Int(c.success_threshold),
            Field::Window => Setting::Window(c.window),
            Field::SlowCallMs => Setting::OptInt(c.slow_call_ms),
            Field::SlowCallRate => Setting::Rate(c.slow_call_rate),
            Field::ProbeTimeoutMs => Setting::Int(c.probe_timeout_ms),
            Field::Backoff => Setting::Backoff(c.backoff),
            Field::MaxServices => Setting::Int(c.max_services),
            Field::MetricsOnly => Setting::Flag(c.metrics_only),
            Field::HalfOpenMaxMs => Setting::OptInt(c.half_open_max_ms),
            Field::HalfOpenExpiry => Setting::Target(c.half_open_expiry),
            Field::HalfOpenBudget => Setting::Budget(c.half_open_budget),
            Field::HalfOpenFailureRate => Setting::OptRate(c.half_open_failure_rate),
            Field::IntervalMs => Setting::OptInt(c.interval_ms),
            Field::InitialState => Setting::Target(c.initial_state),
        }
    }

    /// Writes `value` into `c`; a value of the wrong kind for the field is ignored (the decoder
    /// only builds matching ones).
    fn set(self, c: &mut Config, value: Setting) {
        match (self, value) {
            (Field::FailureThreshold, Setting::Int(v)) => c.failure_threshold = v,
            (Field::OpenTimeoutMs, Setting::Int(v)) => c.open_timeout_ms = v,
            (Field::HalfOpenMaxCalls, Setting::Int(v)) => c.half_open_max_calls = v,
            (Field::SuccessThreshold, Setting::Int(v)) => c.success_threshold = v,
            (Field::Window, Setting::Window(w)) => c.window = w,
            (Field::SlowCallMs, Setting::OptInt(v)) => c.slow_call_ms = v,
            (Field::SlowCallRate, Setting::Rate(v)) => c.slow_call_rate = v,
            (Field::ProbeTimeoutMs, Setting::Int(v)) => c.probe_timeout_ms = v,
            (Field::Backoff, Setting::Backoff(b)) => c.backoff = b,
            (Field::MaxServices, Setting::Int(v)) => c.max_services = v,
            (Field::MetricsOnly, Setting::Flag(v)) => c.metrics_only = v,
            (Field::HalfOpenMaxMs, Setting::OptInt(v)) => c.half_open_max_ms = v,
            (Field::HalfOpenExpiry, Setting::Target(v)) => c.half_open_expiry = v,
            (Field::HalfOpenBudget, Setting::Budget(v)) => c.half_open_budget = v,
            (Field::HalfOpenFailureRate, Setting::OptRate(v)) => c.half_open_failure_rate = v,
            (Field::IntervalMs, Setting::OptInt(v)) => c.interval_ms = v,
            (Field::InitialState, Setting::Target(v)) => c.initial_state = v,
            _ => {}
        }
    }
}

/// A partial config: the fields one layer sets. `None` leaves a field to the layer below (an
/// override to the defaults, the defaults to the built-in values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Patch {
    values: [Option<Setting>; FIELDS.len()],
}

impl Patch {
    /// A patch that sets every field to its value in `c`.
    pub fn full(c: &Config) -> Patch {
        Patch {
            values: FIELDS.map(|f| Some(f.get(c))),
        }
    }

    /// Sets `field` (`Some`) or clears it back to the layer below (`None`).
    pub fn set(&mut self, field: Field, value: Option<Setting>) {
        self.values[field as usize] = value;
    }

    pub fn get(&self, field: Field) -> Option<Setting> {
        self.values[field as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.values.iter().all(Option::is_none)
    }

    /// This patch with `later` applied on top and the `cleared` fields removed (RFC 7386 merge).
    pub fn merged(&self, later: &Patch, cleared: &[Field]) -> Patch {
        let mut out = *self;
        for field in FIELDS {
            if let Some(v) = later.get(field) {
                out.set(field, Some(v));
            }
        }
        for &field in cleared {
            out.set(field, None);
        }
        out
    }

    /// `base` with this patch's fields written over it.
    pub fn apply(&self, base: &Config) -> Config {
        let mut out = *base;
        for (field, value) in self.fields() {
            field.set(&mut out, value);
        }
        out
    }

    /// The set fields, in wire order.
    pub fn fields(&self) -> impl Iterator<Item = (Field, Setting)> + '_ {
        FIELDS
            .into_iter()
            .filter_map(|f| self.get(f).map(|v| (f, v)))
    }
}
