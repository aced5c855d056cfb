//! SEP-2322 multi round-trip requests (protocol 2026-07-28): the `test_input_required_result_*`
//! tools and the `test_input_required_result_prompt` prompt of the suite's
//! `input-required-result-*` scenarios, plus the SEP-2575 diagnostic tools that need client
//! input.
//!
//! A round that still lacks client input answers with an `InputRequiredResult` naming what it
//! needs (`inputRequests`); the client retries the same request with `inputResponses` and the
//! echoed `requestState`. The server keeps nothing between rounds: whatever a later round needs
//! travels in `requestState`, sealed with an HMAC ([`RequestStateCodec`]) and bound to the tool
//! (or prompt) name, because the client could otherwise forge it.

use std::time::Duration;

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ContentBlock,
        GetPromptRequestParams, GetPromptResponse, GetPromptResult, InputRequests,
        InputRequiredResult, InputResponses, PromptMessage, RequestStateCodec, Role, SealOptions,
    },
    service::RequestContext,
};
use serde_json::{Map, Value, json};

/// How long a sealed `requestState` stays valid: one retry round, generously.
const STATE_TTL: Duration = Duration::from_secs(600);

pub const ELICITATION: &str = "test_input_required_result_elicitation";
pub const SAMPLING: &str = "test_input_required_result_sampling";
pub const LIST_ROOTS: &str = "test_input_required_result_list_roots";
pub const REQUEST_STATE: &str = "test_input_required_result_request_state";
pub const MULTIPLE_INPUTS: &str = "test_input_required_result_multiple_inputs";
pub const MULTI_ROUND: &str = "test_input_required_result_multi_round";
pub const TAMPERED_STATE: &str = "test_input_required_result_tampered_state";
pub const CAPABILITIES: &str = "test_input_required_result_capabilities";
pub const STREAMING_ELICITATION: &str = "test_streaming_elicitation";
pub const MISSING_CAPABILITY: &str = "test_missing_capability";
pub const PROMPT: &str = "test_input_required_result_prompt";

/// The tools this module serves, with their descriptions (none takes arguments).
pub const TOOLS: &[(&str, &str)] = &[
    (
        ELICITATION,
        "SEP-2322: asks the client for a name (elicitation) via InputRequiredResult, then greets",
    ),
    (
        SAMPLING,
        "SEP-2322: asks the client's LLM a question (sampling) via InputRequiredResult",
    ),
    (
        LIST_ROOTS,
        "SEP-2322: asks for the client's roots (roots/list) via InputRequiredResult",
    ),
    (
        REQUEST_STATE,
        "SEP-2322: asks for a confirmation with a sealed requestState and verifies it on retry",
    ),
    (
        MULTIPLE_INPUTS,
        "SEP-2322: asks for an elicitation, a sampling and a roots/list answer in one round",
    ),
    (
        MULTI_ROUND,
        "SEP-2322: two input rounds (name, then colour), the state carried in requestState",
    ),
    (
        TAMPERED_STATE,
        "SEP-2322: rejects a requestState that fails integrity verification (-32602)",
    ),
    (
        CAPABILITIES,
        "SEP-2322: asks only for input the client declared a capability for",
    ),
    (
        STREAMING_ELICITATION,
        "SEP-2575: needs user input; asks for it in the result (never as a request on the stream)",
    ),
    (
        MISSING_CAPABILITY,
        "SEP-2575: needs the sampling capability; without it the call fails with -32021",
    ),
];

/// A client capability an input request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capability {
    Elicitation,
    Sampling,
    Roots,
}

/// One piece of input a round asks the client for, under `key` in `inputRequests`.
struct Ask {
    key: &'static str,
    capability: Capability,
    /// `{"method": ..., "params": ...}`
    request: Value,
}

impl Ask {
    /// A form elicitation for one required property.
    fn elicit(key: &'static str, message: &str, property: &str, kind: &str) -> Self {
        let request = json!({
            "method": "elicitation/create",
            "params": {
                "message": message,
                "requestedSchema": {
                    "type": "object",
                    "properties": {property: {"type": kind}},
                    "required": [property]
                }
            }
        });
        Self {
            key,
            capability: Capability::Elicitation,
            request,
        }
    }

    fn sample(key: &'static str, prompt: &str, max_tokens: u32) -> Self {
        let request = json!({
            "method": "sampling/createMessage",
            "params": {
                "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
                "maxTokens": max_tokens
            }
        });
        Self {
            key,
            capability: Capability::Sampling,
            request,
        }
    }

