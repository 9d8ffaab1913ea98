//! The calls a supervisor remembers since its checkpoint, replayed on a rebuild, and the
//! input stream's state they lead to.

use breaker_wasm::wire::stream;

use super::Supervisor;
use crate::guest::{Guest, Trap};

/// One call the guest handled since the checkpoint.
pub(super) struct Call {
    pub(super) kind: Kind,
    pub(super) input: Vec<u8>,
    pub(super) now_ms: u64,
}

/// What a call was.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    /// Complete documents ([`Guest::handle`]).
    Documents,
    /// A chunk of the input stream ([`Guest::stream`]).
    Stream,
    /// The end of the input stream.
    StreamEnd,
    /// A new state for the input stream.
    StreamState,
}

impl Call {
    /// Makes the call again on `guest`, replies and diagnostics discarded.
    pub(super) fn replay(&self, guest: &mut Guest) -> Result<(), Trap> {
        let (mut sink, mut diagnostics) = (Vec::new(), Vec::new());
        match self.kind {
            Kind::Documents => guest.handle(&self.input, self.now_ms, &mut sink, &mut diagnostics),
            Kind::Stream => guest
                .stream(&self.input, self.now_ms, &mut sink, &mut diagnostics)
                .map(drop),
            Kind::StreamEnd => guest.stream_end(&mut diagnostics),
            Kind::StreamState => guest.set_stream_state(&self.input),
        }
    }
}

impl Supervisor {
    /// The input stream's state after the calls handled so far, worked out here from the
    /// checkpoint's and the calls since (the guest need not be alive), for framing the next
    /// chunk natively with the guest's own code (`breaker_wasm::wire::stream`).
    pub fn stream_state_before(&self) -> Result<Vec<u8>, String> {
        let mut splitter = stream::load(&self.checkpoint.stream)?;
        for call in &self.since {
            match call.kind {
                Kind::Documents => {}
                Kind::Stream => {
                    splitter.push(&call.input);
                    while splitter.next_frame().is_some() {}
                }
                Kind::StreamEnd => {
                    splitter.finish();
                    let (line, column) = splitter.position();
                    splitter.resume_at(line, column);
                }
                Kind::StreamState => splitter = stream::load(&call.input)?,
            }
        }
        Ok(stream::save(&mut splitter))
    }

    /// Carries the input stream on from `state`, remembered for a rebuild.
    pub fn set_stream_state(&mut self, state: &[u8]) -> Result<(), Trap> {
        if let Some(lost) = &self.lost {
            return Err(Trap(lost.clone()));
        }
        self.guest.set_stream_state(state)?;
        self.remember(Kind::StreamState, state, 0);
        Ok(())
    }
}
