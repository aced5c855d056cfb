//! Names the host sees: `<server>__<tool>`, within `^[a-zA-Z0-9_-]{1,64}$` (what Claude Desktop
//! accepts), shortened with a stable hash when too long, and unique.

use std::collections::HashSet;

/// Between the server id and the child's own name.
pub const SEPARATOR: &str = "__";
/// Longest name a host accepts.
pub const MAX_LEN: usize = 64;
/// `_` plus eight hex digits.
const HASH_SUFFIX_LEN: usize = 9;

/// Replaces every character outside `[A-Za-z0-9_-]` with `_`.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// 64-bit FNV-1a: tiny, dependency-free and stable across versions and platforms, which is all a
/// name suffix needs (it is not a security boundary).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0xff;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in part.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn with_hash(base: &str, hash: u64) -> String {
    let keep = MAX_LEN - HASH_SUFFIX_LEN;
    // `base` is ASCII after sanitising, so byte slicing is char slicing.
    let head = &base[..base.len().min(keep)];
    format!("{head}_{:08x}", hash >> 32)
}

/// Hands out host-facing names for `(server, item)` pairs, deterministically for a given order of
/// calls: plain `server__item` when it fits and is free; otherwise a shortened name with a hash of
/// the original pair.
#[derive(Debug, Default)]
pub struct Namer {
    taken: HashSet<String>,
    /// Human-readable notes about renamed items, for the log.
    pub warnings: Vec<String>,
}

impl Namer {
    /// A namer with some names already reserved (the orchestrator's own tools).
    pub fn with_reserved<'a>(reserved: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            taken: reserved.into_iter().map(str::to_owned).collect(),
            warnings: Vec::new(),
        }
    }

    /// The name for `item` of `server`, bare when `namespaced` is false.
    pub fn name_in(&mut self, server: &str, item: &str, namespaced: bool) -> String {
        if namespaced {
            return self.name(server, item);
        }
        let bare = sanitize(item);
        if !bare.is_empty() && bare.len() <= MAX_LEN && !self.taken.contains(&bare) {
            self.taken.insert(bare.clone());
            return bare;
        }
        self.warnings.push(format!(
            "`{item}` of server `{server}` cannot be exposed bare (taken or not a valid name); it keeps its prefix"
        ));
        self.name(server, item)
    }

    /// The name for `item` of `server`.
    pub fn name(&mut self, server: &str, item: &str) -> String {
        let plain = format!("{}{SEPARATOR}{}", sanitize(server), sanitize(item));
        let mut candidate = if plain.len() <= MAX_LEN {
            plain.clone()
        } else {
            with_hash(&plain, fnv1a(&[server, item]))
        };
        let mut round = 0u32;
        while self.taken.contains(&candidate) {
            round += 1;
            let salt = round.to_string();
            candidate = with_hash(&plain, fnv1a(&[server, item, &salt]));
        }
        if round > 0 {
            self.warnings.push(format!(
                "`{item}` of server `{server}` collides with another name as `{plain}`; exposed as `{candidate}`"
            ));
        }
        self.taken.insert(candidate.clone());
        candidate
    }
}

/// Whether `name` is acceptable to hosts.
#[cfg(test)]
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        let mut n = Namer::default();
        assert_eq!(n.name("everything", "echo"), "everything__echo");
        assert_eq!(n.name("fs", "read.file"), "fs__read_file");
        assert_eq!(n.name("my server", "get-sum"), "my_server__get-sum");
        assert!(n.warnings.is_empty());
    }

    #[test]
    fn long_names_are_shortened_stably() {
        let tool = "a_really_long_tool_name_that_goes_on_and_on_and_on_forever_and_ever";
        let a = Namer::default().name("server", tool);
        let b = Namer::default().name("server", tool);
        assert_eq!(a, b, "same input, same name");
        assert_eq!(a.len(), MAX_LEN);
        assert!(is_valid(&a));
        assert!(a.starts_with("server__a_really_long"));
        let other = Namer::default().name("server", &format!("{tool}_2"));
        assert_ne!(a, other, "different tools differ in the hash");
    }

    #[test]
    fn collisions_resolve_deterministically_with_a_warning() {
        let mut n = Namer::default();
        let first = n.name("s", "a.b");
        let second = n.name("s", "a_b");
        assert_eq!(first, "s__a_b");
        assert_ne!(second, first);
        assert!(is_valid(&second));
        assert_eq!(n.warnings.len(), 1);
        let mut again = Namer::default();
        assert_eq!(again.name("s", "a.b"), first);
        assert_eq!(again.name("s", "a_b"), second);
    }

    #[test]
    fn bare_names_when_asked_and_free() {
        let mut n = Namer::with_reserved(["chat"]);
        assert_eq!(
            n.name_in("conf", "test_simple_text", false),
            "test_simple_text"
        );
        assert_eq!(
            n.name_in("conf", "chat", false),
            "conf__chat",
            "reserved: keeps its prefix"
        );
        assert_eq!(
            n.name_in("other", "test_simple_text", false),
            "other__test_simple_text"
        );
        assert_eq!(n.warnings.len(), 2);
    }

    #[test]
    fn reserved_names_are_avoided() {
        let mut n = Namer::with_reserved(["x__y"]);
        assert_ne!(n.name("x", "y"), "x__y");
    }

    #[test]
    fn every_output_is_valid_for_odd_inputs() {
        let mut n = Namer::default();
        for (s, t) in [
            ("ünï", "cödé"),
            ("", ""),
            ("a", &"é".repeat(80)),
            ("srv", "tool\u{202e}rtl"),
        ] {
            let name = n.name(s, t);
            assert!(is_valid(&name), "{name:?}");
        }
    }
}
