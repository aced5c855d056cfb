//! Raw document → validated [`Definition`]: the only way a definition comes to be.
//!
//! Checks, each an error naming the key: names, version, durations, the input schema, the
//! strategy; one target per step, known to the [`World`]; compensations; templates and
//! conditions; `dependsOn` names, cycles; and that every step a step's params, condition or
//! compensation reads is upstream of it (a compensation may also read its own step's result).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use serde_json::Value;

use super::{
    Compensation, Condition, Definition, Resources, Step, Strategy, Target, Template,
    WorkflowError, World, canonical, duration,
    raw::{RawCompensation, RawDefinition, RawStep},
    template::{Bad, Root},
};

/// Validates a parsed document read from `file`.
pub fn validate(
    file: &Path,
    raw: RawDefinition,
    world: &World<'_>,
) -> Result<Definition, WorkflowError> {
    let v = Validator { file, world };
    let canonical::Canonical { raw, body, sha256 } = canonical::canonical(&raw)
        .map_err(|e| v.err("", format!("cannot be written as canonical JSON: {e}")))?;

    v.name("name", &raw.name, "workflow")?;
    let version = match &raw.version {
        Value::String(s) if !s.trim().is_empty() => s.clone(),
        Value::String(_) => return Err(v.err("version", "the version is empty")),
        other => {
            return Err(v.err(
                "version",
                format!("the version must be a string: write it quoted, `version: \"{other}\"`"),
            ));
        }
    };
    let timeout = raw
        .timeout
        .as_ref()
        .map(|t| duration::parse(t).map_err(|m| v.err("timeout", m)))
        .transpose()?;
    let input_schema = raw.input.map(|i| v.input_schema(i)).transpose()?;
    let strategy = match raw.strategy.as_deref() {
        None => Strategy::default(),
        Some(s) => Strategy::parse(s).ok_or_else(|| {
            let all: Vec<&str> = Strategy::ALL.iter().map(|k| k.as_str()).collect();
            v.err(
                "strategy",
                format!("unknown strategy `{s}`: use one of {}", all.join(", ")),
            )
        })?,
    };
    if raw.steps.is_empty() {
        return Err(v.err("steps", "a workflow needs at least one step"));
    }

    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in raw.steps.iter().enumerate() {
        let at = format!("steps[{i}].name");
        v.name(&at, &s.name, "step")?;
        if let Some(j) = index.insert(&s.name, i) {
            return Err(v.err(
                &at,
                format!(
                    "step `{}` is defined twice (also steps[{j}]); step names must be unique",
                    s.name
                ),
            ));
        }
    }
    let mut deps = Vec::with_capacity(raw.steps.len());
    for (i, s) in raw.steps.iter().enumerate() {
        deps.push(v.depends_on(i, s, &index)?);
    }
    v.no_cycle(&raw.steps, &deps)?;

    let mut steps = Vec::with_capacity(raw.steps.len());
    for (i, (s, depends_on)) in raw.steps.iter().zip(deps).enumerate() {
        steps.push(v.step(&raw.name, i, s, depends_on)?);
    }
    let dep_lists: Vec<&[usize]> = steps.iter().map(|s| s.depends_on.as_slice()).collect();
    for step in &steps {
        v.reads_upstream(step, &steps, &upstream_of(&dep_lists, step.index))?;
    }

    let output = raw
        .output
        .as_ref()
        .map(|o| Template::parse(o, "output").map_err(|b| v.bad(b)))
        .transpose()?;
    if let Some(out) = &output {
        for u in out.uses() {
            if let Root::Step(name) = &u.root
                && !index.contains_key(name.as_str())
            {
                return Err(v.err(&u.at, format!("`{}` reads unknown step `{name}`", u.text)));
            }
        }
    }

    Ok(Definition {
        name: raw.name,
        version,
        description: raw.description,
        timeout,
        input_schema,
        strategy,
        steps,
        output,
        sha256,
        body,
        file: file.to_owned(),
    })
}

/// Every step `i` depends on, directly or not (cycle-safe).
pub fn upstream_of(deps: &[&[usize]], i: usize) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<usize> = deps.get(i).map(|d| d.to_vec()).unwrap_or_default();
    while let Some(j) = todo.pop() {
        if seen.insert(j) {
            todo.extend(deps.get(j).into_iter().flat_map(|d| d.iter().copied()));
        }
    }
    seen
}

