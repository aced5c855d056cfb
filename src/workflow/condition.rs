//! Step conditions: one whole reference, read for its truthiness, or a CEL expression.
//!
//! `$steps.get_contact.result.opted_in` is true when the value is truthy by JavaScript's rule
//! (`null`, `false`, `0`, `""`, `[]` and `{}` are false), so the seed's form means what it reads
//! as. Anything else is CEL, compiled at validation, over two variables: `input` (the run's input)
//! and `steps` (step name → `{"result": …}`), e.g.
//! `steps.get_contact.result.score > 5 && input.flag == true`.
//!
//! The steps a CEL condition reads are found by walking its syntax tree for `steps.<name>` and
//! `steps["<name>"]`, so that they can be checked to be upstream. The limit that follows: `steps`
//! may only be used that way (not whole, not indexed by a computed key), and any other free
//! variable is refused, since it could only fail at run time. A step that has no result (it was
//! skipped) reads as `{"result": null}`, so selecting a field below it fails at run time: guard
//! with `has(steps.x.result.field)` or `steps.x.result != null && …`. JSON integers become CEL
//! `int` (`uint` only above `i64::MAX`), so `steps.x.result.n + 1` works.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use cel::{
    Context, Program,
    common::{
        ast::{EntryExpr, Expr, IdedExpr, operators},
        value::CelVal,
    },
};
use serde_json::Value;

use super::template::{Reference, Root, Scope, TemplateError};

/// A parsed, compiled condition.
#[derive(Debug, Clone)]
pub struct Condition {
    source: String,
    kind: Kind,
    steps: BTreeSet<String>,
}

#[derive(Debug, Clone)]
enum Kind {
    Truthy(Reference),
    // Shared so a definition stays cheap to clone; a compiled program is not `Clone`.
    Cel(Arc<Program>),
}

/// Two conditions are the same when their text is: the program is a function of it.
impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Condition {
    /// Parses and compiles `source`; the error is the message for the condition's key.
    pub(super) fn parse(source: &str) -> Result<Condition, String> {
        let trimmed = source.trim();
        if let Some(rest) = trimmed.strip_prefix('$') {
            let r = Reference::parse(rest).map_err(|m| {
                format!(
                    "bad condition `{source}`: {m}; a condition is one whole reference or a CEL \
                     expression over `input` and `steps`"
                )
            })?;
            let steps = match r.root() {
                Root::Step(s) => BTreeSet::from([s.clone()]),
                _ => BTreeSet::new(),
            };
            return Ok(Condition {
                source: source.to_owned(),
                kind: Kind::Truthy(r),
                steps,
            });
        }
        let program = Program::compile(trimmed)
            .map_err(|e| format!("condition `{source}` is not valid CEL: {e}"))?;
        let mut steps = BTreeSet::new();
        walk(program.expression(), &mut Vec::new(), &mut steps)
            .map_err(|m| format!("condition `{source}`: {m}"))?;
        Ok(Condition {
            source: source.to_owned(),
            kind: Kind::Cel(Arc::new(program)),
            steps,
        })
    }

    /// Whether the step should run, given what is known now.
    pub fn evaluate(&self, scope: &Scope<'_>) -> Result<bool, TemplateError> {
        let program = match &self.kind {
            Kind::Truthy(r) => return Ok(truthy(&r.resolve(scope))),
            Kind::Cel(p) => p,
        };
        let mut ctx = Context::default();
        ctx.add_variable_from_value("input", to_cel(scope.input));
        // Only the steps the expression names: they are all it can read.
        let steps: HashMap<String, cel::Value> = self
            .steps
            .iter()
            .map(|name| {
                let result = scope.steps.get(name).map_or(cel::Value::Null, to_cel);
                let entry: HashMap<String, cel::Value> = HashMap::from([("result".into(), result)]);
                (name.clone(), entry.into())
            })
            .collect();
        ctx.add_variable_from_value("steps", steps);
        match program.execute(&ctx) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(TemplateError::NotBool {
                condition: self.source.clone(),
                got: other
                    .json()
                    .map_or_else(|_| format!("{other:?}"), |j| j.to_string()),
            }),
            Err(e) => Err(TemplateError::Condition {
                condition: self.source.clone(),
                message: e.to_string(),
            }),
        }
    }

    /// The names of the steps it reads.
    pub fn steps_referenced(&self) -> BTreeSet<String> {
        self.steps.clone()
    }

    /// Its text, as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// JavaScript's truthiness, which is what the seed's `condition: $steps.x.result.flag` means.
