//! The direct way to read the messages every forwarded call carries.
//!
//! rmcp's message types are untagged enums. Reading one makes serde buffer the whole message and
//! try variant after variant, nested three deep: a `tools/call` request is the 14th of 22
//! request types, its result the 16th of 20 result types. Profiling `serve` put that at about a
//! quarter of the orchestrator's CPU per forwarded call. So a host's line first gets a single
//! pass that skips every value and notes its top-level keys and method (`Shape`), and a
//! `tools/call` request is then read straight into its one type; a child's line is read once as
//! a response with its result left raw, checked by the same key rule, and the result of a
//! `tools/call` read straight into its type. Anything else, and anything the direct read
//! refuses, takes rmcp's own path, so what is accepted and how it is classified does not change.

use std::{borrow::Cow, fmt};

use rmcp::model::{
    CallToolRequest, CallToolResult, ClientJsonRpcMessage, ClientRequest, JsonRpcMessage,
    JsonRpcRequest, JsonRpcResponse, JsonRpcVersion2_0, RequestId, ServerJsonRpcMessage,
    ServerResult,
};
use serde::{
    Deserialize, Deserializer,
    de::{IgnoredAny, MapAccess, Visitor},
};

/// The method of the requests read directly.
const TOOLS_CALL: &str = "tools/call";

/// Which top-level keys a JSON-RPC object has, with its method when that is a string.
///
/// Presence is what counts, as in rmcp's own check: `"result": null` is a result key.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Shape<'a> {
    method: Option<Cow<'a, str>>,
    has_id: bool,
    has_result: bool,
    has_error: bool,
}

impl<'a> Shape<'a> {
    /// The shape of `line`, or `None` when it is not a JSON object with a string or no method.
    pub(crate) fn of(line: &'a [u8]) -> Option<Self> {
        serde_json::from_slice(line).ok()
    }

    /// A request for `method` (rmcp's rule: method and id, no result or error).
    fn is_request_for(&self, method: &str) -> bool {
        self.has_id && !self.has_result && !self.has_error && self.method.as_deref() == Some(method)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Shape<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;

        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = Shape<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON-RPC message")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut shape = Shape::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "method" => {
                            shape.method = Some(map.next_value::<Cow<'de, str>>()?);
                            continue;
                        }
                        "id" => shape.has_id = true,
                        "result" => shape.has_result = true,
                        "error" => shape.has_error = true,
                        _ => {}
                    }
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(shape)
            }
        }

        deserializer.deserialize_map(ShapeVisitor)
    }
}

/// A host's `tools/call` request read directly, or `None` for rmcp's path.
pub fn client_message(line: &[u8]) -> Option<ClientJsonRpcMessage> {
    if !Shape::of(line)?.is_request_for(TOOLS_CALL) {
        return None;
    }
    let request: JsonRpcRequest<CallToolRequest> = serde_json::from_slice(line).ok()?;
    Some(JsonRpcMessage::Request(JsonRpcRequest {
        jsonrpc: request.jsonrpc,
        id: request.id,
        request: ClientRequest::CallToolRequest(request.request),
    }))
}

/// Whether a key was present, whatever its value (`null` too): rmcp's shape rule counts keys.
#[derive(Default)]
struct Seen(bool);

impl<'de> Deserialize<'de> for Seen {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer)?;
        Ok(Self(true))
    }
}

/// The fields of a response, its result kept unread until we know which type it is; one pass
/// both reads them and applies rmcp's shape rule.
#[derive(Deserialize)]
struct RawResponse<'a> {
    jsonrpc: JsonRpcVersion2_0,
    id: RequestId,
    #[serde(borrow)]
    result: &'a serde_json::value::RawValue,
    #[serde(default)]
    method: Seen,
    #[serde(default)]
    error: Seen,
}

impl<'a> RawResponse<'a> {
    /// `line` as a success response (rmcp's rule: result, no method or error), or `None`.
    fn read(line: &'a [u8]) -> Option<Self> {
        let response: Self = serde_json::from_slice(line).ok()?;
        (!response.method.0 && !response.error.0).then_some(response)
    }
}