    fn roots(key: &'static str) -> Self {
        Self {
            key,
            capability: Capability::Roots,
            request: json!({"method": "roots/list", "params": {}}),
        }
    }

    /// The client's answer to this ask, if `responses` holds a well-formed one. A malformed
    /// answer counts as missing, so the round asks again.
    fn answer<'a>(&self, responses: &'a InputResponses) -> Option<&'a Value> {
        let answer = responses.get(self.key)?;
        let well_formed = match self.capability {
            Capability::Elicitation => answer["action"].is_string(),
            Capability::Sampling => answer["content"].is_object() || answer["content"].is_array(),
            Capability::Roots => answer["roots"].is_array(),
        };
        well_formed.then_some(answer)
    }
}

/// What a round produces: the final text, or a request for more input.
enum Round {
    Done(String),
    Ask(InputRequiredResult),
}

/// The input a retried request carries.
struct Input<'a> {
    responses: InputResponses,
    state: Option<&'a str>,
    capabilities: ClientCapabilities,
}

impl Input<'_> {
    fn has(&self, capability: Capability) -> bool {
        let caps = &self.capabilities;
        match capability {
            Capability::Elicitation => caps.elicitation.is_some(),
            Capability::Sampling => caps.sampling.is_some(),
            Capability::Roots => caps.roots.is_some(),
        }
    }

    /// SEP-2575: a request must not rely on a capability the client did not declare.
    fn require(&self, asks: &[Ask]) -> Result<(), McpError> {
        let mut missing = Map::new();
        for ask in asks.iter().filter(|ask| !self.has(ask.capability)) {
            let name = match ask.capability {
                Capability::Elicitation => "elicitation",
                Capability::Sampling => "sampling",
                Capability::Roots => "roots",
            };
            missing.insert(name.to_owned(), json!({}));
        }
        if missing.is_empty() {
            return Ok(());
        }
        let required = serde_json::from_value(Value::Object(missing))
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        Err(McpError::missing_required_client_capability(required))
    }
}

/// The MRTR tools and prompt, with the key that seals their `requestState`.
#[derive(Debug)]
pub struct Mrtr {
    codec: RequestStateCodec,
}

impl Mrtr {
    /// A fresh signing key per process: states from an earlier run are rightly rejected.
    pub fn new() -> Result<Self, String> {
        let codec = RequestStateCodec::try_new(random_key()).map_err(|e| e.to_string())?;
        Ok(Self { codec })
    }