pub(super) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// JSON → CEL, integers as `int` where they fit: CEL's arithmetic does not mix `int` and `uint`,
/// and a literal like `5` is an `int`.
fn to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(a) => cel::Value::List(Arc::new(a.iter().map(to_cel).collect())),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| (k.clone(), to_cel(v)))
            .collect::<HashMap<String, cel::Value>>()
            .into(),
    }
}

/// Collects the steps named by `steps.<name>` / `steps["<name>"]`, refusing other uses of
/// `steps` and free variables other than `input`. `bound` holds comprehension variables.
fn walk(e: &IdedExpr, bound: &mut Vec<String>, found: &mut BTreeSet<String>) -> Result<(), String> {
    match &e.expr {
        Expr::Select(sel) => {
            if is_steps(&sel.operand, bound) {
                found.insert(sel.field.clone());
                return Ok(());
            }
            walk(&sel.operand, bound, found)
        }
        Expr::Call(call) => {
            if call.func_name == operators::INDEX
                && call.target.is_none()
                && let [operand, key] = call.args.as_slice()
                && is_steps(operand, bound)
            {
                return match &key.expr {
                    Expr::Literal(CelVal::String(name)) => {
                        found.insert(name.clone());
                        Ok(())
                    }
                    _ => Err(STEPS_USE.to_owned()),
                };
            }
            if let Some(t) = &call.target {
                walk(t, bound, found)?;
            }
            call.args.iter().try_for_each(|a| walk(a, bound, found))
        }
        Expr::Ident(name) => {
            if bound.contains(name) || name.starts_with('@') || name == "input" {
                Ok(())
            } else if name == "steps" {
                Err(STEPS_USE.to_owned())
            } else {
                Err(format!(
                    "unknown variable `{name}`: a condition reads `input` and `steps.<step>.result`"
                ))
            }
        }
        Expr::Comprehension(c) => {
            walk(&c.iter_range, bound, found)?;
            walk(&c.accu_init, bound, found)?;
            let depth = bound.len();
            bound.push(c.iter_var.clone());
            bound.extend(c.iter_var2.clone());
            bound.push(c.accu_var.clone());
            let inner = [&c.loop_cond, &c.loop_step, &c.result]
                .into_iter()
                .try_for_each(|x| walk(x, bound, found));
            bound.truncate(depth);
            inner
        }
        Expr::List(l) => l.elements.iter().try_for_each(|x| walk(x, bound, found)),
        Expr::Map(m) => m
            .entries
            .iter()
            .try_for_each(|x| entry(&x.expr, bound, found)),
        Expr::Struct(s) => s
            .entries
            .iter()
            .try_for_each(|x| entry(&x.expr, bound, found)),
        Expr::Literal(_) | Expr::Unspecified => Ok(()),
    }
}

fn entry(
    e: &EntryExpr,
    bound: &mut Vec<String>,
    found: &mut BTreeSet<String>,
) -> Result<(), String> {
    match e {
        EntryExpr::StructField(f) => walk(&f.value, bound, found),
        EntryExpr::MapEntry(m) => {
            walk(&m.key, bound, found)?;
            walk(&m.value, bound, found)
        }
    }
}

const STEPS_USE: &str = "use `steps` as `steps.<step>` (or `steps[\"<step>\"]`) so that the \
                         step read can be checked to be upstream";

fn is_steps(e: &IdedExpr, bound: &[String]) -> bool {
    matches!(&e.expr, Expr::Ident(n) if n == "steps" && !bound.iter().any(|b| b == "steps"))
}
