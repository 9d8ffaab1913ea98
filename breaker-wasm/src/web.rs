//! wasm-bindgen exports for the browser: the same [`Session`] behind a JS class.

use wasm_bindgen::prelude::*;

use crate::{Options, Session};

/// One breaker node, driven from JavaScript with strings.
#[wasm_bindgen]
pub struct WebNode {
    session: Session,
}

#[wasm_bindgen]
impl WebNode {
    /// A node; with `manual_clock` it keeps its own clock, moved by `advance_clock` messages.
    #[wasm_bindgen(constructor)]
    pub fn new(manual_clock: bool) -> WebNode {
        WebNode {
            session: Session::new(Options {
                manual_clock,
                fixtures: true,
                fleet: false,
            }),
        }
    }

    /// Handles one or more JSON documents at `now_ms`; returns the replies, one per line.
    pub fn handle(&mut self, input: &str, now_ms: f64) -> String {
        let now = crate::millis_from_f64(now_ms);
        String::from_utf8_lossy(self.session.handle(input.as_bytes(), now)).into_owned()
    }

    /// What the last `handle` could not answer, one line each.
    pub fn diagnostics(&self) -> String {
        String::from_utf8_lossy(self.session.diagnostics()).into_owned()
    }

    /// The version of the protocol ABI this build speaks.
    #[wasm_bindgen(js_name = abiVersion)]
    pub fn abi_version() -> i32 {
        crate::ABI_VERSION
    }
}
