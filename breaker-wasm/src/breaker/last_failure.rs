//! The last failure a breaker was told about, with its text and time (Polly's `LastException`):
//! what its rejections and `status` report until the breaker closes again.

/// The longest failure text a breaker keeps, in bytes. A longer text is cut at the last
/// character boundary at or before it, so the kept text is always valid UTF-8.
pub const MAX_ERROR_BYTES: usize = 256;

/// A failure's text and the node time it was recorded at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastFailure {
    pub at: u64,
    pub error: Box<str>,
}

impl LastFailure {
    /// The failure `error` at `at`, its text cut to [`MAX_ERROR_BYTES`].
    pub fn new(error: &str, at: u64) -> LastFailure {
        let end = error.floor_char_boundary(MAX_ERROR_BYTES);
        LastFailure {
            at,
            error: error[..end].into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_at_a_character_boundary() {
        let short = LastFailure::new("timeout", 7);
        assert_eq!((short.at, &*short.error), (7, "timeout"));
        let ascii = "x".repeat(300);
        assert_eq!(LastFailure::new(&ascii, 0).error.len(), MAX_ERROR_BYTES);
        // 'é' is two bytes: 255 of 'a' then 'é' would end at 257, so it is left out whole.
        let text = format!("{}é", "a".repeat(255));
        let cut = LastFailure::new(&text, 0);
        assert_eq!(cut.error.len(), 255);
        assert!(cut.error.chars().all(|c| c == 'a'));
        let exact = format!("{}é", "a".repeat(254));
        assert_eq!(&*LastFailure::new(&exact, 0).error, exact);
    }
}