    /// Run one round of the MRTR tool `request.name`; `None` if it is not one of them.
    pub fn call_tool(
        &self,
        request: &CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Option<Result<CallToolResponse, McpError>> {
        let input = Input {
            responses: request.input_responses.clone().unwrap_or_default(),
            state: request.request_state.as_deref(),
            capabilities: ctx.client_capabilities().unwrap_or_default(),
        };
        let name = request.name.as_ref();
        let round = match name {
            ELICITATION | STREAMING_ELICITATION => self.elicitation(&input),
            SAMPLING => single(&input, Ask::sample(CAPITAL, CAPITAL_QUESTION, 100), |a| {
                format!("LLM response: {}", sampled_text(a))
            }),
            LIST_ROOTS => single(&input, Ask::roots("client_roots"), |a| {
                format!("Client roots: {}", root_uris(a))
            }),
            REQUEST_STATE | TAMPERED_STATE => self.confirmation(name, &input),
            MULTIPLE_INPUTS => self.multiple_inputs(&input),
            MULTI_ROUND => self.multi_round(&input),
            CAPABILITIES => self.capabilities(&input),
            MISSING_CAPABILITY => missing_capability(&input),
            _ => return None,
        };
        Some(round.map(|round| match round {
            Round::Done(text) => CallToolResult::success(vec![ContentBlock::text(text)]).into(),
            Round::Ask(ask) => ask.into(),
        }))
    }

    /// One round of the MRTR prompt; `None` if `request` names another prompt.
    pub fn get_prompt(
        &self,
        request: &GetPromptRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Option<Result<GetPromptResponse, McpError>> {
        if request.name != PROMPT {
            return None;
        }
        let input = Input {
            responses: request.input_responses.clone().unwrap_or_default(),
            state: request.request_state.as_deref(),
            capabilities: ctx.client_capabilities().unwrap_or_default(),
        };
        let ask = Ask::elicit(
            "user_context",
            "What context should the prompt use?",
            "context",
            "string",
        );
        let round = single(&input, ask, |answer| {
            match accepted_field(answer, "context").and_then(Value::as_str) {
                Some(context) => format!("Answer using this context: {context}"),
                None => "Answer without extra context (the user gave none).".to_owned(),
            }
        });
        Some(round.map(|round| {
            match round {
                Round::Done(text) => {
                    GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                        .with_description("A prompt built from context the user supplied")
                        .into()
                }
                Round::Ask(ask) => ask.into(),
            }
        }))
    }

    fn elicitation(&self, input: &Input) -> Result<Round, McpError> {
        let ask = Ask::elicit("user_name", "What is your name?", "name", "string");
        single(input, ask, |answer| {
            match accepted_field(answer, "name").and_then(Value::as_str) {
                Some(name) => format!("Hello, {name}!"),
                None => format!("No name given (action={}).", action(answer)),
            }
        })
    }

    /// `test_input_required_result_request_state` and `..._tampered_state`: the confirmation
    /// only counts together with the `requestState` this server sealed for it.
    fn confirmation(&self, tool: &str, input: &Input) -> Result<Round, McpError> {
        let ask = Ask::elicit("confirm", "Please confirm", "ok", "boolean");
        input.require(std::slice::from_ref(&ask))?;
        let state = match input.state {
            Some(sealed) => self.open(tool, sealed)?,
            None => return self.ask(tool, vec![ask], &json!({"round": 1})),
        };
        let Some(answer) = ask.answer(&input.responses) else {
            return self.ask(tool, vec![ask], &state);
        };
        let confirmed = accepted_field(answer, "ok").and_then(Value::as_bool);
        Ok(Round::Done(format!(
            "state-ok: requestState verified; confirmed={}",
            confirmed.map_or("no answer".to_owned(), |ok| ok.to_string())
        )))
    }

    /// Three kinds of input in one round; the retry must answer all of them.
    fn multiple_inputs(&self, input: &Input) -> Result<Round, McpError> {
        let asks = || {
            vec![
                Ask::elicit("user_name", "What is your name?", "name", "string"),
                Ask::sample("greeting", "Generate a greeting", 50),
                Ask::roots("client_roots"),
            ]
        };
        input.require(&asks())?;
        let state = match input.state {
            Some(sealed) => self.open(MULTIPLE_INPUTS, sealed)?,
            None => json!({"round": 1}),
        };
        let missing: Vec<Ask> = asks()
            .into_iter()
            .filter(|ask| ask.answer(&input.responses).is_none())
            .collect();
        if input.state.is_none() || !missing.is_empty() {
            let asks = if missing.is_empty() { asks() } else { missing };
            return self.ask(MULTIPLE_INPUTS, asks, &state);
        }
        let responses = &input.responses;
        let name = accepted_field(&responses["user_name"], "name")
            .and_then(Value::as_str)
            .unwrap_or("(no name)");
        Ok(Round::Done(format!(
            "Name: {name}; greeting: {}; roots: {}",
            sampled_text(&responses["greeting"]),
            root_uris(&responses["client_roots"])
        )))
    }

    /// Round 1 asks for a name, round 2 (carrying the name in the sealed state) for a colour.
    fn multi_round(&self, input: &Input) -> Result<Round, McpError> {
        let step1 = || Ask::elicit("step1", "Step 1: What is your name?", "name", "string");
        let step2 = || {
            Ask::elicit(
                "step2",
                "Step 2: What is your favorite color?",
                "color",
                "string",
            )
        };
        input.require(&[step1()])?;
        let Some(sealed) = input.state else {
            return self.ask(MULTI_ROUND, vec![step1()], &json!({"round": 1}));
        };
        let state = self.open(MULTI_ROUND, sealed)?;
        match state["round"].as_u64() {
            Some(1) => match step1().answer(&input.responses) {
                Some(answer) => {
                    let name = accepted_field(answer, "name")
                        .and_then(Value::as_str)
                        .unwrap_or("stranger");
                    self.ask(
                        MULTI_ROUND,
                        vec![step2()],
                        &json!({"round": 2, "name": name}),
                    )
                }
                None => self.ask(MULTI_ROUND, vec![step1()], &state),
            },
            Some(2) => match step2().answer(&input.responses) {
                Some(answer) => {
                    let color = accepted_field(answer, "color")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown");
                    let name = state["name"].as_str().unwrap_or("stranger");
                    Ok(Round::Done(format!(
                        "Hello {name}, your favorite color is {color}."
                    )))
                }
                None => self.ask(MULTI_ROUND, vec![step2()], &state),
            },
            _ => Err(invalid_state()),
        }
    }

    /// Asks only for what the client declared it can answer.
    fn capabilities(&self, input: &Input) -> Result<Round, McpError> {
        let asks: Vec<Ask> = [
            Ask::elicit("user_name", "What is your name?", "name", "string"),
            Ask::sample(CAPITAL, CAPITAL_QUESTION, 100),
            Ask::roots("client_roots"),
        ]
        .into_iter()
        .filter(|ask| input.has(ask.capability))
        .collect();
        if asks.is_empty() {
            return Ok(Round::Done(
                "Nothing asked: the client declared none of elicitation, sampling, roots".into(),
            ));
        }
        let answered: Vec<&str> = asks
            .iter()
            .filter(|ask| ask.answer(&input.responses).is_some())
            .map(|ask| ask.key)
            .collect();
        if answered.len() == asks.len() {
            return Ok(Round::Done(format!("Received: {}", answered.join(", "))));
        }
        Ok(Round::Ask(input_required(asks, None)?))
    }

    fn ask(&self, tool: &str, asks: Vec<Ask>, state: &Value) -> Result<Round, McpError> {
        let sealed = self
            .codec
            .seal_json_with(
                state,
                &SealOptions::new()
                    .associated_data(tool.as_bytes())
                    .ttl(STATE_TTL),
            )
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        Ok(Round::Ask(input_required(asks, Some(sealed))?))
    }

    /// Verify a `requestState` sealed for `tool`. Every failure (forged, tampered, expired,
    /// sealed for another tool) is one client-facing error, as the codec's docs ask.
    fn open(&self, tool: &str, sealed: &str) -> Result<Value, McpError> {
        self.codec
            .open_json_with(sealed, tool.as_bytes())
            .map_err(|error| {
                tracing::debug!(%error, tool, "rejected a requestState");
                invalid_state()
            })
    }
}

const CAPITAL: &str = "capital_question";
const CAPITAL_QUESTION: &str = "What is the capital of France?";

/// A stateless one-ask round: done once the client answered, else ask (again).
fn single(input: &Input, ask: Ask, done: impl FnOnce(&Value) -> String) -> Result<Round, McpError> {
    input.require(std::slice::from_ref(&ask))?;
    match ask.answer(&input.responses) {
        Some(answer) => Ok(Round::Done(done(answer))),
        None => Ok(Round::Ask(input_required(vec![ask], None)?)),
    }
}

/// `test_missing_capability`: fails with -32021 unless the client declared sampling.
fn missing_capability(input: &Input) -> Result<Round, McpError> {
    let ask = Ask::sample(CAPITAL, CAPITAL_QUESTION, 100);
    input.require(std::slice::from_ref(&ask))?;
    Ok(Round::Done(
        "The client declared the sampling capability".into(),
    ))
}

fn input_required(asks: Vec<Ask>, state: Option<String>) -> Result<InputRequiredResult, McpError> {
    let requests: Map<String, Value> = asks
        .into_iter()
        .map(|ask| (ask.key.to_owned(), ask.request))
        .collect();
    let requests: InputRequests = serde_json::from_value(Value::Object(requests))
        .map_err(|e| McpError::internal_error(format!("bad input request: {e}"), None))?;
    Ok(InputRequiredResult::new(Some(requests), state))
}

fn invalid_state() -> McpError {
    McpError::invalid_params("requestState failed integrity verification", None)
}

/// `content[field]` of an elicitation answer the user accepted.
fn accepted_field<'a>(answer: &'a Value, field: &str) -> Option<&'a Value> {
    (answer["action"] == "accept")
        .then(|| answer["content"].get(field))
        .flatten()
}

