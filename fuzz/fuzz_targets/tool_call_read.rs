//! The direct read of `tools/call` messages agrees with rmcp's own parse: whatever it accepts
//! from a host, rmcp accepts as the same message; nothing it reads from a child panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_orchestrator::fuzzing::shape::{client_message, server_response};
use rmcp::model::ClientJsonRpcMessage;

fuzz_target!(|data: &[u8]| {
    if let Some(direct) = client_message(data) {
        let generic: ClientJsonRpcMessage =
            serde_json::from_slice(data).expect("rmcp refuses what the direct read accepted");
        assert_eq!(format!("{direct:?}"), format!("{generic:?}"));
    }
    if let Some(direct) = server_response(data, |_| true) {
        serde_json::to_vec(&direct).expect("a direct read serialises");
    }
});
