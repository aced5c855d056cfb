//! Any head/tail bytes of an oversized child message: recovering its id never panics and, when it
//! claims one, the id is one the message could really carry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_orchestrator::fuzzing::oversized_id;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let (head, tail) = rest.split_at((split as usize).min(rest.len()));
    if let Some(id) = oversized_id(head, tail) {
        let text = serde_json::to_string(&id).unwrap();
        let in_head = head.windows(text.len()).any(|w| w == text.as_bytes());
        let in_tail = tail.windows(text.len()).any(|w| w == text.as_bytes());
        // A string id may be written with escapes; a number always appears verbatim.
        if serde_json::to_value(&id).unwrap().is_number() {
            assert!(in_head || in_tail, "{text} is in neither end");
        }
    }
});
