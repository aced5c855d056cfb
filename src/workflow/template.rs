//! Templates: a JSON value whose strings may hold references to the run's input, completed
//! steps' results and artifacts, parsed once at validation and rendered per call.
//!
//! A string that is one whole reference (`$steps.search.result.results[0].url`) becomes the
//! value, keeping its JSON type; `${…}` inside a longer string interpolates it (strings raw,
//! other values as compact JSON, a missing value as nothing); `$$` is a literal `$`. A string
//! that starts with `$` must be one of those three, so a typo like `$imput.x` is an error at
//! validation instead of a literal sent to a tool. Object keys are never templated.
//!
//! What can be named, and its limits: `.key` segments are letters, digits, `_` and `-` (a key
//! with other characters cannot be reached), `[n]` indexes arrays; step names and artifact ids
//! follow the same character rule.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// What a template is rendered against.
pub struct Scope<'a> {
    /// The run's input.
    pub input: &'a Value,
    /// Completed steps' results by step name; a step absent here (skipped, not run) reads as
    /// `null`.
    pub steps: &'a BTreeMap<String, Value>,
    /// An artifact's descriptor by id, if there is one. `Send + Sync` so that a scope may live
    /// across an `.await` in a spawned task.
    pub artifacts: &'a (dyn Fn(&str) -> Option<Value> + Send + Sync),
}

/// Why a template or condition could not be evaluated at run time.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// The CEL expression failed (a missing key, a type mismatch).
    #[error("condition `{condition}` failed: {message}")]
    Condition {
        /// The condition's text.
        condition: String,
        /// CEL's message.
        message: String,
    },
    /// The CEL expression gave something other than a bool.
    #[error("condition `{condition}` gave {got}, not true or false")]
    NotBool {
        /// The condition's text.
        condition: String,
        /// What it gave, as JSON where it can be.
        got: String,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    node: Node,
    uses: Vec<Use>,
}

/// One reference in a template and the key it sits at, kept for validation's messages.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Use {
    /// The key path, like `steps[2].params.to`.
    pub at: String,
    /// The reference as written.
    pub text: String,
    /// What it reads.
    pub root: Root,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Literal(Value),
    Ref(Reference),
    Text(Vec<Piece>),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Ref(Reference),
}

/// A reference: where it starts and the path below.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reference {
    text: String,
    root: Root,
    path: Vec<Seg>,
}

