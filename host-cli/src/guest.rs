//! One instance of the breaker module under wasmtime: the ABI of breaker-wasm/ABI.md as a
//! Rust type.
//!
//! Engine → Module → Store → typed functions looked up once → calls. Bytes are copied in and out
//! with `Memory::write`/`Memory::read`; no slice of guest memory is held across a call. The store
//! carries the limits: a memory cap (`StoreLimits`) and a fuel budget for every call.

use wasmtime::{
    Engine, Instance, Memory, Module, Store, StoreLimits, StoreLimitsBuilder, TypedFunc,
};

use crate::error::StartError;

mod stream;

/// The module embedded at build time, and its precompiled form for this machine.
static EMBEDDED_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/breaker.wasm"));
static EMBEDDED_CWASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/breaker.cwasm"));

/// How the node inside the module runs (`breaker_set_options`).
#[derive(Clone, Copy, Debug, Default)]
pub struct GuestOptions {
    pub manual_clock: bool,
    pub no_fixtures: bool,
    pub fleet: bool,
}

impl GuestOptions {
    /// The options the command line asks for.
    pub fn of(args: &crate::Args) -> GuestOptions {
        GuestOptions {
            manual_clock: args.clock == crate::clock::ClockKind::Manual,
            no_fixtures: args.no_fixtures,
            fleet: args.fleet.is_some() || args.fleet_replay,
        }
    }

    fn flags(self) -> i32 {
        i32::from(self.manual_clock)
            | (i32::from(self.no_fixtures) << 1)
            | (i32::from(self.fleet) << 2)
    }
}

/// What one instance may use. Going over either limit traps the call (code 13 for the documents
/// it held); the host then carries on with a fresh instance.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most linear memory the guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// Fuel (roughly, WebAssembly instructions) for one call, whatever its size.
    pub fuel_per_call: u64,
    /// Extra fuel for each byte of input a call is given.
    pub fuel_per_byte: u64,
    /// The largest document the input stream takes (`--max-message-bytes`).
    pub max_document: usize,
}

impl Limits {
    fn fuel_for(&self, input_len: usize) -> u64 {
        self.fuel_per_call
            .saturating_add(self.fuel_per_byte.saturating_mul(input_len as u64))
    }
}

/// The fuel added to the host's own calls: a snapshot of a million breakers costs about 4 × 10^9.
pub const HOST_CALL_FUEL: u64 = 1_000_000_000_000;

/// A compiled module, ready to be instantiated as often as needed (a clone shares it).
#[derive(Clone)]
pub struct Program {
    engine: Engine,
    module: Module,
}

impl Program {
    /// The embedded module: precompiled when that build fits this machine, compiled otherwise.
    pub fn embedded() -> Result<Program, StartError> {
        let engine = Engine::new(&crate::engine_config::config()).map_err(StartError::engine)?;
        // SAFETY: these bytes were produced by `Engine::precompile_module` in this crate's build
        // script with the same engine configuration; wasmtime checks the rest.
        let module = match unsafe { Module::deserialize(&engine, EMBEDDED_CWASM) } {
            Ok(module) => module,
            Err(e) => {
                // Still correct, only slower to start: say so, so a slow start has a reason.
                diag!("the precompiled module does not fit this machine ({e}); compiling it now");
                Module::new(&engine, EMBEDDED_WASM)
                    .map_err(|e| StartError::module("the embedded module", e))?
            }
        };
        Ok(Program { engine, module })
    }

    /// Another build of the module (same ABI), compiled now.
    pub fn from_file(path: &std::path::Path) -> Result<Program, StartError> {
        let name = path.display().to_string();
        let bytes = crate::files::read_existing(path, crate::files::MAX_MODULE_BYTES).map_err(
            |source| StartError::Read {
                what: format!("the module {name}"),
                source,
            },
        )?;
        let engine = Engine::new(&crate::engine_config::config()).map_err(StartError::engine)?;
        let module = Module::new(&engine, &bytes).map_err(|e| StartError::module(&name, e))?;
        Ok(Program { engine, module })
    }