fn action(answer: &Value) -> &str {
    answer["action"].as_str().unwrap_or("unknown")
}

/// The text of a sampling answer (`content` is one block, or an array of blocks).
fn sampled_text(answer: &Value) -> &str {
    match &answer["content"] {
        Value::Array(items) => items.iter().find_map(|item| item["text"].as_str()),
        content => content["text"].as_str(),
    }
    .unwrap_or("(no text)")
}

fn root_uris(answer: &Value) -> String {
    let uris: Vec<&str> = answer["roots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|root| root["uri"].as_str())
        .collect();
    if uris.is_empty() {
        "(none)".to_owned()
    } else {
        uris.join(", ")
    }
}

/// 32 bytes no client can predict. std's `RandomState` is seeded from the OS's randomness; its
/// hashes of distinct inputs are independent, so four of them make a key without another
/// dependency.
fn random_key() -> Vec<u8> {
    use std::hash::{BuildHasher, Hasher, RandomState};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    (0..4u64)
        .flat_map(|i| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(i);
            hasher.write_u128(nanos);
            hasher.finish().to_le_bytes()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mrtr() -> Mrtr {
        Mrtr::new().expect("a 32-byte key")
    }

    fn input<'a>(responses: Value, state: Option<&'a str>) -> Input<'a> {
        Input {
            responses: serde_json::from_value(responses).expect("responses"),
            state,
            capabilities: serde_json::from_value(
                json!({"sampling": {}, "elicitation": {}, "roots": {}}),
            )
            .expect("capabilities"),
        }
    }

    fn asked(round: Round) -> InputRequiredResult {
        match round {
            Round::Ask(ask) => ask,
            Round::Done(text) => panic!("expected input_required, got {text:?}"),
        }
    }

    #[test]
    fn input_requests_keep_their_method() {
        let result = input_required(
            vec![
                Ask::elicit("a", "m", "name", "string"),
                Ask::sample("b", "p", 10),
                Ask::roots("c"),
            ],
            None,
        )
        .expect("valid requests");
        let wire = serde_json::to_value(&result).expect("serializes");
        assert_eq!(wire["resultType"], "input_required");
        assert_eq!(wire["inputRequests"]["a"]["method"], "elicitation/create");
        assert_eq!(
            wire["inputRequests"]["b"]["method"],
            "sampling/createMessage"
        );
        assert_eq!(wire["inputRequests"]["c"]["method"], "roots/list");
        assert_eq!(
            wire["inputRequests"]["a"]["params"]["requestedSchema"]["required"],
            json!(["name"])
        );
    }

    #[test]
    fn multi_round_carries_the_name_in_sealed_state() {
        let mrtr = mrtr();
        let first = asked(mrtr.multi_round(&input(json!({}), None)).expect("round 1"));
        let state1 = first.request_state.expect("state");
        let answer = json!({"step1": {"action": "accept", "content": {"name": "Alice"}}});
        let second = asked(
            mrtr.multi_round(&input(answer, Some(&state1)))
                .expect("round 2"),
        );
        let state2 = second.request_state.expect("state");
        assert_ne!(state1, state2);
        let answer = json!({"step2": {"action": "accept", "content": {"color": "blue"}}});
        match mrtr
            .multi_round(&input(answer, Some(&state2)))
            .expect("round 3")
        {
            Round::Done(text) => assert_eq!(text, "Hello Alice, your favorite color is blue."),
            Round::Ask(_) => panic!("expected a complete result"),
        }
    }

    #[test]
    fn tampered_or_foreign_state_is_rejected() {
        let mrtr = mrtr();
        let first = asked(
            mrtr.confirmation(TAMPERED_STATE, &input(json!({}), None))
                .expect("round 1"),
        );
        let sealed = first.request_state.expect("state");
        let answer = json!({"confirm": {"action": "accept", "content": {"ok": true}}});
        let tampered = format!("{sealed}-TAMPERED");
        let error = mrtr
            .confirmation(TAMPERED_STATE, &input(answer.clone(), Some(&tampered)))
            .err()
            .expect("rejected");
        assert_eq!(error.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        // Sealed for one tool, replayed on another.
        assert!(
            mrtr.confirmation(REQUEST_STATE, &input(answer.clone(), Some(&sealed)))
                .is_err()
        );
        assert!(matches!(
            mrtr.confirmation(TAMPERED_STATE, &input(answer, Some(&sealed))),
            Ok(Round::Done(_))
        ));
    }

    #[test]
    fn malformed_answers_are_asked_again() {
        let mrtr = mrtr();
        for responses in [
            json!({}),
            json!({"wrong_key": {"action": "accept", "content": {}}}),
            json!({"user_name": 12345}),
        ] {
            assert!(matches!(
                mrtr.elicitation(&input(responses, None)),
                Ok(Round::Ask(_))
            ));
        }
    }

    #[test]
    fn undeclared_capability_is_32021() {
        let mut input = input(json!({}), None);
        input.capabilities = ClientCapabilities::default();
        let error = missing_capability(&input).err().expect("rejected");
        assert_eq!(
            error.code,
            rmcp::model::ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
        );
        assert_eq!(
            error.data.expect("data")["requiredCapabilities"],
            json!({"sampling": {}})
        );
    }
}
