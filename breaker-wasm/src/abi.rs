//! The raw exports every WebAssembly host uses (see `ABI.md`): no imports, plain integers, one
//! node per instance.

use std::alloc::{Layout, alloc, dealloc};
use std::cell::UnsafeCell;

use crate::{Options, Session};

/// The instance's one session. A wasm32 instance runs one thread, so plain interior
/// mutability is enough.
struct Global(UnsafeCell<Option<Session>>);

// SAFETY: wasm32-unknown-unknown without the threads proposal has exactly one thread.
unsafe impl Sync for Global {}

static SESSION: Global = Global(UnsafeCell::new(None));

fn session() -> &'static mut Session {
    // SAFETY: one thread, and no export holds the reference across a call.
    let slot = unsafe { &mut *SESSION.0.get() };
    slot.get_or_insert_with(|| Session::new(Options::default()))
}

fn pack(bytes: &[u8]) -> i64 {
    if bytes.is_empty() {
        return 0;
    }
    (((bytes.as_ptr() as u32 as u64) << 32) | bytes.len() as u32 as u64) as i64
}

/// The ABI version of this build: 1.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_abi_version() -> i32 {
    crate::ABI_VERSION
}

/// `len` writable bytes for the caller's input; 0 when they cannot be had.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_alloc(len: i32) -> i32 {
    match usize::try_from(len) {
        Ok(0) => 1, // a dangling, never-dereferenced pointer; `breaker_free` ignores it
        Ok(n) => match Layout::array::<u8>(n) {
            // SAFETY: the layout has a non-zero size.
            Ok(layout) => unsafe { alloc(layout) as i32 },
            Err(_) => 0,
        },
        Err(_) => 0,
    }
}

/// Gives back a buffer from `breaker_alloc` (same `len`).
#[unsafe(no_mangle)]
pub extern "C" fn breaker_free(ptr: i32, len: i32) {
    let Ok(n) = usize::try_from(len) else { return };
    if ptr == 0 || n == 0 {
        return;
    }
    if let Ok(layout) = Layout::array::<u8>(n) {
        // SAFETY: the caller hands back what `breaker_alloc(len)` returned.
        unsafe { dealloc(ptr as u32 as usize as *mut u8, layout) }
    }
}

/// Sets how this node runs, before its first message: bit 0 the manual clock, bit 1 no test
/// fixtures, bit 2 one of a fleet (half_open probes only under the fleet's lease). Returns 0, or -1 once messages have been handled (nothing changes then).
#[unsafe(no_mangle)]
pub extern "C" fn breaker_set_options(flags: i32) -> i32 {
    // SAFETY: one thread; no reference outlives this call.
    let slot = unsafe { &mut *SESSION.0.get() };
    if slot.is_some() {
        return -1;
    }
    *slot = Some(Session::new(Options {
        manual_clock: flags & 1 != 0,
        fixtures: flags & 2 == 0,
        fleet: flags & 4 != 0,
    }));
    0
}

/// Tells the node how much memory this instance may grow to, in MiB (its host's limit), after
/// `breaker_set_options`: the node keeps its breakers and overrides within half of it (the
/// memory budget). Without it the node assumes 256 MiB. Returns 0, or -1 for a limit outside
/// 1 to 4096 MiB (nothing changes then).
#[unsafe(no_mangle)]
pub extern "C" fn breaker_set_memory_limit(mib: i32) -> i32 {
    if !(1..=4096).contains(&mib) {
        return -1;
    }
    session().node_mut().set_memory_limit((mib as u64) << 20);
    0
}

/// For hosts that checkpoint the node: the node time of the last state saved, and how many
/// checkpoints failed since. `status` with `"memory":true` reports them.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_report_checkpoints(last_good_ms: i64, failures_since: i32) {
    session()
        .node_mut()
        .report_checkpoints(crate::node::Checkpoints {
            last_good_ms: last_good_ms as u64,
            failures_since: failures_since.max(0) as u64,
        });
}

/// Handles the complete documents at `ptr..ptr+len` at time `now_ms`; returns
/// `(out_ptr << 32) | out_len` of the replies (0 when none).
#[unsafe(no_mangle)]
pub extern "C" fn breaker_handle(ptr: i32, len: i32, now_ms: i64) -> i64 {
    pack(session().handle(bytes(ptr, len), now_ms as u64))
}

