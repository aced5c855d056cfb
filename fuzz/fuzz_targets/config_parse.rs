//! Any bytes as `mcp_servers.json`: parsing and validation never panic, every error names the
//! file, and no value supplied by the environment (a secret, for all we know) shows in an error.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

const CANARY: &str = "sk-canary-5eb63bbbe01eeed0";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/fuzz/mcp_servers.json");
    let env = |_: &str| Some(CANARY.to_owned());
    if let Err(e) = mcp_orchestrator::config::parse(path, text, &env) {
        let message = e.to_string();
        assert!(message.contains("/fuzz/mcp_servers.json"), "{message}");
        if !text.contains("canary") {
            assert!(!message.contains(CANARY), "an env value leaked into: {message}");
        }
    }
});
