//! The forwarding fast path agrees with the typed path: for any host line it takes, the child is
//! sent the typed path's request; for any child result it passes on, the host reads the typed
//! path's result (`scan::check_equivalence`, the oracle the unit tests also run). The input is
//! split at its first newline: a host line, then a child's result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_orchestrator::fuzzing::scan::{call_head, check_equivalence, child_answer};

fuzz_target!(|data: &[u8]| {
    let (line, result) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    check_equivalence(line, result);
    // Reading a child's line never panics, whatever it holds.
    let _ = child_answer(data);
    let _ = call_head(data);
});
