//! One line from the host → a message for the server, an error to answer, or nothing.
//!
//! Pure and synchronous so the fuzz target and the unit tests drive exactly what `serve` runs.
//! JSON-RPC 2.0 wants an answer to input that is not a request (`-32700` for invalid JSON,
//! `-32600` for JSON that is not a valid request, with `id: null` when no id can be read); rmcp
//! ignores unparsable lines instead, which leaves a host waiting for an answer that never comes.

use rmcp::model::{ClientJsonRpcMessage, RequestId};
use serde_json::Value;

/// JSON-RPC "Parse error": the line is not JSON (or nests deeper than the parser allows).
pub const PARSE_ERROR: i32 = -32700;
/// JSON-RPC "Invalid Request": JSON, but not a single valid JSON-RPC 2.0 message.
pub const INVALID_REQUEST: i32 = -32600;

/// Longest error message we echo; serde's messages can quote the input.
const MAX_DETAIL: usize = 200;

/// What to do with one line.
#[derive(Debug)]
pub enum Frame {
    /// A well-formed message for the MCP service.
    Message(Box<ClientJsonRpcMessage>),
    /// Answer this error; deliver nothing.
    Reject(Rejection),
    /// Deliver nothing and answer nothing: blank lines, and notifications we cannot read (a
    /// notification never gets a response, even a malformed one).
    Skip,
}

/// An error response the transport writes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The request's id when it could be read; `null` on the wire otherwise.
    pub id: Option<RequestId>,
    /// A JSON-RPC error code.
    pub code: i32,
    /// A short human-readable reason.
    pub message: String,
}

impl Rejection {
    /// A `-32700` for input that is not JSON.
    pub fn parse_error(detail: impl std::fmt::Display) -> Self {
        Self {
            id: None,
            code: PARSE_ERROR,
            message: clip(format!("Parse error: {detail}")),
        }
    }

    /// A `-32600` for JSON that is not an acceptable message.
    pub fn invalid_request(id: Option<RequestId>, detail: impl std::fmt::Display) -> Self {
        Self {
            id,
            code: INVALID_REQUEST,
            message: clip(format!("Invalid Request: {detail}")),
        }
    }

    /// The rejection as one newline-terminated JSON-RPC error response.
    pub fn to_line(&self) -> Vec<u8> {
        let id = match &self.id {
            Some(id) => serde_json::to_value(id).unwrap_or(Value::Null),
            None => Value::Null,
        };
        let value = serde_json::json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": { "code": self.code, "message": self.message },
        });
        let mut line = serde_json::to_vec(&value).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// Classifies one line (its trailing newline may or may not be included).
pub fn classify(line: &[u8]) -> Frame {
    let line = trim(line);
    if line.is_empty() {
        return Frame::Skip;
    }
    // The hot message goes straight to its type; the rest parse once into rmcp's.
    if let Some(message) = super::shape::client_message(line) {
        return Frame::Message(Box::new(message));
    }
    match serde_json::from_slice::<ClientJsonRpcMessage>(line) {
        Ok(message) => Frame::Message(Box::new(message)),
        Err(shape) => diagnose(line, &shape),
    }
}

/// Why a line that is not a message was refused (the slow path only).
fn diagnose(line: &[u8], shape: &serde_json::Error) -> Frame {
    if std::str::from_utf8(line).is_err() {
        return Frame::Reject(Rejection::parse_error("the message is not valid UTF-8"));
    }
    let value = match serde_json::from_slice::<Value>(line) {
        Ok(value) => value,
        // Includes serde_json's recursion limit (128 levels): deep nesting is refused here,
        // without recursion deep enough to overflow a stack.
        Err(e) => return Frame::Reject(Rejection::parse_error(e)),
    };
    match value {
        Value::Array(_) => Frame::Reject(Rejection::invalid_request(
            None,
            "JSON-RPC batches are not supported (MCP removed them in 2025-06-18); send one message per line",
        )),
        Value::Object(object) => {
            let id = object.get("id").and_then(request_id);
            if !object.contains_key("id") && object.get("method").is_some_and(Value::is_string) {
                tracing::debug!(category = ?shape.classify(), column = shape.column(), "ignoring a notification that cannot be read");
                return Frame::Skip;
            }
            Frame::Reject(Rejection::invalid_request(
                id,
                format_args!("not a JSON-RPC 2.0 message: {shape}"),
            ))
        }
        _ => Frame::Reject(Rejection::invalid_request(
            None,
            "a JSON-RPC message must be a JSON object",
        )),
    }
}