/// A child's response read directly when `is_tool_call` says its id is that of a `tools/call`
/// we sent; `None` for rmcp's path.
pub fn server_response(
    line: &[u8],
    is_tool_call: impl FnOnce(&RequestId) -> bool,
) -> Option<ServerJsonRpcMessage> {
    let response = RawResponse::read(line)?;
    if !is_tool_call(&response.id) {
        return None;
    }
    let result: CallToolResult = serde_json::from_str(response.result.get()).ok()?;
    Some(JsonRpcMessage::Response(JsonRpcResponse {
        jsonrpc: response.jsonrpc,
        id: response.id,
        result: ServerResult::CallToolResult(result),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic_client(line: &[u8]) -> ClientJsonRpcMessage {
        serde_json::from_slice(line).unwrap()
    }

    #[test]
    fn shapes_follow_rmcps_key_rule() {
        let s = Shape::of(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#);
        assert!(s.unwrap().is_request_for(TOOLS_CALL));
        let s = Shape::of(br#"{"id":1,"method":"tools/call","result":null}"#).unwrap();
        assert!(
            !s.is_request_for(TOOLS_CALL),
            "a stray result makes it no request"
        );
        let s = Shape::of(br#"{"method":"tools/call"}"#).unwrap();
        assert!(
            !s.is_request_for(TOOLS_CALL),
            "a notification is no request"
        );
        let response = |line: &[u8]| RawResponse::read(line).is_some();
        assert!(response(br#"{"jsonrpc":"2.0","id":1,"result":null}"#));
        assert!(!response(
            br#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#
        ));
        assert!(!response(
            br#"{"jsonrpc":"2.0","id":1,"result":{},"method":7}"#
        ));
        assert!(!response(
            br#"{"jsonrpc":"2.0","id":1,"result":{},"error":null}"#
        ));
        assert_eq!(Shape::of(b"[1]"), None);
        assert_eq!(Shape::of(b"{\"id\":1,"), None);
        // Escaped keys and methods are read too.
        let s = Shape::of(br#"{"\u0069d":1,"method":"tools\/call"}"#).unwrap();
        assert!(s.is_request_for(TOOLS_CALL));
    }

    #[test]
    fn a_tools_call_request_reads_as_rmcp_reads_it() {
        for line in [
            &br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"a__echo","arguments":{"text":"hi"}}}"#[..],
            br#"{"params":{"name":"x","_meta":{"progressToken":"p1"}},"method":"tools/call","id":"s-1","jsonrpc":"2.0"}"#,
        ] {
            let direct = client_message(line).expect("read directly");
            let generic = generic_client(line);
            // The types have no PartialEq; their wire form and Debug (extensions included) do.
            assert_eq!(format!("{direct:?}"), format!("{generic:?}"));
            assert_eq!(
                serde_json::to_value(&direct).unwrap(),
                serde_json::to_value(&generic).unwrap()
            );
        }
    }

    #[test]
    fn other_requests_and_bad_calls_take_rmcps_path() {
        for line in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#[..],
            br#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"nme":"x"}}"#,
            br#"{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"},"error":{}}"#,
            br#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"x"}}"#,
        ] {
            assert!(
                client_message(line).is_none(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn a_tools_call_result_reads_as_the_call_result_type() {
        let line = br#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"hi"}],"structuredContent":{"a":1},"isError":false,"_meta":{"k":"v"}}}"#;
        let direct = server_response(line, |id| *id == RequestId::Number(3)).unwrap();
        let JsonRpcMessage::Response(r) = &direct else {
            panic!("{direct:?}")
        };
        let ServerResult::CallToolResult(result) = &r.result else {
            panic!("{direct:?}")
        };
        let expected: CallToolResult = serde_json::from_value(serde_json::json!({
            "content":[{"type":"text","text":"hi"}],"structuredContent":{"a":1},"isError":false,"_meta":{"k":"v"}
        }))
        .unwrap();
        assert_eq!(*result, expected);
        assert_eq!(
            serde_json::to_value(&direct).unwrap(),
            serde_json::from_slice::<serde_json::Value>(line).unwrap()
        );
    }

    #[test]
    fn other_responses_take_rmcps_path() {
        let call = |_: &RequestId| true;
        let tools = br#"{"jsonrpc":"2.0","id":3,"result":{"tools":[]}}"#;
        assert!(
            server_response(tools, call).is_none(),
            "no call-result field"
        );
        let line = br#"{"jsonrpc":"2.0","id":3,"result":{"content":[]}}"#;
        assert!(
            server_response(line, |_| false).is_none(),
            "not an id we sent a call under"
        );
        let err = br#"{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"x"}}"#;
        assert!(server_response(err, call).is_none());
        let task = br#"{"jsonrpc":"2.0","id":3,"result":{"resultType":"task","task":{}}}"#;
        assert!(server_response(task, call).is_none());
    }
}
