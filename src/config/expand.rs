//! `${VAR}` and `${VAR:-default}` expansion, the way Claude Code expands its `mcpServers`.

/// The result of expanding one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The string with every reference replaced (unset ones by the empty string).
    pub value: String,
    /// Variables referenced without a default and not set (or set to the empty string).
    pub missing: Vec<String>,
}

/// A malformed reference such as `${}` or `${A B}` or an unclosed `${`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed variable reference `{reference}`: use ${{NAME}} or ${{NAME:-default}}")]
pub struct ExpandError {
    /// The offending text, from `${` on.
    pub reference: String,
}

/// Expands `input` with values from `lookup`. An empty value counts as unset, as it does for
/// `required_env`: `OPENAI_API_KEY=` in a shell profile is a missing key, not a key.
pub fn expand(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Expanded, ExpandError> {
    let mut value = String::with_capacity(input.len());
    let mut missing = Vec::new();
    let mut rest = input;
    while let Some(start) = rest.find("${") {
        value.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(ExpandError {
                reference: rest[start..].to_owned(),
            });
        };
        let body = &after[..end];
        let (name, default) = match body.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (body, None),
        };
        if !is_var_name(name) {
            return Err(ExpandError {
                reference: rest[start..start + 3 + end].to_owned(),
            });
        }
        match (lookup(name).filter(|v| !v.is_empty()), default) {
            (Some(v), _) => value.push_str(&v),
            (None, Some(default)) => value.push_str(default),
            (None, None) => missing.push(name.to_owned()),
        }
        rest = &after[end + 1..];
    }
    value.push_str(rest);
    Ok(Expanded { value, missing })
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/u".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn plain_strings_pass_through() {
        let e = expand("no refs $HOME here", &env).unwrap();
        assert_eq!(e.value, "no refs $HOME here");
        assert!(e.missing.is_empty());
    }

    #[test]
    fn set_unset_and_default() {
        let e = expand("${HOME}/x:${NOPE}:${NOPE:-dflt}:${HOME:-unused}", &env).unwrap();
        assert_eq!(e.value, "/home/u/x::dflt:/home/u");
        assert_eq!(e.missing, vec!["NOPE".to_owned()]);
    }

    #[test]
    fn empty_counts_as_unset() {
        let e = expand("${EMPTY}|${EMPTY:-d}", &env).unwrap();
        assert_eq!(e.value, "|d");
        assert_eq!(e.missing, vec!["EMPTY".to_owned()]);
    }

    #[test]
    fn default_may_contain_colons_and_slashes() {
        let e = expand("${URL:-https://api.openai.com/v1}", &env).unwrap();
        assert_eq!(e.value, "https://api.openai.com/v1");
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(expand("${}", &env).is_err());
        assert!(expand("${A B}", &env).is_err());
        assert!(expand("${1X}", &env).is_err());
        let err = expand("abc ${UNCLOSED", &env).unwrap_err();
        assert_eq!(err.reference, "${UNCLOSED");
    }
}