/// The id a JSON value stands for, when it is one a response may carry (a string or an integer).
pub(crate) fn request_id(value: &Value) -> Option<RequestId> {
    match value {
        Value::String(s) => Some(RequestId::String(s.as_str().into())),
        Value::Number(n) => n.as_i64().map(RequestId::Number),
        _ => None,
    }
}

/// Strips the line ending, a UTF-8 byte order mark and surrounding ASCII whitespace.
pub(crate) fn trim(line: &[u8]) -> &[u8] {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    line.trim_ascii()
}

fn clip(mut s: String) -> String {
    if s.len() > MAX_DETAIL {
        let mut end = MAX_DETAIL;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(line: &[u8]) -> Rejection {
        match classify(line) {
            Frame::Reject(r) => r,
            other => panic!("expected a rejection for {line:?}, got {other:?}"),
        }
    }

    #[test]
    fn requests_notifications_and_responses_pass() {
        for line in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#[..],
            br#"{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{}}"#,
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            br#"{"jsonrpc":"2.0","id":3,"result":{}}"#,
            b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n",
        ] {
            assert!(matches!(classify(line), Frame::Message(_)), "{line:?}");
        }
    }

    #[test]
    fn invalid_json_is_a_parse_error_with_null_id() {
        for line in [
            &b"{\"jsonrpc\":\"2.0\","[..],
            b"\xff\xfe{}",
            b"nope",
            b"{\"a\":}",
        ] {
            let r = rejected(line);
            assert_eq!((r.code, r.id.clone()), (PARSE_ERROR, None), "{line:?}");
        }
    }

    #[test]
    fn deep_nesting_is_a_parse_error_not_a_crash() {
        let mut line = br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":"#.to_vec();
        line.extend(std::iter::repeat_n(b'[', 100_000));
        let r = rejected(&line);
        assert_eq!(r.code, PARSE_ERROR);
        assert!(r.message.contains("recursion limit"), "{}", r.message);
    }

    #[test]
    fn non_requests_and_batches_are_invalid_requests() {
        let ping = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        let batch = [b"[".as_slice(), ping, b"]"].concat();
        for line in [&b"42"[..], b"null", b"{\"foo\":1}", b"[]", &batch, b"\"x\""] {
            let r = rejected(line);
            assert_eq!((r.code, r.id.clone()), (INVALID_REQUEST, None), "{line:?}");
        }
        assert!(rejected(&batch).message.contains("batches"));
    }

    #[test]
    fn a_readable_id_is_echoed_on_invalid_requests() {
        let r = rejected(br#"{"jsonrpc":"1.0","id":"x-1","method":"ping"}"#);
        assert_eq!(r.id, Some(RequestId::String("x-1".into())));
        let r = rejected(br#"{"jsonrpc":"2.0","id":9007199254740993}"#);
        assert_eq!(r.id, Some(RequestId::Number(9_007_199_254_740_993)));
        let line = String::from_utf8(r.to_line()).unwrap();
        assert!(line.contains(r#""id":9007199254740993"#), "{line}");
    }

    #[test]
    fn blank_lines_and_unreadable_notifications_are_skipped() {
        for line in [
            &b""[..],
            b"  \r\n",
            br#"{"jsonrpc":"2.0","method":"x/y","params":7}"#,
        ] {
            assert!(matches!(classify(line), Frame::Skip), "{line:?}");
        }
    }

    #[test]
    fn rejection_lines_are_json_rpc_errors() {
        let line = Rejection::parse_error("x").to_line();
        assert_eq!(line.last(), Some(&b'\n'));
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["id"], Value::Null);
        assert_eq!(v["error"]["code"], PARSE_ERROR);
        assert_eq!(v["jsonrpc"], "2.0");
    }

    #[test]
    fn long_details_are_clipped_on_a_char_boundary() {
        let r = Rejection::parse_error("é".repeat(500));
        assert!(r.message.len() <= MAX_DETAIL + '…'.len_utf8());
    }
}
