//! `${VAR}` references in string values, read from the environment.

use super::Problem;
use serde_yaml_ng::Value;

/// Replaces `${NAME}` in every string value under `value`; `$${` stands for a literal `${`.
/// An unset or empty variable is a problem at that key, so a missing secret is caught
/// before any connection is made.
pub(super) fn expand(
    value: &mut Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) {
    match value {
        Value::String(s) => match expand_str(s, env) {
            Ok(expanded) => *s = expanded,
            Err(message) => problems.push(Problem::new(path, message)),
        },
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand(item, &format!("{path}[{i}]"), env, problems);
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = match k {
                    Value::String(k) => k.clone(),
                    other => format!("{other:?}"),
                };
                let child = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                expand(v, &child, env, problems);
            }
        }
        Value::Tagged(tagged) => expand(&mut tagged.value, path, env, problems),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn expand_str(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix("${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let end = tail
                .find('}')
                .ok_or_else(|| "unclosed ${ in value".to_string())?;
            let name = &tail[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("'${{{name}}}' is not a valid variable reference"));
            }
            match env(name) {
                Some(v) if !v.is_empty() => out.push_str(&v),
                _ => return Err(format!("environment variable {name} is not set")),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SECRET" => Some("s3cr3t".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_known_variables() {
        assert_eq!(expand_str("a${SECRET}b", &env).unwrap(), "as3cr3tb");
        assert_eq!(expand_str("cost $5", &env).unwrap(), "cost $5");
        assert_eq!(expand_str("$${SECRET}", &env).unwrap(), "${SECRET}");
    }

    #[test]
    fn unset_and_empty_variables_are_errors() {
        assert_eq!(
            expand_str("${NOPE}", &env).unwrap_err(),
            "environment variable NOPE is not set"
        );
        assert_eq!(
            expand_str("${EMPTY}", &env).unwrap_err(),
            "environment variable EMPTY is not set"
        );
        assert_eq!(expand_str("${A", &env).unwrap_err(), "unclosed ${ in value");
        assert_eq!(
            expand_str("${A-B}", &env).unwrap_err(),
            "'${A-B}' is not a valid variable reference"
        );
    }
}
