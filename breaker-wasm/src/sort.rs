//! The crate's sorts, through two functions. Each call of the standard library's sort compiles
//! a copy of its own for the element type and the comparison (2 to 20 KB of WebAssembly each),
//! so every sort here orders plain (key, index) pairs and the caller reorders by the indices.

/// Sorts (key, index) pairs by key, then by index: with each item's position as its index, the
/// order of a stable sort by key.
#[inline(never)]
pub fn numbers(pairs: &mut [(u64, u32)]) {
    pairs.sort_unstable();
}

/// Sorts (name, index) pairs by name (bytewise, as `str` compares), then by index.
#[inline(never)]
pub fn names(pairs: &mut [(&str, u32)]) {
    pairs.sort_unstable();
}

/// The first name that occurs twice in `names`, if any (the least such name, bytewise).
pub fn first_duplicate<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut pairs: Vec<(&str, u32)> = names.map(|n| (n, 0)).collect();
    self::names(&mut pairs);
    pairs.windows(2).find(|w| w[0].0 == w[1].0).map(|w| w[0].0)
}