/// What a reference starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Root {
    /// `input`.
    Input,
    /// `steps.<name>.result`.
    Step(String),
    /// `artifacts.<id>`.
    Artifact(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A template error found at validation: the key and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bad {
    pub at: String,
    pub message: String,
}

impl Template {
    /// Parses `value`; `at` is its key path, used in errors and [`Use::at`].
    pub(super) fn parse(value: &Value, at: &str) -> Result<Template, Bad> {
        let mut uses = Vec::new();
        let node = node(value, at, &mut uses)?;
        Ok(Template { node, uses })
    }

    /// The empty object, for a step without `params`.
    pub(super) fn empty_object() -> Template {
        Template {
            node: Node::Literal(Value::Object(Map::new())),
            uses: Vec::new(),
        }
    }

    /// Whether it renders to an object whatever the scope (a literal object, not a reference).
    pub(super) fn is_object(&self) -> bool {
        matches!(
            &self.node,
            Node::Object(_) | Node::Literal(Value::Object(_))
        )
    }

    /// The references in it, in document order.
    pub(super) fn uses(&self) -> &[Use] {
        &self.uses
    }

    /// The value, references replaced from `scope`. A missing value is `null` as a whole value
    /// and nothing inside a string, so rendering does not fail today; the `Result` leaves room
    /// for references that can (an artifact store that errors).
    pub fn render(&self, scope: &Scope<'_>) -> Result<Value, TemplateError> {
        Ok(render(&self.node, scope))
    }

    /// The names of the steps it reads.
    #[cfg(test)]
    pub fn steps_referenced(&self) -> std::collections::BTreeSet<String> {
        self.uses
            .iter()
            .filter_map(|u| match &u.root {
                Root::Step(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// The ids of the artifacts it reads.
    pub fn artifacts_referenced(&self) -> std::collections::BTreeSet<String> {
        self.uses
            .iter()
            .filter_map(|u| match &u.root {
                Root::Artifact(a) => Some(a.clone()),
                _ => None,
            })
            .collect()
    }
}

fn node(value: &Value, at: &str, uses: &mut Vec<Use>) -> Result<Node, Bad> {
    Ok(match value {
        Value::String(s) => string(s, at, uses)?,
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(node(item, &format!("{at}[{i}]"), uses)?);
            }
            collapse_array(out)
        }
        Value::Object(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (k, v) in map {
                out.push((k.clone(), node(v, &format!("{at}.{k}"), uses)?));
            }
            collapse_object(out)
        }
        other => Node::Literal(other.clone()),
    })
}

/// An array with no reference in it is kept as one literal, so rendering it is a clone.
fn collapse_array(items: Vec<Node>) -> Node {
    if items.iter().all(|n| matches!(n, Node::Literal(_))) {
        Node::Literal(Value::Array(
            items
                .into_iter()
                .filter_map(|n| match n {
                    Node::Literal(v) => Some(v),
                    _ => None,
                })
                .collect(),
        ))
    } else {
        Node::Array(items)
    }
}

/// An object with no reference in it is kept as one literal.
fn collapse_object(entries: Vec<(String, Node)>) -> Node {
    if entries.iter().all(|(_, n)| matches!(n, Node::Literal(_))) {
        Node::Literal(Value::Object(
            entries
                .into_iter()
                .filter_map(|(k, n)| match n {
                    Node::Literal(v) => Some((k, v)),
                    _ => None,
                })
                .collect(),
        ))
    } else {
        Node::Object(entries)
    }
}

fn string(s: &str, at: &str, uses: &mut Vec<Use>) -> Result<Node, Bad> {
    let bad = |message: String| Bad {
        at: at.to_owned(),
        message,
    };
    if let Some(rest) = s.strip_prefix('$')
        && !rest.starts_with('{')
        && !rest.starts_with('$')
    {
        let r = Reference::parse(rest).map_err(|m| {
            bad(format!(
                "bad template `{s}`: {m}; to interpolate inside text write `${{…}}`, and `$$` for a \
                 literal `$`"
            ))
        })?;
        uses.push(r.used_at(at));
        return Ok(Node::Ref(r));
    }

    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        text.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(after) = after.strip_prefix('$') {
            text.push('$');
            rest = after;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}').ok_or_else(|| {
                bad(format!(
                    "bad template `{s}`: `${{` is not closed by `}}`; write `$$` for a literal `$`"
                ))
            })?;
            let r = Reference::parse(inner[..end].trim())
                .map_err(|m| bad(format!("bad template `{s}`: {m}")))?;
            uses.push(r.used_at(at));
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Ref(r));
            rest = &inner[end + 1..];
        } else {
            // A lone `$` in running text ("costs $5") is literal: only a leading `$` is taken to
            // mean a reference.
            text.push('$');
            rest = after;
        }
    }
    text.push_str(rest);
    if pieces.is_empty() {
        return Ok(Node::Literal(Value::String(text)));
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(Node::Text(pieces))
}

fn render(node: &Node, scope: &Scope<'_>) -> Value {
    match node {
        Node::Literal(v) => v.clone(),
        Node::Ref(r) => r.resolve(scope),
        Node::Text(pieces) => {
            let mut out = String::new();
            for p in pieces {
                match p {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Ref(r) => match r.resolve(scope) {
                        // Missing is nothing rather than the text `null` a reader would not
                        // expect in a message.
                        Value::Null => {}
                        Value::String(s) => out.push_str(&s),
                        other => out.push_str(&other.to_string()),
                    },
                }
            }
            Value::String(out)
        }
        Node::Array(items) => Value::Array(items.iter().map(|n| render(n, scope)).collect()),
        Node::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, n)| (k.clone(), render(n, scope)))
                .collect(),
        ),
    }
}

