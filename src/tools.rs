//! One table of host-facing tool names. Each [`ToolSource`] offers some tools; [`Sources`] lists
//! them in a fixed order and sends each call to the first source that owns its name, so a name
//! is resolved once, in one place, and the names of earlier sources are reserved against later
//! ones (a child's bare tool can never shadow `chat` or `orchestrator_status`).
//!
//! Order: [`own`] (`orchestrator_status`, `orchestrator_capabilities`), [`own::Admin`] (control
//! sessions only), [`unified`] (`chat`, `embed`, `search_web`, `get_weather`, `list_models`), then
//! [`children`], which owns every other name and answers the ones that route nowhere with the
//! reason.

pub mod children;
pub mod fast;
pub mod jobs;
pub mod own;
pub mod unified;
pub mod workflows;

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use rmcp::model::{JsonObject, Tool};

use crate::{
    dispatch::{
        BoxFuture, CallContext, CallOutcome, CallRequest, Caller, Catalog, ToolCaller, ToolRef,
    },
    error::RouteError,
};

/// A source of host-facing tools.
pub trait ToolSource: Send + Sync {
    /// The names this source may ever own, whatever is configured: what later sources must not
    /// take. Empty for a source whose names come from elsewhere (the children).
    fn reserved(&self) -> &'static [&'static str];

    /// The tools it lists to `caller` now.
    fn tools(&self, caller: Caller) -> Vec<Tool>;

    /// Whether a call of `name` by `caller` is this source's to answer.
    fn owns(&self, name: &str, caller: Caller) -> bool;

    /// Answers a call of `name`, which it owns.
    fn call<'a>(
        &'a self,
        name: &'a str,
        arguments: Option<JsonObject>,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>>;
}

/// The ordered table of sources.
#[derive(Clone, Default)]
pub struct Sources {
    list: Vec<Arc<dyn ToolSource>>,
}

impl Sources {
    /// A table in this order.
    pub fn new(list: Vec<Arc<dyn ToolSource>>) -> Self {
        Self { list }
    }

    /// Every name reserved by the sources, in order.
    pub fn reserved(&self) -> Vec<String> {
        self.list
            .iter()
            .flat_map(|s| s.reserved().iter().map(|n| (*n).to_owned()))
            .collect()
    }

    /// What `tools/list` answers `caller`.
    pub fn tools(&self, caller: Caller) -> Vec<Tool> {
        self.list.iter().flat_map(|s| s.tools(caller)).collect()
    }

    /// The tool `caller` would reach by `name`, from the source that owns the name (the rule a
    /// call follows), without listing the other sources' tools.
    pub fn tool(&self, name: &str, caller: Caller) -> Option<Tool> {
        self.list
            .iter()
            .find(|s| s.owns(name, caller))?
            .tools(caller)
            .into_iter()
            .find(|t| t.name == name)
    }

    /// Whether `name` is owned by the last source (the children's, which owns whatever the
    /// others do not): the calls the forwarding fast path may take.
    pub fn last_owns(&self, name: &str, caller: Caller) -> bool {
        match self.list.split_last() {
            Some((_, before)) => !before.iter().any(|s| s.owns(name, caller)),
            None => false,
        }
    }

    /// Sends a call to the source that owns its name.
    pub async fn call(
        &self,
        name: &str,
        arguments: Option<JsonObject>,
        cx: &CallContext,
    ) -> Result<CallOutcome, RouteError> {
        match self.list.iter().find(|s| s.owns(name, cx.caller)) {
            Some(source) => source.call(name, arguments, cx).await,
            None => Err(RouteError::Unknown {
                kind: crate::error::ItemKind::Tool,
                name: name.to_owned(),
            }),
        }
    }
}

/// What a tool job may call: the sources' host-facing tools, once the children have started.
pub struct HostTools {
    sources: Sources,
    registry: Arc<crate::registry::Registry>,
}

impl HostTools {
    /// The tools of `sources`, waiting on `registry`'s children.
    pub fn new(sources: Sources, registry: Arc<crate::registry::Registry>) -> Self {
        Self { sources, registry }
    }
}

impl crate::jobs::ToolIndex for HostTools {
    fn tool(&self, name: &str) -> Option<Tool> {
        self.sources.tool(name, Caller::Host)
    }

    fn settle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let limit = self.registry.config().settings.startup_timeout;
            self.registry.wait_started(limit).await;
            // The surface task rebuilds after a debounce: a child that has just come up is
            // listed now, not then.
            self.registry.refresh_surface();
        })
    }
}

/// The [`ToolCaller`] workflows call through: a child's own tool goes to the children, a
/// host-facing name through the table of sources exactly as a host's call would (so unified
/// tools' fallback and other workflows are steps too). The table is set once it is built, since
/// the workflow tools in it hold the engine that holds this caller.
pub struct Router {
    children: Arc<dyn ToolCaller>,
    sources: OnceLock<Sources>,
}

impl Router {
    /// A router to `children`; host-facing names fail until [`Router::set_sources`].
    pub fn new(children: Arc<dyn ToolCaller>) -> Arc<Self> {
        Arc::new(Self {
            children,
            sources: OnceLock::new(),
        })
    }

