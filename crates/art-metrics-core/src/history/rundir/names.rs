//! The names that become folders of a run's path, `{base_path}/{project}/models/{name}`:
//! each must be exactly one folder, so that no name writes outside `base_path` or outside
//! `{project}/models/` (openpipe-art joins them as given: `project="../.."` climbs out).

use crate::error::{CoreError, CoreResult};

/// Checks that `value`, the argument `what`, names one folder: not empty or blank, not `.`
/// or `..`, and without `/`, `\` or NUL.
pub fn path_component(value: &str, what: &str) -> CoreResult<()> {
    if value.trim().is_empty() {
        return Err(CoreError::value(format!(
            "{what} must be a non-empty str, got {value:?}"
        )));
    }
    let bad = value == "." || value == ".." || value.contains(['/', '\\', '\0']);
    if bad {
        return Err(CoreError::value(format!(
            "{what} must be one folder name (no '/', '\\', NUL, '.' or '..'): the run directory \
             is {{base_path}}/{{project}}/models/{{name}}; got {value:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_folder_only() {
        for good in ["run-1", "agent 001", "a.b", "..x", "x..", "Qwen2.5", "é"] {
            assert!(path_component(good, "name").is_ok(), "{good}");
        }
        for bad in [
            "", "  ", ".", "..", "a/b", "../x", "/abs", "a\\b", "nul\0", "x/",
        ] {
            let err = path_component(bad, "project").unwrap_err().to_string();
            assert!(err.starts_with("project must be"), "{bad:?}: {err}");
        }
    }
}