const STARTS: &str = "a reference is `$input[.path]`, `$steps.<step>.result[.path]` or \
                      `$artifacts.<id>[.path]`";

impl Reference {
    /// Parses the text of a reference without its `$` (`steps.a.result.b[0]`).
    pub(super) fn parse(text: &str) -> Result<Reference, String> {
        let (head, rest) = split_name(text);
        let (root, rest) = match head {
            "input" => (Root::Input, rest),
            "steps" => {
                let (step, rest) = dotted_name(rest).ok_or(STARTS)?;
                let rest = rest
                    .strip_prefix(".result")
                    .filter(|r| r.is_empty() || r.starts_with(['.', '[']))
                    .ok_or_else(|| {
                        format!("`steps.{step}` must be followed by `.result` ({STARTS})")
                    })?;
                (Root::Step(step.to_owned()), rest)
            }
            "artifacts" => {
                let (id, rest) = dotted_name(rest).ok_or(STARTS)?;
                (Root::Artifact(id.to_owned()), rest)
            }
            _ => return Err(STARTS.to_owned()),
        };
        Ok(Reference {
            text: text.to_owned(),
            root,
            path: path(rest)?,
        })
    }

    fn used_at(&self, at: &str) -> Use {
        Use {
            at: at.to_owned(),
            text: format!("${}", self.text),
            root: self.root.clone(),
        }
    }

    /// What the reference reads.
    pub(super) fn root(&self) -> &Root {
        &self.root
    }

    /// Its value in `scope`; `null` when anything along the way is missing.
    pub(super) fn resolve(&self, scope: &Scope<'_>) -> Value {
        let owned;
        let start = match &self.root {
            Root::Input => scope.input,
            Root::Step(name) => match scope.steps.get(name) {
                Some(v) => v,
                None => return Value::Null,
            },
            Root::Artifact(id) => match (scope.artifacts)(id) {
                Some(v) => {
                    owned = v;
                    &owned
                }
                None => return Value::Null,
            },
        };
        let mut at = start;
        for seg in &self.path {
            let next = match (seg, at) {
                (Seg::Key(k), Value::Object(m)) => m.get(k),
                (Seg::Index(i), Value::Array(a)) => a.get(*i),
                _ => None,
            };
            match next {
                Some(v) => at = v,
                None => return Value::Null,
            }
        }
        at.clone()
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The leading run of name characters and what follows.
fn split_name(s: &str) -> (&str, &str) {
    s.split_at(s.find(|c| !is_name_char(c)).unwrap_or(s.len()))
}

/// `.name` at the start of `s`: the name and what follows.
fn dotted_name(s: &str) -> Option<(&str, &str)> {
    let (name, rest) = split_name(s.strip_prefix('.')?);
    (!name.is_empty()).then_some((name, rest))
}

fn path(mut s: &str) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    while !s.is_empty() {
        if let Some((key, rest)) = dotted_name(s) {
            segs.push(Seg::Key(key.to_owned()));
            s = rest;
        } else if let Some(rest) = s.strip_prefix('[') {
            let end = rest
                .find(']')
                .ok_or_else(|| format!("`[` without `]` at `{s}`"))?;
            let index = rest[..end]
                .parse()
                .map_err(|_| format!("`[{}]` is not an array index", &rest[..end]))?;
            segs.push(Seg::Index(index));
            s = &rest[end + 1..];
        } else {
            return Err(format!(
                "cannot read `{s}`: a path is `.key` (letters, digits, `_`, `-`) and `[n]`"
            ));
        }
    }
    Ok(segs)
}
