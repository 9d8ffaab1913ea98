//! The breaker's settings: one struct with documented defaults, validated once at the border.

/// The largest integer JavaScript keeps exact (2^53 − 1): the upper bound of every count and time.
pub const MAX_SAFE: u64 = (1 << 53) - 1;

/// Settings of one breaker. Every field is an integer in `1..=MAX_SAFE`.
///
/// The defaults are the consecutive-failures policy of the protocol (§3): five failures in a row
/// open the breaker for five seconds, then one probe decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Consecutive failures that open a closed breaker. Default 5.
    pub failure_threshold: u64,
    /// How long an open breaker rejects before it admits a probe. Default 5000.
    pub open_timeout_ms: u64,
    /// Probes admitted at once in half_open. Default 1.
    pub half_open_max_calls: u64,
    /// Successful probes that close a half_open breaker. Default 1.
    pub success_threshold: u64,
    /// A half_open permit is a lease: unrecorded after this long, it counts as a failed probe.
    /// Default 10000.
    pub probe_timeout_ms: u64,
    /// The most breakers a node tracks at once (a node-wide setting). Default 100000.
    pub max_services: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            failure_threshold: 5,
            open_timeout_ms: 5000,
            half_open_max_calls: 1,
            success_threshold: 1,
            probe_timeout_ms: 10_000,
            max_services: 100_000,
        }
    }
}

/// The fields of [`Config`], in wire order, with the setter each one uses.
pub const FIELDS: [Field; 6] = [
    Field::FailureThreshold,
    Field::OpenTimeoutMs,
    Field::HalfOpenMaxCalls,
    Field::SuccessThreshold,
    Field::ProbeTimeoutMs,
    Field::MaxServices,
];

/// One settable field of [`Config`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    FailureThreshold,
    OpenTimeoutMs,
    HalfOpenMaxCalls,
    SuccessThreshold,
    ProbeTimeoutMs,
    MaxServices,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::FailureThreshold => "failure_threshold",
            Field::OpenTimeoutMs => "open_timeout_ms",
            Field::HalfOpenMaxCalls => "half_open_max_calls",
            Field::SuccessThreshold => "success_threshold",
            Field::ProbeTimeoutMs => "probe_timeout_ms",
            Field::MaxServices => "max_services",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        FIELDS.into_iter().find(|f| f.name() == name)
    }

    /// Whether the field belongs to the node as a whole rather than to one service.
    pub fn node_wide(self) -> bool {
        self == Field::MaxServices
    }

    pub fn get(self, config: &Config) -> u64 {
        match self {
            Field::FailureThreshold => config.failure_threshold,
            Field::OpenTimeoutMs => config.open_timeout_ms,
            Field::HalfOpenMaxCalls => config.half_open_max_calls,
            Field::SuccessThreshold => config.success_threshold,
            Field::ProbeTimeoutMs => config.probe_timeout_ms,
            Field::MaxServices => config.max_services,
        }
    }

    fn slot(self, config: &mut Config) -> &mut u64 {
        match self {
            Field::FailureThreshold => &mut config.failure_threshold,
            Field::OpenTimeoutMs => &mut config.open_timeout_ms,
            Field::HalfOpenMaxCalls => &mut config.half_open_max_calls,
            Field::SuccessThreshold => &mut config.success_threshold,
            Field::ProbeTimeoutMs => &mut config.probe_timeout_ms,
            Field::MaxServices => &mut config.max_services,
        }
    }
}

/// Why a value was refused; the wire layer names the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: expected an integer from 1 to {MAX_SAFE}", field = .0.name())]
pub struct OutOfRange(pub Field);

/// A partial config: the fields one `configure` set. `None` leaves a field to the layer below
/// (an override to the defaults, the defaults to the built-in values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Patch {
    values: [Option<u64>; FIELDS.len()],
}

impl Patch {
    /// Sets `field` (`Some`) or clears it back to the layer below (`None`).
    pub fn set(&mut self, field: Field, value: Option<u64>) -> Result<(), OutOfRange> {
        if let Some(v) = value
            && !(1..=MAX_SAFE).contains(&v)
        {
            return Err(OutOfRange(field));
        }
        self.values[field as usize] = value;
        Ok(())
    }

    pub fn get(&self, field: Field) -> Option<u64> {
        self.values[field as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.values.iter().all(Option::is_none)
    }

    /// This patch with `later` applied on top (RFC 7386 merge: a field `later` clears is cleared).
    pub fn merged(&self, later: &Patch, cleared: &[Field]) -> Patch {
        let mut out = *self;
        for field in FIELDS {
            if let Some(v) = later.get(field) {
                out.values[field as usize] = Some(v);
            }
        }
        for &field in cleared {
            out.values[field as usize] = None;
        }
        out
    }

    /// `base` with this patch's fields written over it.
    pub fn apply(&self, base: &Config) -> Config {
        let mut out = *base;
        for field in FIELDS {
            if let Some(v) = self.get(field) {
                *field.slot(&mut out) = v;
            }
        }
        out
    }

    /// The set fields, in wire order.
    pub fn fields(&self) -> impl Iterator<Item = (Field, u64)> + '_ {
        FIELDS.into_iter().filter_map(|f| self.get(f).map(|v| (f, v)))
    }
}