    /// Sets the table that resolves host-facing names.
    pub fn set_sources(&self, sources: Sources) {
        let _ = self.sources.set(sources);
    }
}

impl ToolCaller for Router {
    fn catalog(&self) -> Catalog {
        self.children.catalog()
    }

    fn call<'a>(
        &'a self,
        request: CallRequest,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>> {
        match request.tool {
            ToolRef::Host { name } => Box::pin(async move {
                let Some(sources) = self.sources.get() else {
                    return Err(RouteError::Unknown {
                        kind: crate::error::ItemKind::Tool,
                        name,
                    });
                };
                sources.call(&name, request.arguments, cx).await
            }),
            ToolRef::Child { .. } => self.children.call(request, cx),
        }
    }

    fn wait_settled<'a>(&'a self, server: &'a str, limit: Duration) -> BoxFuture<'a, ()> {
        self.children.wait_settled(server, limit)
    }
}

/// A tool's answer: `text` for people and models, `value` as its structured content.
pub(crate) fn answer(text: String, value: serde_json::Value, is_error: bool) -> CallOutcome {
    use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
    let mut result = if is_error {
        CallToolResult::error(vec![ContentBlock::text(text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(text)])
    };
    result.structured_content = Some(value);
    CallToolResponse::Complete(result)
}

/// The string argument `key`, required.
pub(crate) fn string(args: &JsonObject, key: &str) -> Result<String, RouteError> {
    args.get(key)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| RouteError::InvalidParams(format!("`{key}` (a string) is required")))
}

/// An object schema with `properties` and `required`, as tools declare their input.
pub(crate) fn object_schema(properties: serde_json::Value, required: &[&str]) -> Arc<JsonObject> {
    let v = serde_json::json!({"type": "object", "properties": properties, "required": required});
    Arc::new(v.as_object().cloned().unwrap_or_default())
}

/// An object schema with no properties: the input of tools that take no arguments.
pub(crate) fn no_arguments() -> Arc<JsonObject> {
    let mut schema = JsonObject::new();
    schema.insert("type".into(), "object".into());
    schema.insert("properties".into(), JsonObject::new().into());
    Arc::new(schema)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};

    use super::*;

    /// A source that owns fixed names and records who answered.
    struct Fixed {
        names: &'static [&'static str],
        admin: bool,
        answered: Arc<Mutex<Vec<String>>>,
    }

    impl ToolSource for Fixed {
        fn reserved(&self) -> &'static [&'static str] {
            self.names
        }
        fn tools(&self, caller: Caller) -> Vec<Tool> {
            if self.admin && caller != Caller::Control {
                return Vec::new();
            }
            self.names
                .iter()
                .map(|n| Tool::new(*n, "", no_arguments()))
                .collect()
        }
        fn owns(&self, name: &str, caller: Caller) -> bool {
            (!self.admin || caller == Caller::Control) && self.names.contains(&name)
        }
        fn call<'a>(
            &'a self,
            name: &'a str,
            _arguments: Option<JsonObject>,
            _cx: &'a CallContext,
        ) -> BoxFuture<'a, Result<CallOutcome, RouteError>> {
            self.answered
                .lock()
                .unwrap()
                .push(format!("{}:{name}", self.names[0]));
            Box::pin(async move {
                Ok(CallToolResponse::Complete(CallToolResult::success(vec![
                    ContentBlock::text(name),
                ])))
            })
        }
    }

    fn table(answered: &Arc<Mutex<Vec<String>>>) -> Sources {
        let fixed = |names, admin| -> Arc<dyn ToolSource> {
            Arc::new(Fixed {
                names,
                admin,
                answered: answered.clone(),
            })
        };
        Sources::new(vec![
            fixed(&["status", "dup"], false),
            fixed(&["restart"], true),
            fixed(&["dup", "chat"], false),
        ])
    }

    #[tokio::test]
    async fn the_first_owner_answers_and_admin_names_exist_only_for_control() {
        let answered = Arc::default();
        let sources = table(&answered);
        let host = CallContext::new(Caller::Host);
        let control = CallContext::new(Caller::Control);
        sources.call("dup", None, &host).await.unwrap();
        sources.call("chat", None, &host).await.unwrap();
        sources.call("restart", None, &control).await.unwrap();
        let e = sources.call("restart", None, &host).await.unwrap_err();
        assert_eq!(e.to_string(), "unknown tool `restart`");
        assert_eq!(
            *answered.lock().unwrap(),
            ["status:dup", "dup:chat", "restart:restart"]
        );
        let listed = |c| -> Vec<String> {
            sources
                .tools(c)
                .iter()
                .map(|t| t.name.to_string())
                .collect()
        };
        assert_eq!(listed(Caller::Host), ["status", "dup", "dup", "chat"]);
        assert_eq!(
            listed(Caller::Control),
            ["status", "dup", "restart", "dup", "chat"]
        );
        assert_eq!(
            sources.reserved(),
            ["status", "dup", "restart", "dup", "chat"]
        );
    }
}
