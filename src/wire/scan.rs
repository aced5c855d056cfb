//! The forwarding fast path's reading and writing of lines: only what routing needs is read (the
//! id, the method, the tool's name; of an answer, its id and whether it is an error), and the
//! line to send on is assembled around the original bytes of the arguments or the result, which
//! are never decoded.
//!
//! What the fast path takes is narrower than what the typed path accepts: a `tools/call` request
//! with exactly the keys `jsonrpc`, `id`, `method` and `params`, whose params carry no task
//! request and no input responses, whose `_meta` holds at most a progress token and a W3C trace
//! context, and whose arguments are an object or absent. Everything else is left to the typed
//! path, which gives the same request or the same error it always did. A child's answer is taken
//! when its id is one of the fast path's own (`"~f<n>"`, a string rmcp never sends), and its
//! progress when the token is (`"~p<n>"`: the host's token is swapped for ours on the way in and
//! back on the way out, so no token of the host's can collide with the typed path's).

use std::borrow::Cow;

use rmcp::model::{JsonRpcVersion2_0, ProgressToken, RequestId};
use serde::{Deserialize, Deserializer, de::IgnoredAny};
use serde_json::value::RawValue;

/// The method the fast path forwards.
const TOOLS_CALL: &str = "tools/call";

/// The prefix of the fast path's own request ids toward a child.
const LANE_ID: &str = "~f";

/// The prefix of the fast path's own progress tokens toward a child.
const LANE_TOKEN: &str = "~p";

/// Whether a key was present, whatever its value.
#[derive(Default)]
struct Seen(bool);

impl<'de> Deserialize<'de> for Seen {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer)?;
        Ok(Self(true))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostCall<'a> {
    #[expect(dead_code, reason = "read to require \"2.0\"")]
    jsonrpc: JsonRpcVersion2_0,
    id: RequestId,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow)]
    params: CallParams<'a>,
}

#[derive(Deserialize)]
struct CallParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "_meta")]
    meta: Option<CallMeta<'a>>,
    #[serde(default)]
    task: Seen,
    #[serde(default, rename = "inputResponses")]
    input_responses: Seen,
    #[serde(default, rename = "requestState")]
    request_state: Seen,
}

/// The `_meta` of a call the fast path takes: what the typed path passes to a child, no more.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallMeta<'a> {
    /// The host's progress token.
    #[serde(rename = "progressToken")]
    pub progress_token: Option<ProgressToken>,
    /// W3C trace context, passed to the child as it came.
    #[serde(borrow)]
    pub traceparent: Option<Cow<'a, str>>,
    /// W3C trace state.
    #[serde(borrow)]
    pub tracestate: Option<Cow<'a, str>>,
}

/// A host's `tools/call` as the fast path reads it.
#[derive(Debug)]
pub struct CallHead<'a> {
    /// The host's request id.
    pub id: RequestId,
    /// The host-facing tool name.
    pub name: Cow<'a, str>,
    /// The arguments, as the host wrote them (an object), if any.
    pub arguments: Option<&'a RawValue>,
    /// Its `_meta`.
    pub meta: CallMeta<'a>,
}

/// `line` as a `tools/call` the fast path can forward, or `None` for the typed path.
pub fn call_head(line: &[u8]) -> Option<CallHead<'_>> {
    // Cheap refusals first: most other messages are not calls.
    memchr(line, b"tools/call")?;
    let call: HostCall<'_> = serde_json::from_slice(line).ok()?;
    let p = &call.params;
    if call.method != TOOLS_CALL
        || p.task.0
        || p.input_responses.0
        || p.request_state.0
        || p.arguments.is_some_and(|a| !a.get().starts_with('{'))
    {
        return None;
    }
    Some(CallHead {
        id: call.id,
        name: call.params.name,
        arguments: call.params.arguments,
        meta: call.params.meta.unwrap_or_default(),
    })
}

