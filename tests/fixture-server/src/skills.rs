//! `--skills`: the Skills extension (SEP-2640) with `directoryRead`. Two skills, `greeting` and
//! `arithmetic`, each a `SKILL.md` and one supporting file; the `add_skill` tool adds a third,
//! `farewell`, and announces it with `resources/list_changed` (the spec has no skills
//! notification). Only the `SKILL.md` files are in `resources/list`, as the spec suggests.

use rmcp::model::{
    DIRECTORY_MIME_TYPE, Resource, SKILL_MD, Skill, SkillFrontmatter, SkillResource, SkillResources,
};

/// (URI, content) of every file, by skill: the `SKILL.md` first.
const SKILLS: &[&[(&str, &str)]] = &[
    &[
        (
            "skill://fixture/greeting/SKILL.md",
            "---\nname: greeting\ndescription: Greet people in the house style\n---\n\n# Greeting\n\nUse the tone in `references/tone.md`.\n",
        ),
        (
            "skill://fixture/greeting/references/tone.md",
            "# Tone\n\nWarm and short.\n",
        ),
    ],
    &[
        (
            "skill://fixture/arithmetic/SKILL.md",
            "---\nname: arithmetic\ndescription: Add numbers with the add tool\n---\n\n# Arithmetic\n\nSee `examples/sum.md`.\n",
        ),
        (
            "skill://fixture/arithmetic/examples/sum.md",
            "add(2, 3) = 5\n",
        ),
    ],
];

/// The skill `add_skill` adds.
const ADDED: &[(&str, &str)] = &[
    (
        "skill://fixture/farewell/SKILL.md",
        "---\nname: farewell\ndescription: Say goodbye\n---\n\n# Farewell\n\nSee `notes.md`.\n",
    ),
    ("skill://fixture/farewell/notes.md", "Keep it brief.\n"),
];

fn served(added: bool) -> impl Iterator<Item = &'static [(&'static str, &'static str)]> {
    SKILLS.iter().copied().chain(added.then_some(ADDED))
}

fn entry(files: &[(&str, &str)]) -> Option<Skill> {
    let (uri, md) = files.first()?;
    let front = md.strip_prefix("---\n")?.split("\n---\n").next()?;
    let field = |key: &str| {
        front
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
            .unwrap_or_default()
    };
    let manifest = files
        .iter()
        .map(|(u, c)| SkillResource::from_bytes(*u, c.as_bytes()))
        .collect();
    Some(Skill::new(
        *uri,
        SkillFrontmatter::new(field("name"), field("description")),
        SkillResources::Files(manifest),
    ))
}

/// `skills/list`.
pub fn list(added: bool) -> Vec<Skill> {
    served(added).filter_map(entry).collect()
}

/// `skills/get`.
pub fn get(uri: &str, added: bool) -> Option<Skill> {
    served(added)
        .find(|files| files.first().is_some_and(|(u, _)| *u == uri))
        .and_then(entry)
}

/// `resources/read` of a skill file.
pub fn read(uri: &str, added: bool) -> Option<&'static str> {
    served(added)
        .flatten()
        .find(|(u, _)| *u == uri)
        .map(|(_, c)| *c)
}

/// The `SKILL.md` files, for `resources/list`.
pub fn resources(added: bool) -> Vec<Resource> {
    list(added)
        .into_iter()
        .map(|s| {
            Resource::new(s.uri, s.frontmatter.name)
                .with_mime_type("text/markdown")
                .with_description(s.frontmatter.description)
        })
        .collect()
}

/// `resources/directory/read`: the direct children of `dir`, or `None` if it is not a
/// directory of a skill.
pub fn directory(dir: &str, added: bool) -> Option<Vec<Resource>> {
    let prefix = format!("{dir}/");
    let mut out: Vec<Resource> = Vec::new();
    for (uri, _) in served(added).flatten() {
        let Some(rest) = uri.strip_prefix(&prefix) else {
            continue;
        };
        let r = match rest.split_once('/') {
            Some((sub, _)) => {
                Resource::new(format!("{prefix}{sub}"), sub).with_mime_type(DIRECTORY_MIME_TYPE)
            }
            None if rest == SKILL_MD => Resource::new(*uri, rest).with_mime_type("text/markdown"),
            None => Resource::new(*uri, rest),
        };
        if !out.iter().any(|o| o.uri == r.uri) {
            out.push(r);
        }
    }
    (!out.is_empty()).then_some(out)
}
