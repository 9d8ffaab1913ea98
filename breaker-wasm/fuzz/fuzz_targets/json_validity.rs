//! Arbitrary text as one document: the node's verdict on whether it is valid JSON must be
//! serde_json's own (as a `serde_json::Value`), except where the protocol is stricter on
//! purpose (duplicate keys), where a `Value` cannot hold a valid number (`1e400`), and at
//! exactly 128 levels of nesting (the protocol's limit; serde_json's reader stops at 127). The
//! node's verdict is the document reader every host goes through.
#![no_main]

use breaker_wasm::wire::raw;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = raw::document(text);
    let theirs = serde_json::from_str::<serde_json::Value>(text);
    match (&ours, &theirs) {
        (Ok(_), Ok(_)) => {}
        // The protocol refuses duplicate keys; serde_json keeps the last.
        (Err(fault), Ok(_)) => assert!(
            fault.message.starts_with("duplicate key"),
            "the node refuses what serde_json accepts: {fault:?} for {text:?}"
        ),
        // serde_json refuses numbers beyond f64 in a Value; they are valid JSON, and the node
        // reads them as text (a field wanting an integer refuses them by name). And its reader
        // allows 127 levels of nesting where the protocol allows 128.
        (Ok(_), Err(e)) => assert!(
            e.to_string().starts_with("number out of range")
                || e.to_string().starts_with("recursion limit exceeded"),
            "the node accepts what serde_json refuses: {e} for {text:?}"
        ),
        (Err(_), Err(_)) => {}
    }
});