    /// A fresh instance: a new node with no state. Its memory may grow to the limit plus
    /// `headroom` (room for restoring a snapshot, see `Supervisor`); the node's own budget
    /// follows the limit alone, so every instance of a node decides alike.
    pub fn instantiate(
        &self,
        options: GuestOptions,
        limits: Limits,
        headroom: usize,
    ) -> Result<Guest, StartError> {
        let cap = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes.saturating_add(headroom))
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(&self.engine, cap);
        store.limiter(|cap| cap);
        let fail = |e: wasmtime::Error| StartError::Instantiate(e.to_string());
        store.set_fuel(limits.fuel_per_call).map_err(fail)?;
        let instance = Instance::new(&mut store, &self.module, &[]).map_err(fail)?;
        let version: TypedFunc<(), i32> = instance
            .get_typed_func(&mut store, "breaker_abi_version")
            .map_err(fail)?;
        let found = version.call(&mut store, ()).map_err(fail)?;
        if found != breaker_wasm::ABI_VERSION {
            return Err(StartError::AbiVersion { found });
        }
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| StartError::Instantiate("no exported memory".into()))?;
        let set_options: TypedFunc<i32, i32> = instance
            .get_typed_func(&mut store, "breaker_set_options")
            .map_err(fail)?;
        if set_options
            .call(&mut store, options.flags())
            .map_err(fail)?
            != 0
        {
            return Err(StartError::Instantiate(
                "breaker_set_options refused the options".into(),
            ));
        }
        // The node keeps its state within a budget of half this limit. A build without the
        // export (an older module) keeps its default budget.
        if let Ok(set_limit) =
            instance.get_typed_func::<i32, i32>(&mut store, "breaker_set_memory_limit")
        {
            let mib = (limits.memory_bytes >> 20).clamp(1, 4096) as i32;
            if set_limit.call(&mut store, mib).map_err(fail)? != 0 {
                return Err(StartError::Instantiate(
                    "breaker_set_memory_limit refused the limit".into(),
                ));
            }
        }
        let report = instance
            .get_typed_func(&mut store, "breaker_report_checkpoints")
            .ok();
        let stream = stream::Stream::find(&instance, &mut store, limits.max_document)?;
        Ok(Guest {
            stream,
            report,
            alloc: instance
                .get_typed_func(&mut store, "breaker_alloc")
                .map_err(fail)?,
            free: instance
                .get_typed_func(&mut store, "breaker_free")
                .map_err(fail)?,
            handle: instance
                .get_typed_func(&mut store, "breaker_handle")
                .map_err(fail)?,
            diagnostics: instance
                .get_typed_func(&mut store, "breaker_diagnostics")
                .map_err(fail)?,
            store,
            memory,
            limits,
            input: None,
        })
    }
}

/// A running instance of the module: one node.
pub struct Guest {
    stream: stream::Stream,
    store: Store<StoreLimits>,
    memory: Memory,
    limits: Limits,
    alloc: TypedFunc<i32, i32>,
    free: TypedFunc<(i32, i32), ()>,
    handle: TypedFunc<(i32, i32, i64), i64>,
    diagnostics: TypedFunc<(), i64>,
    /// `breaker_report_checkpoints`, when the module has it.
    report: Option<TypedFunc<(i64, i32), ()>>,
    /// The input buffer in guest memory, kept between calls: (pointer, capacity).
    input: Option<(i32, usize)>,
}

/// The guest failed (a trap, or an answer outside its memory); the instance is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Trap(pub String);

impl From<wasmtime::Error> for Trap {
    /// One line: the trap's own description (a panic, fuel exhausted, a failed memory grow),
    /// without the wasm backtrace.
    fn from(e: wasmtime::Error) -> Trap {
        let text = match e.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => trap.to_string(),
            None => e.root_cause().to_string(),
        };
        Trap(text.lines().next().unwrap_or("unknown failure").to_string())
    }
}

impl Guest {
    /// Hands `input` (complete documents from a client) to the node at `now_ms`; appends the
    /// replies to `replies` and the diagnostics lines to `diagnostics`.
    pub fn handle(
        &mut self,
        input: &[u8],
        now_ms: u64,
        replies: &mut Vec<u8>,
        diagnostics: &mut Vec<u8>,
    ) -> Result<(), Trap> {
        let fuel = self.limits.fuel_for(input.len());
        self.call(input, now_ms, fuel, replies, diagnostics)
    }