/// Takes the next `len` bytes of the input stream at `ptr` (a chunk of any size; documents may
/// be cut anywhere) at time `now_ms`: handles every document it completes and keeps what is
/// incomplete. Returns the replies as `breaker_handle` does; diagnostics count lines from the
/// start of the stream.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_stream(ptr: i32, len: i32, now_ms: i64) -> i64 {
    pack(session().feed(bytes(ptr, len), now_ms as u64))
}

/// The end of the input stream: an unfinished document becomes a diagnostic. Returns the
/// replies (none).
#[unsafe(no_mangle)]
pub extern "C" fn breaker_stream_end() -> i64 {
    pack(session().end_stream())
}

/// The stream refuses documents larger than `bytes` from now on (default 1 MiB). Returns 0, or
/// -1 for a limit below 1 (nothing changes then).
#[unsafe(no_mangle)]
pub extern "C" fn breaker_set_max_document(bytes: i64) -> i32 {
    match usize::try_from(bytes) {
        Ok(max) if max >= 1 => {
            session().set_max_document(max);
            0
        }
        _ => -1,
    }
}

/// How many whole documents the last `breaker_handle`, `breaker_stream` or
/// `breaker_stream_end` took, answered or refused.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_documents() -> i32 {
    session().documents().min(i32::MAX as u64) as i32
}

/// `(ptr << 32) | len` of the stream's state (opaque bytes of this build): what is held of an
/// incomplete document and where the stream is. Valid until the next call.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_stream_state() -> i64 {
    let state = session().stream_state();
    // SAFETY: one thread; the buffer is replaced only by the next call of this export.
    let held = unsafe { &mut *STREAM_STATE.0.get() };
    *held = state;
    pack(held)
}

/// Carries on from a state `breaker_stream_state` gave (by this build): 0, or -1 when the bytes
/// are not one (then nothing changes).
#[unsafe(no_mangle)]
pub extern "C" fn breaker_set_stream_state(ptr: i32, len: i32) -> i32 {
    match session().set_stream_state(bytes(ptr, len)) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

/// The last stream state handed out, kept until the next one.
struct Held(UnsafeCell<Vec<u8>>);

// SAFETY: as for `Global`, one thread.
unsafe impl Sync for Held {}

static STREAM_STATE: Held = Held(UnsafeCell::new(Vec::new()));

/// The typed fast path (see `typed_abi::acquire`): a permit for the service named by the `len`
/// bytes at `ptr`, or a rejection, at `now_ms`. Times and permits are whole numbers carried as
/// f64 (exact up to 2^53, like the protocol's), which JavaScript passes without conversion;
/// times follow [`crate::millis_from_f64`].
#[unsafe(no_mangle)]
pub extern "C" fn breaker_acquire(ptr: i32, len: i32, now_ms: f64) -> i64 {
    crate::typed_abi::acquire(session(), bytes(ptr, len), crate::millis_from_f64(now_ms))
}

/// The typed fast path (see `typed_abi::record`): the outcome of `permit` for the service named by
/// the `len` bytes at `ptr`; `duration_ms` below 0 when unknown.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_record(
    ptr: i32,
    len: i32,
    permit: f64,
    outcome: i32,
    duration_ms: f64,
    now_ms: f64,
) -> i32 {
    let Some(permit) = whole(permit) else {
        return -1;
    };
    let duration = if duration_ms >= 0.0 {
        crate::millis_from_f64(duration_ms).min(i64::MAX as u64) as i64
    } else {
        -1
    };
    crate::typed_abi::record(
        session(),
        bytes(ptr, len),
        permit as i64,
        outcome,
        duration,
        crate::millis_from_f64(now_ms),
    )
}

/// A non-negative whole number carried as f64 (a permit: an identifier, so never rounded).
fn whole(x: f64) -> Option<u64> {
    (x >= 0.0 && x.fract() == 0.0 && x <= u64::MAX as f64).then_some(x as u64)
}

