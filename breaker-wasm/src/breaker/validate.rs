//! Which values each setting takes: every range of [`Config`] in one place, refused with a
//! typed [`ConfigError`] that names the setting and the rule. The wire names the setting by its
//! JSON path; nothing here knows JSON.

use super::config::{
    Backoff, Config, FIELDS, Field, MAX_SAFE, MAX_WINDOW_SIZE, Milli, Setting, Window,
};

/// One setting of [`Config`], down to the fields of `window` and `backoff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A top-level field that holds one value.
    Field(Field),
    WindowSize,
    WindowSizeMs,
    WindowMinimumCalls,
    WindowFailureRate,
    BackoffMultiplier,
    BackoffMaxOpenMs,
    BackoffJitter,
}

/// A setting outside what it takes (or not a number of its kind at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A count or a time that must be a whole number from `min` to `max`.
    #[error("{key:?}: expected an integer from {min} to {max}")]
    Integer { key: Key, min: u64, max: u64 },
    /// A percentage: above 0 and at most 100, to three decimals.
    #[error("{key:?}: expected a percentage above 0 and at most 100")]
    Percentage { key: Key },
    /// The backoff multiplier: from 1 to 1,000,000, to three decimals.
    #[error("{key:?}: expected a multiplier from 1 to 1000000")]
    Multiplier { key: Key },
    /// The jitter: a fraction from 0 to 1, to three decimals.
    #[error("{key:?}: expected a fraction from 0 to 1")]
    Fraction { key: Key },
}

impl Key {
    /// The whole number `n` if this setting takes it; `None` stands for a value that is not a
    /// whole number at all, refused with the same rule.
    pub fn integer(self, n: Option<u64>) -> Result<u64, ConfigError> {
        let max = match self {
            Key::WindowSize => MAX_WINDOW_SIZE,
            _ => MAX_SAFE,
        };
        n.filter(|n| (1..=max).contains(n))
            .ok_or(ConfigError::Integer {
                key: self,
                min: 1,
                max,
            })
    }

    /// The decimal `m` (thousandths) if this setting takes it; `None` as for [`Key::integer`].
    pub fn decimal(self, m: Option<Milli>) -> Result<Milli, ConfigError> {
        let (min, max, error) = match self {
            Key::BackoffMultiplier => (1000, 1_000_000_000, ConfigError::Multiplier { key: self }),
            Key::BackoffJitter => (0, 1000, ConfigError::Fraction { key: self }),
            _ => (1, 100_000, ConfigError::Percentage { key: self }),
        };
        m.filter(|m| (min..=max).contains(&m.0)).ok_or(error)
    }
}

impl Config {
    /// Checks every setting against its range; the first one outside it, in wire order.
    pub fn validate(&self) -> Result<(), ConfigError> {
        FIELDS
            .into_iter()
            .try_for_each(|field| validate_setting(field, field.get(self)))
    }
}

/// Checks one field's value (what a layer of config sets) against its range.
pub fn validate_setting(field: Field, value: Setting) -> Result<(), ConfigError> {
    let key = Key::Field(field);
    match value {
        Setting::Int(n) | Setting::OptInt(Some(n)) => key.integer(Some(n)).map(drop),
        Setting::Rate(m) | Setting::OptRate(Some(m)) => key.decimal(Some(m)).map(drop),
        Setting::Window(w) => validate_window(w),
        Setting::Backoff(b) => validate_backoff(b),
        Setting::OptInt(None)
        | Setting::OptRate(None)
        | Setting::Flag(_)
        | Setting::Target(_)
        | Setting::Budget(_) => Ok(()),
    }
}

fn validate_window(w: Window) -> Result<(), ConfigError> {
    match w {
        Window::Consecutive => Ok(()),
        Window::Count {
            size,
            minimum_calls,
            failure_rate,
        } => {
            Key::WindowSize.integer(Some(size))?;
            Key::WindowMinimumCalls.integer(Some(minimum_calls))?;
            Key::WindowFailureRate.decimal(Some(failure_rate)).map(drop)
        }
        Window::Time {
            size_ms,
            minimum_calls,
            failure_rate,
        } => {
            Key::WindowSizeMs.integer(Some(size_ms))?;
            Key::WindowMinimumCalls.integer(Some(minimum_calls))?;
            Key::WindowFailureRate.decimal(Some(failure_rate)).map(drop)
        }
    }
}

fn validate_backoff(b: Backoff) -> Result<(), ConfigError> {
    Key::BackoffMultiplier.decimal(Some(b.multiplier))?;
    Key::BackoffMaxOpenMs.integer(Some(b.max_open_ms))?;
    Key::BackoffJitter.decimal(Some(b.jitter)).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn each_refusal_names_the_setting_and_the_rule() {
        let mut c = Config {
            failure_threshold: 0,
            ..Config::default()
        };
        let zero = ConfigError::Integer {
            key: Key::Field(Field::FailureThreshold),
            min: 1,
            max: MAX_SAFE,
        };
        assert_eq!(c.validate(), Err(zero));
        c.failure_threshold = 1;
        c.window = Window::Count {
            size: MAX_WINDOW_SIZE + 1,
            minimum_calls: 1,
            failure_rate: Milli(50_000),
        };
        let size = ConfigError::Integer {
            key: Key::WindowSize,
            min: 1,
            max: MAX_WINDOW_SIZE,
        };
        assert_eq!(c.validate(), Err(size));
        c.window = Window::Consecutive;
        c.backoff.jitter = Milli(1001);
        let jitter = ConfigError::Fraction {
            key: Key::BackoffJitter,
        };
        assert_eq!(c.validate(), Err(jitter));
        c.backoff.jitter = Milli(0);
        c.slow_call_rate = Milli(0);
        let rate = ConfigError::Percentage {
            key: Key::Field(Field::SlowCallRate),
        };
        assert_eq!(c.validate(), Err(rate));
        c.slow_call_rate = Milli(100_000);
        c.backoff.multiplier = Milli(999);
        let multiplier = ConfigError::Multiplier {
            key: Key::BackoffMultiplier,
        };
        assert_eq!(c.validate(), Err(multiplier));
    }
}
