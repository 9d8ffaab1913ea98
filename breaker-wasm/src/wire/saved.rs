//! The parts of a saved breaker that only some breakers have: the trial calls of a half_open
//! judged by rate, and the last failure's text.

use super::restore::Obj;
use crate::breaker::{LastFailure, MAX_ERROR_BYTES, Tally};

/// The last failure with a text, `{"at_ms":T,"error":"..."}`, when there is one (snapshots
/// older than the field have none).
pub(super) fn decode_last_failure(o: &Obj) -> Result<Option<LastFailure>, String> {
    let Some(v) = o.opt("last_failure") else {
        return Ok(None);
    };
    let f = Obj::new(v, format!("{}.last_failure", o.path), &["at_ms", "error"])?;
    let error = f.str("error")?;
    if error.len() > MAX_ERROR_BYTES {
        return Err(format!(
            "{}.error: longer than {MAX_ERROR_BYTES} bytes",
            f.path
        ));
    }
    Ok(Some(LastFailure {
        at: f.u64("at_ms")?,
        error: (&*error).into(),
    }))
}

/// The trial calls of a half_open judged by rate: `[calls, failures, slow]`, none by default.
pub(super) fn decode_trial(o: &Obj) -> Result<Tally, String> {
    let Some(v) = o.opt("trial") else {
        return Ok(Tally::default());
    };
    let n: Vec<Option<u64>> = v
        .items()
        .unwrap_or_default()
        .iter()
        .map(|n| n.as_u64())
        .collect();
    match n[..] {
        [Some(calls), Some(failures), Some(slow)] if failures <= calls && slow <= calls => {
            Ok(Tally {
                calls,
                failures,
                slow,
            })
        }
        _ => Err(format!(
            "{}.trial: expected [calls, failures, slow]",
            o.path
        )),
    }
}
