//! The input stream's exports (`breaker_stream` and its companions, ABI.md) on a [`Guest`].

use wasmtime::{Instance, Store, StoreLimits, TypedFunc};

use super::{Guest, Trap};
use crate::error::StartError;

/// The exports of the input stream.
pub(super) struct Stream {
    feed: TypedFunc<(i32, i32, i64), i64>,
    end: TypedFunc<(), i64>,
    documents: TypedFunc<(), i32>,
    state: TypedFunc<(), i64>,
    set_state: TypedFunc<(i32, i32), i32>,
}

impl Stream {
    /// Looks the exports up, and sets the stream's size limit for one document.
    pub(super) fn find(
        instance: &Instance,
        store: &mut Store<StoreLimits>,
        max_document: usize,
    ) -> Result<Stream, StartError> {
        let fail = |e: wasmtime::Error| StartError::Instantiate(e.to_string());
        let set_max: TypedFunc<i64, i32> = instance
            .get_typed_func(&mut *store, "breaker_set_max_document")
            .map_err(fail)?;
        if set_max
            .call(&mut *store, max_document as i64)
            .map_err(fail)?
            != 0
        {
            return Err(StartError::Instantiate(
                "breaker_set_max_document refused the limit".into(),
            ));
        }
        Ok(Stream {
            feed: instance
                .get_typed_func(&mut *store, "breaker_stream")
                .map_err(fail)?,
            end: instance
                .get_typed_func(&mut *store, "breaker_stream_end")
                .map_err(fail)?,
            documents: instance
                .get_typed_func(&mut *store, "breaker_documents")
                .map_err(fail)?,
            state: instance
                .get_typed_func(&mut *store, "breaker_stream_state")
                .map_err(fail)?,
            set_state: instance
                .get_typed_func(&mut *store, "breaker_set_stream_state")
                .map_err(fail)?,
        })
    }
}

impl Guest {
    /// Hands the next chunk of the input stream (documents cut anywhere) to the node at
    /// `now_ms`; the guest keeps what is incomplete. Appends the replies and the diagnostics
    /// (lines of the whole stream); returns how many whole documents the chunk completed.
    pub fn stream(
        &mut self,
        chunk: &[u8],
        now_ms: u64,
        replies: &mut Vec<u8>,
        diagnostics: &mut Vec<u8>,
    ) -> Result<u64, Trap> {
        self.store.set_fuel(self.limits.fuel_for(chunk.len()))?;
        let (ptr, len) = self.write_input(chunk)?;
        let packed = self
            .stream
            .feed
            .call(&mut self.store, (ptr, len, now_ms as i64))?;
        self.read_packed(packed, replies)?;
        self.read_diagnostics(diagnostics)?;
        Ok(self.stream.documents.call(&mut self.store, ())?.max(0) as u64)
    }

    /// The end of the input stream: appends the diagnostic of an unfinished document, if any.
    pub fn stream_end(&mut self, diagnostics: &mut Vec<u8>) -> Result<(), Trap> {
        self.store.set_fuel(self.limits.fuel_per_call)?;
        self.stream.end.call(&mut self.store, ())?;
        self.read_diagnostics(diagnostics)
    }

    /// The input stream's state (opaque bytes of this build of the module).
    pub fn stream_state(&mut self) -> Result<Vec<u8>, Trap> {
        self.store.set_fuel(self.limits.fuel_per_call)?;
        let packed = self.stream.state.call(&mut self.store, ())?;
        let mut state = Vec::new();
        self.read_packed(packed, &mut state)?;
        Ok(state)
    }

    /// Carries the input stream on from `state` (from [`Guest::stream_state`]).
    pub fn set_stream_state(&mut self, state: &[u8]) -> Result<(), Trap> {
        self.store.set_fuel(self.limits.fuel_for(state.len()))?;
        let (ptr, len) = self.write_input(state)?;
        match self.stream.set_state.call(&mut self.store, (ptr, len))? {
            0 => Ok(()),
            _ => Err(Trap("the module refused a saved stream state".into())),
        }
    }
}