/// The line that sends `tool` with `arguments` to a child under the fast path's id `n`; with
/// `meta`, its trace context as the host sent it and, if the host asked for progress, the fast
/// path's token `~p<n>` in place of the host's.
pub fn child_request(
    n: u64,
    tool: &str,
    arguments: Option<&RawValue>,
    meta: &CallMeta<'_>,
) -> Vec<u8> {
    let args = arguments.map_or(0, |a| a.get().len());
    let mut out = Vec::with_capacity(128 + tool.len() + args);
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":""#);
    out.extend_from_slice(LANE_ID.as_bytes());
    out.extend_from_slice(n.to_string().as_bytes());
    out.extend_from_slice(br#"","method":"tools/call","params":{"#);
    if meta.progress_token.is_some() || meta.traceparent.is_some() {
        let mut m = serde_json::Map::new();
        if meta.progress_token.is_some() {
            m.insert("progressToken".into(), format!("{LANE_TOKEN}{n}").into());
        }
        // The typed path's rule: trace state goes only with a trace parent.
        if let Some(p) = &meta.traceparent {
            m.insert("traceparent".into(), p.as_ref().into());
            if let Some(st) = meta.tracestate.as_deref().filter(|s| !s.is_empty()) {
                m.insert("tracestate".into(), st.into());
            }
        }
        out.extend_from_slice(br#""_meta":"#);
        let _ = serde_json::to_writer(&mut out, &m);
        out.push(b',');
    }
    out.extend_from_slice(br#""name":"#);
    // A tool name is the child's own, from its list: serde escapes it as JSON needs.
    out.extend_from_slice(&serde_json::to_vec(tool).unwrap_or_else(|_| b"\"\"".to_vec()));
    if let Some(a) = arguments {
        out.extend_from_slice(br#","arguments":"#);
        out.extend_from_slice(a.get().as_bytes());
    }
    out.extend_from_slice(b"}}\n");
    out
}

/// The notification that tells a child the fast path's request `n` is cancelled.
pub fn child_cancel(n: u64, reason: &str) -> Vec<u8> {
    let line = serde_json::json!({
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": format!("{LANE_ID}{n}"), "reason": reason},
    });
    let mut out = serde_json::to_vec(&line).unwrap_or_default();
    out.push(b'\n');
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChildAnswer<'a> {
    #[expect(dead_code, reason = "read to require \"2.0\"")]
    jsonrpc: JsonRpcVersion2_0,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// A child's answer to a fast-path request.
#[derive(Debug)]
pub enum Answer<'a> {
    /// A result, unread.
    Result(&'a RawValue),
    /// A JSON-RPC error object, unread.
    Error(&'a RawValue),
    /// Neither, or both: not a valid answer.
    Invalid,
}

/// The fast path's request number `line` answers, with the answer; `None` when the line is not
/// an answer to one of its requests (it is then rmcp's).
pub fn child_answer(line: &[u8]) -> Option<(u64, Answer<'_>)> {
    memchr(line, br#""~f"#)?;
    let a: ChildAnswer<'_> = serde_json::from_slice(line).ok()?;
    let n = a.id.strip_prefix(LANE_ID)?.parse().ok()?;
    let answer = match (a.result, a.error) {
        (Some(r), None) => Answer::Result(r),
        (None, Some(e)) => Answer::Error(e),
        _ => Answer::Invalid,
    };
    Some((n, answer))
}

/// The fast path's request number behind a child's id, if the id is one of its own.
pub fn lane_number(id: &RequestId) -> Option<u64> {
    match id {
        RequestId::String(s) => s.strip_prefix(LANE_ID)?.parse().ok(),
        RequestId::Number(_) => None,
    }
}

#[derive(Deserialize)]
struct ResultHead {
    #[serde(default)]
    content: Seen,
    #[serde(default, rename = "resultType")]
    result_type: Seen,
    #[serde(default, rename = "isError")]
    is_error: Option<bool>,
}

/// What a result is, read from its top-level keys only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    /// A call result (it has `content`): passed on as it is.
    Call {
        /// Its `isError`.
        is_error: bool,
    },
    /// Something else (a task, an input request, or not a result of `tools/call`): the typed
    /// path's reading decides what the host gets.
    Other,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChildProgress<'a> {
    #[expect(dead_code, reason = "read to require \"2.0\"")]
    jsonrpc: JsonRpcVersion2_0,
    #[serde(borrow)]
    method: Cow<'a, str>,
    params: serde_json::Map<String, serde_json::Value>,
}

/// A child's progress notification under one of the fast path's tokens: the request number and
/// the notification's params (small; read whole, since the token in them is swapped back).
pub fn child_progress(line: &[u8]) -> Option<(u64, serde_json::Map<String, serde_json::Value>)> {
    memchr(line, br#""~p"#)?;
    let p: ChildProgress<'_> = serde_json::from_slice(line).ok()?;
    if p.method != "notifications/progress" {
        return None;
    }
    let n = p
        .params
        .get("progressToken")?
        .as_str()?
        .strip_prefix(LANE_TOKEN)?
        .parse()
        .ok()?;
    Some((n, p.params))
}

/// The progress notification for the host: `params` under the host's `token`.
pub fn host_progress(
    token: &ProgressToken,
    mut params: serde_json::Map<String, serde_json::Value>,
) -> Vec<u8> {
    params.insert(
        "progressToken".into(),
        serde_json::to_value(token).unwrap_or_default(),
    );
    let line = serde_json::json!({
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": params,
    });
    let mut out = serde_json::to_vec(&line).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The kind of a child's result.
pub fn result_kind(result: &RawValue) -> ResultKind {
    match serde_json::from_str::<ResultHead>(result.get()) {
        Ok(h) if h.content.0 && !h.result_type.0 => ResultKind::Call {
            is_error: h.is_error == Some(true),
        },
        _ => ResultKind::Other,
    }
}

/// The line answering the host's request `id` with `result`.
pub fn host_result(id: &RequestId, result: &RawValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + result.get().len());
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    let _ = serde_json::to_writer(&mut out, id);
    out.extend_from_slice(br#","result":"#);
    out.extend_from_slice(result.get().as_bytes());
    out.extend_from_slice(b"}\n");
    out
}

fn memchr(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The fast path's equivalence with the typed path, checked on one host line and one child
/// result (the fuzz target's and the tests' one oracle; panics on a difference).
///
/// - A host line the fast path takes is one the typed path reads as a `tools/call` of the same
///   id, name and arguments, and the line sent to the child is the typed path's request (same
///   method, name and arguments; the ids differ, and the typed path adds a progress token).
/// - A child result the fast path passes as a call result reads, at the host, as the same call
///   result the typed path would have sent, whenever the typed path can read it at all. (One
///   the typed path cannot read, such as an unknown content type, reaches the host unchanged,
///   for the host's own SDK to judge, where the typed path would refuse it.)
#[doc(hidden)]
pub fn check_equivalence(host_line: &[u8], child_result: &[u8]) {
    use rmcp::model::{
        CallToolRequestParams, CallToolResult, ClientJsonRpcMessage, ClientRequest, Request,
    };
    if let Some(head) = call_head(host_line) {
        let typed: ClientJsonRpcMessage =
            serde_json::from_slice(host_line).expect("the typed path refuses a fast-path call");
        let rmcp::model::JsonRpcMessage::Request(r) = typed else {
            panic!("the typed path reads no request")
        };
        // rmcp keeps a request's `_meta` in its extensions.
        let host_meta = rmcp::model::GetMeta::get_meta(&r.request).clone();
        let ClientRequest::CallToolRequest(call) = r.request else {
            panic!("the typed path reads another request")
        };
        assert_eq!(r.id, head.id);
        assert_eq!(call.params.name, head.name);
        let mut params = CallToolRequestParams::new(call.params.name.to_string());
        params.arguments = call.params.arguments.clone();
        // What the typed path passes on of the host's `_meta` while no traces are exported (its
        // own progress token aside, removed below from both).
        let mut meta = rmcp::model::RequestMetaObject::new();
        if let Some(p) = host_meta.get_traceparent() {
            meta.set_traceparent(p);
            if let Some(s) = host_meta.get_tracestate().filter(|s| !s.is_empty()) {
                meta.set_tracestate(s);
            }
        }
        if host_meta.get_progress_token().is_some() {
            meta.set_progress_token(ProgressToken(rmcp::model::NumberOrString::Number(0)));
        }
        // As the dispatcher and rmcp write it: `_meta` from the request's extensions.
        let mut request = ClientRequest::CallToolRequest(Request::new(params));
        if !meta.is_empty() {
            *rmcp::model::GetMeta::get_meta_mut(&mut request) = meta;
        }
        let sent = rmcp::model::JsonRpcMessage::<ClientRequest, (), ()>::request(
            request,
            RequestId::Number(1),
        );
        let mut want = serde_json::to_value(&sent).expect("serialises");
        let mut got: serde_json::Value =
            serde_json::from_slice(&child_request(1, &head.name, head.arguments, &head.meta))
                .expect("the fast path writes JSON");
        for v in [&mut want, &mut got] {
            v.as_object_mut().map(|o| o.remove("id"));
            // A token is there iff the host asked for progress; its value is each path's own.
            if let Some(t) = v.pointer_mut("/params/_meta/progressToken") {
                *t = serde_json::Value::Null;
            }
        }
        assert_eq!(got, want, "the child would see different requests");
    }
    let Ok(raw) = serde_json::from_slice::<&RawValue>(child_result) else {
        return;
    };
    if let ResultKind::Call { is_error } = result_kind(raw) {
        let id = RequestId::String("h".into());
        let line = host_result(&id, raw);
        let host: serde_json::Value =
            serde_json::from_slice(&line).expect("valid JSON to the host");
        assert_eq!(host["id"], "h");
        if let Ok(typed) = serde_json::from_str::<CallToolResult>(raw.get()) {
            let fast: CallToolResult =
                serde_json::from_value(host["result"].clone()).expect("the host reads it");
            assert_eq!(fast, typed, "the host would see different results");
            assert_eq!(is_error, typed.is_error == Some(true));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn value(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn a_plain_call_is_read_and_rewritten_around_its_arguments() {
        let line = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"fx__echo","arguments":{"message":"h\u00e9"}}}"#;
        let head = call_head(line).unwrap();
        assert_eq!(head.id, RequestId::Number(7));
        assert_eq!(head.name, "fx__echo");
        let out = child_request(12, "echo", head.arguments, &head.meta);
        assert_eq!(
            value(&out),
            json!({"jsonrpc":"2.0","id":"~f12","method":"tools/call",
                   "params":{"name":"echo","arguments":{"message":"hé"}}})
        );
        assert!(out.ends_with(b"}}\n"));
        assert!(
            std::str::from_utf8(&out).unwrap().contains(r#"h\u00e9"#),
            "the arguments' bytes are passed on as written"
        );
    }

    #[test]
    fn anything_the_fast_path_does_not_own_is_left_to_the_typed_path() {
        for line in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#[..],
            br#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"other":1}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":1.5}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","task":{}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":[1]}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"},"extra":1}"#,
            br#"{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/call","params":{"name":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}"#,
        ] {
            assert!(
                call_head(line).is_none(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn answers_are_matched_by_the_fast_paths_own_ids() {
        let (n, a) =
            child_answer(br#"{"jsonrpc":"2.0","id":"~f3","result":{"content":[]}}"#).unwrap();
        assert_eq!(n, 3);
        let Answer::Result(r) = a else { panic!() };
        assert_eq!(result_kind(r), ResultKind::Call { is_error: false });
        assert!(child_answer(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#).is_none());
        assert!(child_answer(br#"{"jsonrpc":"2.0","id":"x~f3","result":{}}"#).is_none());
        let (_, a) = child_answer(br#"{"jsonrpc":"2.0","id":"~f4","error":{"code":-1}}"#).unwrap();
        assert!(matches!(a, Answer::Error(_)));
        let (_, a) = child_answer(br#"{"jsonrpc":"2.0","id":"~f4"}"#).unwrap();
        assert!(matches!(a, Answer::Invalid));
        let task: &RawValue =
            serde_json::from_str(r#"{"resultType":"task","content":[]}"#).unwrap();
        assert_eq!(result_kind(task), ResultKind::Other);
        let failed: &RawValue = serde_json::from_str(r#"{"content":[],"isError":true}"#).unwrap();
        assert_eq!(result_kind(failed), ResultKind::Call { is_error: true });
    }

    #[test]
    fn the_oracle_holds_on_the_seed_corpus() {
        let lines = [
            &br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"fx__echo","arguments":{"message":"h\u00e9","n":[1,2.5e3,null]}}}"#[..],
            br#"{"params":{"arguments":{},"name":"a"b"},"method":"tools\/call","id":"x","jsonrpc":"2.0"}"#,
            br#"{"jsonrpc":"2.0","id":-3,"method":"tools/call","params":{"name":"n","arguments":null,"extra":1}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"n","arguments":{"a":1,"a":2}}}"#,
            br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"p","_meta":{"progressToken":"t-1","traceparent":"00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01","tracestate":"a=b"}}}"#,
            br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"p","_meta":{"tracestate":"a=b","progressToken":9}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        ];
        let results = [
            &br#"{"content":[{"type":"text","text":"hi"}],"structuredContent":{"a":1},"isError":false,"_meta":{"k":"v"}}"#[..],
            br#"{"content":[],"isError":true,"extra":[1]}"#,
            br#"{"content":[{"type":"image","data":"AAAA","mimeType":"image/png"}]}"#,
            br#"{"content":[{"type":"unheard-of"}]}"#,
            br#"{"resultType":"task","task":{}}"#,
            b"[]",
        ];
        for line in lines {
            for result in results {
                check_equivalence(line, result);
            }
        }
    }

    #[test]
    fn the_host_gets_its_own_id_back() {
        let r: &RawValue =
            serde_json::from_str(r#"{"content":[{"type":"text","text":"x"}]}"#).unwrap();
        for id in [RequestId::Number(9), RequestId::String("a\"b".into())] {
            let out = host_result(&id, r);
            let v = value(&out);
            assert_eq!(v["id"], serde_json::to_value(&id).unwrap());
            assert_eq!(v["result"]["content"][0]["text"], "x");
        }
        let cancel = value(&child_cancel(5, "cancelled by the MCP host"));
        assert_eq!(cancel["params"]["requestId"], "~f5");
    }

    #[test]
    fn progress_goes_out_under_our_token_and_comes_back_under_the_hosts() {
        let line = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a__slow","_meta":{"progressToken":"host-7"}}}"#;
        let head = call_head(line).unwrap();
        let out = value(&child_request(4, "slow", None, &head.meta));
        assert_eq!(out["params"]["_meta"], json!({"progressToken": "~p4"}));
        let (n, params) = child_progress(
            br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"~p4","progress":1,"total":2}}"#,
        )
        .unwrap();
        assert_eq!(n, 4);
        let token = head.meta.progress_token.unwrap();
        let back = value(&host_progress(&token, params));
        assert_eq!(
            back,
            json!({"jsonrpc":"2.0","method":"notifications/progress",
                   "params":{"progressToken":"host-7","progress":1,"total":2}})
        );
        assert!(child_progress(br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":3}}"#).is_none());
    }
}
