//! Writing command output. One-shot commands print to stdout; `serve` never calls this (its
//! stdout is the JSON-RPC channel), which is why the crate denies `print_stdout` elsewhere.

use std::io::Write;

/// Writes `text` and a newline to stdout. A closed pipe (`| head`) is not an error.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", text.trim_end_matches('\n'));
}

/// Writes a JSON value, pretty-printed, to stdout.
pub fn json(value: &impl serde::Serialize) {
    out(&serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")));
}

/// Writes an error message to stderr.
pub fn error(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "error: {text}");
}

/// Writes a side note (how a request was served) to stderr, keeping stdout for the answer.
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Writes a warning to stderr.
pub fn warn(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "warning: {text}");
}