    /// Like [`Guest::handle`], for the host's own messages (snapshot, restore, configure): their
    /// cost grows with the node's state rather than with their size, so they get
    /// [`HOST_CALL_FUEL`] on top.
    pub fn handle_own(
        &mut self,
        input: &[u8],
        now_ms: u64,
        replies: &mut Vec<u8>,
        diagnostics: &mut Vec<u8>,
    ) -> Result<(), Trap> {
        let fuel = self
            .limits
            .fuel_for(input.len())
            .saturating_add(HOST_CALL_FUEL);
        self.call(input, now_ms, fuel, replies, diagnostics)
    }

    /// Tells the node how the host's checkpoints went (for `status`), when the module can hear
    /// it.
    pub fn report_checkpoints(&mut self, last_good_ms: u64, failures: u64) -> Result<(), Trap> {
        if let Some(report) = &self.report {
            self.store.set_fuel(self.limits.fuel_per_call)?;
            let failures = failures.min(i32::MAX as u64) as i32;
            report.call(&mut self.store, (last_good_ms as i64, failures))?;
        }
        Ok(())
    }

    fn call(
        &mut self,
        input: &[u8],
        now_ms: u64,
        fuel: u64,
        replies: &mut Vec<u8>,
        diagnostics: &mut Vec<u8>,
    ) -> Result<(), Trap> {
        self.store.set_fuel(fuel)?;
        let (ptr, len) = self.write_input(input)?;
        let packed = self
            .handle
            .call(&mut self.store, (ptr, len, now_ms as i64))?;
        self.read_packed(packed, replies)?;
        self.read_diagnostics(diagnostics)
    }

    /// Copies `input` into the guest's input buffer: its pointer and length.
    pub(super) fn write_input(&mut self, input: &[u8]) -> Result<(i32, i32), Trap> {
        let ptr = self.input_buffer(input.len())?;
        self.memory
            .write(&mut self.store, ptr as u32 as usize, input)
            .map_err(|e| Trap(e.to_string()))?;
        let len = i32::try_from(input.len()).map_err(|_| Trap("input larger than 2 GiB".into()))?;
        Ok((ptr, len))
    }

    pub(super) fn read_diagnostics(&mut self, diagnostics: &mut Vec<u8>) -> Result<(), Trap> {
        let packed = self.diagnostics.call(&mut self.store, ())?;
        self.read_packed(packed, diagnostics)
    }

    /// A guest buffer of at least `len` bytes, reused between calls.
    fn input_buffer(&mut self, len: usize) -> Result<i32, Trap> {
        if let Some((ptr, cap)) = self.input
            && cap >= len
        {
            return Ok(ptr);
        }
        if let Some((ptr, cap)) = self.input.take() {
            self.free.call(&mut self.store, (ptr, cap as i32))?;
        }
        // Small inputs round up so the buffer is reused; a large one (a restore of a big
        // snapshot) gets what it needs and no more, so a restore fits where the node did.
        let cap = if len <= 1 << 20 {
            len.next_power_of_two().max(64 * 1024)
        } else {
            len.next_multiple_of(64 * 1024)
        };
        let size = i32::try_from(cap).map_err(|_| Trap("input larger than 2 GiB".into()))?;
        let ptr = self.alloc.call(&mut self.store, size)?;
        if ptr == 0 {
            return Err(Trap(format!("the guest could not allocate {cap} bytes")));
        }
        self.input = Some((ptr, cap));
        Ok(ptr)
    }

    pub(super) fn read_packed(&mut self, packed: i64, into: &mut Vec<u8>) -> Result<(), Trap> {
        let (ptr, len) = (
            (packed as u64 >> 32) as usize,
            (packed as u64 & 0xffff_ffff) as usize,
        );
        if len == 0 {
            return Ok(());
        }
        let start = into.len();
        into.resize(start + len, 0);
        self.memory
            .read(&self.store, ptr, &mut into[start..])
            .map_err(|_| {
                Trap(format!(
                    "the guest answered with bytes {ptr}..{} outside its memory",
                    ptr + len
                ))
            })
    }
}