struct Validator<'a> {
    file: &'a Path,
    world: &'a World<'a>,
}

impl Validator<'_> {
    fn err(&self, at: &str, message: impl Into<String>) -> WorkflowError {
        WorkflowError {
            file: self.file.to_owned(),
            at: at.to_owned(),
            message: message.into(),
        }
    }

    fn bad(&self, b: Bad) -> WorkflowError {
        self.err(&b.at, b.message)
    }

    fn name(&self, at: &str, name: &str, what: &str) -> Result<(), WorkflowError> {
        let ok = (1..=54).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(())
        } else {
            Err(self.err(
                at,
                format!(
                    "bad {what} name `{name}`: use 1 to 54 letters, digits, `_` or `-` \
                     (^[a-zA-Z0-9_-]{{1,54}}$)"
                ),
            ))
        }
    }

    fn input_schema(&self, input: Value) -> Result<rmcp::model::JsonObject, WorkflowError> {
        let Value::Object(schema) = input else {
            return Err(self.err(
                "input",
                "the input must be a JSON Schema object (`type: object` with `properties`)",
            ));
        };
        match schema.get("type") {
            None => {}
            Some(Value::String(t)) if t == "object" => {}
            Some(other) => {
                return Err(self.err(
                    "input.type",
                    format!("a tool's input is an object: `type` must be `object`, not {other}"),
                ));
            }
        }
        Ok(schema)
    }

    fn depends_on(
        &self,
        i: usize,
        s: &RawStep,
        index: &BTreeMap<&str, usize>,
    ) -> Result<Vec<usize>, WorkflowError> {
        let mut out = Vec::new();
        for (k, name) in s.depends_on.iter().flatten().enumerate() {
            let at = format!("steps[{i}].dependsOn[{k}]");
            let Some(&j) = index.get(name.as_str()) else {
                return Err(self.err(&at, format!("unknown step `{name}`")));
            };
            if j == i {
                return Err(self.err(
                    &at,
                    format!("dependency cycle: {name} → {name} (a step cannot depend on itself)"),
                ));
            }
            // Listing a step twice changes nothing, so it is not worth an error.
            if !out.contains(&j) {
                out.push(j);
            }
        }
        Ok(out)
    }

    fn no_cycle(&self, steps: &[RawStep], deps: &[Vec<usize>]) -> Result<(), WorkflowError> {
        // Depth-first, colouring: 1 on the stack, 2 done. A back edge closes a cycle.
        fn visit(
            n: usize,
            deps: &[Vec<usize>],
            colour: &mut [u8],
            stack: &mut Vec<usize>,
        ) -> Option<Vec<usize>> {
            colour[n] = 1;
            stack.push(n);
            for &m in &deps[n] {
                match colour[m] {
                    1 => {
                        let from = stack.iter().position(|&s| s == m).unwrap_or(0);
                        let mut cycle = stack[from..].to_vec();
                        cycle.push(m);
                        return Some(cycle);
                    }
                    0 => {
                        if let Some(c) = visit(m, deps, colour, stack) {
                            return Some(c);
                        }
                    }
                    _ => {}
                }
            }
            stack.pop();
            colour[n] = 2;
            None
        }
        let mut colour = vec![0u8; steps.len()];
        for n in 0..steps.len() {
            if colour[n] == 0
                && let Some(cycle) = visit(n, deps, &mut colour, &mut Vec::new())
            {
                // `dependsOn` edges point upstream; the cycle reads best in run order.
                let names: Vec<&str> = cycle
                    .iter()
                    .rev()
                    .map(|&k| steps[k].name.as_str())
                    .collect();
                let first = cycle[0];
                return Err(self.err(
                    &format!("steps[{first}].dependsOn"),
                    format!("dependency cycle: {}", names.join(" → ")),
                ));
            }
        }
        Ok(())
    }

    fn step(
        &self,
        workflow: &str,
        i: usize,
        s: &RawStep,
        depends_on: Vec<usize>,
    ) -> Result<Step, WorkflowError> {
        let at = format!("steps[{i}]");
        let target = self.target(&at, workflow, s)?;
        let params = self.params(&format!("{at}.params"), s.params.as_ref())?;
        let timeout = s
            .timeout
            .as_ref()
            .map(|t| duration::parse(t).map_err(|m| self.err(&format!("{at}.timeout"), m)))
            .transpose()?;
        let condition = s
            .condition
            .as_deref()
            .map(|c| Condition::parse(c).map_err(|m| self.err(&format!("{at}.condition"), m)))
            .transpose()?;
        let compensation = s
            .compensation
            .as_ref()
            .map(|c| self.compensation(&format!("{at}.compensation"), workflow, &target, c))
            .transpose()?;
        let resources = match &s.resources {
            None => Resources::default(),
            Some(r) => {
                let cpu = r.cpu.unwrap_or(0.0);
                if !cpu.is_finite() || cpu < 0.0 {
                    return Err(self.err(
                        &format!("{at}.resources.cpu"),
                        format!(
                            "{cpu} is not a CPU count: use a number of 0 or more (0.5 is half)"
                        ),
                    ));
                }
                Resources {
                    cpu,
                    memory_mb: r.memory_mb.unwrap_or(0),
                }
            }
        };
        Ok(Step {
            name: s.name.clone(),
            index: i,
            target,
            params,
            timeout,
            retries: s.retries.unwrap_or(0),
            depends_on,
            condition,
            compensation,
            priority: s.priority.unwrap_or(0),
            resources,
            idempotent: s.idempotent.unwrap_or(false),
        })
    }

    fn params(&self, at: &str, params: Option<&Value>) -> Result<Template, WorkflowError> {
        let Some(p) = params else {
            return Ok(Template::empty_object());
        };
        let t = Template::parse(p, at).map_err(|b| self.bad(b))?;
        if t.is_object() {
            Ok(t)
        } else {
            Err(self.err(at, "params must be an object: the tool's arguments by name"))
        }
    }

    /// The step's one target, checked against the world.
    fn target(&self, at: &str, workflow: &str, s: &RawStep) -> Result<Target, WorkflowError> {
        let given: Vec<&str> = [
            ("mcp", s.mcp.is_some()),
            ("action", s.action.is_some()),
            ("tool", s.tool.is_some()),
            ("capability", s.capability.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        const ONE_OF: &str =
            "give one target: `mcp` + `action`, or `tool`, or `capability` + `action`";
        let target = match (&s.mcp, &s.action, &s.tool, &s.capability) {
            (Some(server), Some(tool), None, None) => Target::Server {
                server: server.clone(),
                tool: tool.clone(),
            },
            (None, None, Some(name), None) => Target::Tool { name: name.clone() },
            (None, Some(tool), None, Some(capability)) => Target::Capability {
                capability: capability.clone(),
                tool: tool.clone(),
            },
            (None, None, None, None) => {
                return Err(self.err(at, format!("the step has no target: {ONE_OF}")));
            }
            (Some(_), None, None, None) => {
                return Err(self.err(
                    at,
                    "`mcp` needs `action`: the server's own tool name to call",
                ));
            }
            (None, None, None, Some(_)) => {
                return Err(self.err(
                    at,
                    "`capability` needs `action`: the tool to call on the server chosen",
                ));
            }
            (None, Some(_), None, None) => {
                return Err(self.err(at, "`action` needs `mcp` (a server id) or `capability`"));
            }
            _ => {
                return Err(self.err(at, format!("the step has {}: {ONE_OF}", quoted_and(&given))));
            }
        };
        self.known(at, workflow, &target)?;
        Ok(target)
    }

    /// Checks a target against the world; `at` is the step (or compensation) key.
    fn known(&self, at: &str, workflow: &str, target: &Target) -> Result<(), WorkflowError> {
        match target {
            Target::Server { server, tool } => {
                if !(self.world.servers)(server) {
                    return Err(self.err(
                        &format!("{at}.mcp"),
                        format!("unknown server `{server}`: no server with that id in the config"),
                    ));
                }
                nonempty(self, &format!("{at}.action"), tool)?;
                if let Some(has) = self.world.tool
                    && has(server, tool) == Some(false)
                {
                    return Err(self.err(
                        &format!("{at}.action"),
                        format!("server `{server}` has no tool `{tool}`"),
                    ));
                }
            }
            Target::Tool { name } => {
                if *name == format!("workflow__{workflow}") {
                    return Err(self.err(
                        &format!("{at}.tool"),
                        format!("workflow `{workflow}` cannot call itself"),
                    ));
                }
                nonempty(self, &format!("{at}.tool"), name)?;
                if let Some(known) = self.world.host_tool
                    && !known(name)
                {
                    return Err(self.err(
                        &format!("{at}.tool"),
                        format!("unknown tool `{name}`: no host-facing tool has that name"),
                    ));
                }
            }
            Target::Capability { capability, tool } => {
                if !(self.world.capability)(capability) {
                    return Err(self.err(
                        &format!("{at}.capability"),
                        format!("unknown capability `{capability}`: no configured server lists it"),
                    ));
                }
                nonempty(self, &format!("{at}.action"), tool)?;
            }
        }
        Ok(())
    }

    fn compensation(
        &self,
        at: &str,
        workflow: &str,
        step: &Target,
        c: &RawCompensation,
    ) -> Result<Compensation, WorkflowError> {
        let target = match (&c.mcp, &c.action, &c.tool) {
            (None, None, Some(name)) => Target::Tool { name: name.clone() },
            (Some(server), Some(tool), None) => Target::Server {
                server: server.clone(),
                tool: tool.clone(),
            },
            (None, Some(tool), None) => match step {
                Target::Server { server, .. } => Target::Server {
                    server: server.clone(),
                    tool: tool.clone(),
                },
                // Runs where the step ran: the engine knows which server that was.
                Target::Capability { capability, .. } => Target::Capability {
                    capability: capability.clone(),
                    tool: tool.clone(),
                },
                Target::Tool { name } => {
                    return Err(self.err(
                        &format!("{at}.action"),
                        format!(
                            "`action` needs `mcp` here: the step calls the host-facing tool \
                             `{name}`, which has no server to default to"
                        ),
                    ));
                }
            },
            (Some(_), None, None) => {
                return Err(self.err(at, "`mcp` needs `action`: the tool that undoes the step"));
            }
            (None, None, None) => {
                return Err(self.err(
                    at,
                    "the compensation has no target: give `action` (on the step's server, or \
                     with `mcp`) or `tool`",
                ));
            }
            _ => {
                return Err(self.err(
                    at,
                    "give `action` (with an optional `mcp`) or `tool`, not both",
                ));
            }
        };
        self.known(at, workflow, &target)?;
        Ok(Compensation {
            target,
            params: self.params(&format!("{at}.params"), c.params.as_ref())?,
            retries: c.retries.unwrap_or(2),
        })
    }

    /// The steps `step` reads are upstream of it (its compensation may read its own result).
    fn reads_upstream(
        &self,
        step: &Step,
        steps: &[Step],
        upstream: &BTreeSet<usize>,
    ) -> Result<(), WorkflowError> {
        let reads = |name: &str, at: &str, own_ok: bool| -> Result<(), WorkflowError> {
            let Some(read) = steps.iter().find(|s| s.name == name) else {
                return Err(self.err(at, format!("reads unknown step `{name}`")));
            };
            if upstream.contains(&read.index) || (own_ok && read.index == step.index) {
                return Ok(());
            }
            let hint = if read.index == step.index {
                "a step cannot read its own result (its compensation can)".to_owned()
            } else {
                format!(
                    "add `{name}` to its dependsOn (directly or through a step that depends on it)"
                )
            };
            Err(self.err(
                at,
                format!(
                    "step `{}` reads step `{name}`, which is not upstream of it: {hint}",
                    step.name
                ),
            ))
        };
        for u in step.params.uses() {
            if let Root::Step(name) = &u.root {
                reads(name, &u.at, false)?;
            }
        }
        if let Some(c) = &step.condition {
            let at = format!("steps[{}].condition", step.index);
            for name in c.steps_referenced() {
                reads(&name, &at, false)?;
            }
        }
        if let Some(c) = &step.compensation {
            for u in c.params.uses() {
                if let Root::Step(name) = &u.root {
                    reads(name, &u.at, true)?;
                }
            }
        }
        Ok(())
    }
}

fn nonempty(v: &Validator<'_>, at: &str, s: &str) -> Result<(), WorkflowError> {
    if s.trim().is_empty() {
        Err(v.err(at, "must not be empty"))
    } else {
        Ok(())
    }
}

/// "`a` and `b`", "`a`, `b` and `c`".
fn quoted_and(keys: &[&str]) -> String {
    let q: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match q.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => q.join(""),
    }
}