/// The `len` bytes the caller wrote at `ptr` (empty for a null pointer or a negative length).
fn bytes(ptr: i32, len: i32) -> &'static [u8] {
    match usize::try_from(len) {
        // SAFETY: the caller wrote `len` bytes at `ptr` (from `breaker_alloc`).
        Ok(n) if n > 0 && ptr != 0 => unsafe {
            std::slice::from_raw_parts(ptr as u32 as usize as *const u8, n)
        },
        _ => &[],
    }
}

/// `(ptr << 32) | len` of the last call's diagnostics (0 when none).
#[unsafe(no_mangle)]
pub extern "C" fn breaker_diagnostics() -> i64 {
    pack(session().diagnostics())
}

/// The batch path's own state (see `batch`): service slots and an output buffer.
struct BatchGlobal(UnsafeCell<Option<crate::batch::Batch>>);

// SAFETY: as for `Global`, one thread.
unsafe impl Sync for BatchGlobal {}

static BATCH: BatchGlobal = BatchGlobal(UnsafeCell::new(None));

fn batch() -> &'static mut crate::batch::Batch {
    // SAFETY: one thread, and no export holds the reference across a call.
    let slot = unsafe { &mut *BATCH.0.get() };
    slot.get_or_insert_with(Default::default)
}

/// The batch path: the slot of the service named by the `len` bytes at `ptr`, −1 when they are
/// not a service name.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_slot(ptr: i32, len: i32) -> i32 {
    batch().slot(bytes(ptr, len))
}

/// The batch path: the grant of the service in `slot`, `outcomes | failures << 21 |
/// rearm << 42`, or −1.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_grant(slot: i32) -> i64 {
    batch().grant(session(), slot)
}

/// The batch path: the texts of failures in the log the next `breaker_sync` (or
/// `breaker_sync_ticks`) replays, as records of `[u32 entry index][u32 length][UTF-8 bytes]`
/// (little-endian, indices increasing); how many it keeps, or −1 (keeping none) when malformed.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_failure_texts(ptr: i32, len: i32) -> i32 {
    batch().set_failure_texts(bytes(ptr, len))
}

/// The batch path: replays `count` log entries of five f64 each at `ptr` (8-byte aligned);
/// returns the last entry's result, or `i64::MIN` plus the index of the first bad entry.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_sync(ptr: i32, count: i32) -> i64 {
    let words = usize::try_from(count).unwrap_or(0) * crate::batch::OP_WORDS;
    if words == 0 || ptr == 0 || ptr % 8 != 0 {
        return 0;
    }
    // SAFETY: the caller wrote `count` entries at `ptr` (from `breaker_alloc`), 8-byte aligned.
    let ops = unsafe { std::slice::from_raw_parts(ptr as u32 as usize as *const f64, words) };
    batch().sync(session(), ops)
}

/// The batch path, for wrappers with an integer clock: replays `count` log entries of five i64
/// each at `ptr` (8-byte aligned), `[op, slot, permit, start, now]`, the times in clock ticks,
/// `ticks_per_ms` of them a millisecond; returns as `breaker_sync` does.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_sync_ticks(ptr: i32, count: i32, ticks_per_ms: i64) -> i64 {
    let words = usize::try_from(count).unwrap_or(0) * crate::batch::OP_WORDS;
    if words == 0 || ptr == 0 || ptr % 8 != 0 {
        return 0;
    }
    // SAFETY: the caller wrote `count` entries at `ptr` (from `breaker_alloc`), 8-byte aligned.
    let ops = unsafe { std::slice::from_raw_parts(ptr as u32 as usize as *const i64, words) };
    batch().sync_ticks(session(), ops, ticks_per_ms)
}

/// The last permit handed out (0 before the first).
#[unsafe(no_mangle)]
pub extern "C" fn breaker_last_permit() -> f64 {
    session().node().last_permit() as f64
}

/// The `seq` of the last logged transition.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_event_seq() -> f64 {
    session().node().last_event_seq() as f64
}

/// `(ptr << 32) | len` of an `events_ok` document with the transitions after `seq`, read
/// without settling anything; valid until the next call.
#[unsafe(no_mangle)]
pub extern "C" fn breaker_events_after(seq: f64) -> i64 {
    pack(batch().events_after(session(), seq))
}
