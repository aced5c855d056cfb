//! A definition as a picture: Mermaid (for Markdown) and Graphviz DOT, optionally coloured by
//! the step states of a run.
//!
//! Mermaid node ids are `s<index>` rather than step names because a `-` in an id can read as
//! part of an arrow; the names are in the labels.

use std::{collections::BTreeMap, fmt::Write};

use crate::report::StepStatus;

use super::{Definition, Step};

/// A Mermaid `flowchart TD`: one node per step (`name<br/>target`), an edge per `dependsOn`, and
/// with `states`, one `classDef` per state present and `class` lines (pending steps stay plain).
pub fn mermaid(def: &Definition, states: Option<&BTreeMap<String, StepStatus>>) -> String {
    let mut out = String::from("flowchart TD\n");
    for s in &def.steps {
        let _ = writeln!(
            out,
            "    s{}[\"{}<br/>{}\"]",
            s.index,
            mermaid_text(&s.name),
            mermaid_text(&s.target.to_string())
        );
    }
    for s in &def.steps {
        for &d in &s.depends_on {
            let _ = writeln!(out, "    s{d} --> s{}", s.index);
        }
    }
    let Some(states) = states else {
        return out;
    };
    let mut by_state: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for s in &def.steps {
        if let Some(state) = states.get(&s.name)
            && colours(*state).is_some()
        {
            by_state
                .entry(state.as_str())
                .or_default()
                .push(format!("s{}", s.index));
        }
    }
    for (state, ids) in &by_state {
        if let Some((fill, stroke, text)) = StepStatus::parse(state).and_then(colours) {
            let _ = writeln!(
                out,
                "    classDef {state} fill:{fill},stroke:{stroke},color:{text}"
            );
            let _ = writeln!(out, "    class {} {state}", ids.join(","));
        }
    }
    out
}

/// A Graphviz `digraph`: boxes labelled `name\ntarget`, an edge per `dependsOn`, filled by state.
pub fn dot(def: &Definition, states: Option<&BTreeMap<String, StepStatus>>) -> String {
    let mut out = format!("digraph {} {{\n", dot_string(&def.name));
    out.push_str("    rankdir=TB;\n");
    out.push_str("    node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\"];\n");
    for s in &def.steps {
        let _ = write!(
            out,
            "    {} [label={}",
            dot_string(&s.name),
            dot_string(&format!("{}\n{}", s.name, s.target))
        );
        if let Some((fill, stroke, text)) = state_of(s, states).and_then(colours) {
            let _ = write!(
                out,
                ", fillcolor=\"{fill}\", color=\"{stroke}\", fontcolor=\"{text}\""
            );
        }
        out.push_str("];\n");
    }
    for s in &def.steps {
        for &d in &s.depends_on {
            if let Some(up) = def.steps.get(d) {
                let _ = writeln!(
                    out,
                    "    {} -> {};",
                    dot_string(&up.name),
                    dot_string(&s.name)
                );
            }
        }
    }
    out.push_str("}\n");
    out
}

fn state_of(s: &Step, states: Option<&BTreeMap<String, StepStatus>>) -> Option<StepStatus> {
    states.and_then(|m| m.get(&s.name).copied())
}

/// Fill, stroke and text colour per state; `None` for pending, drawn plain.
fn colours(state: StepStatus) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match state {
        StepStatus::Pending => return None,
        StepStatus::Running => ("#bbdefb", "#1565c0", "#000000"),
        StepStatus::Completed => ("#c8e6c9", "#2e7d32", "#000000"),
        StepStatus::Failed => ("#ffcdd2", "#c62828", "#000000"),
        StepStatus::Skipped => ("#eeeeee", "#9e9e9e", "#616161"),
        StepStatus::Cancelled => ("#e0e0e0", "#616161", "#000000"),
        StepStatus::Compensating => ("#ffe0b2", "#ef6c00", "#000000"),
        StepStatus::Compensated => ("#ffb74d", "#e65100", "#000000"),
        StepStatus::CompensationFailed => ("#b71c1c", "#7f0000", "#ffffff"),
        StepStatus::Unknown => ("#e1bee7", "#6a1b9a", "#000000"),
    })
}

/// Text inside a quoted Mermaid label: `"` would end it, so it becomes an entity.
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// A DOT quoted string.
fn dot_string(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}
