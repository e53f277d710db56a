//! A folder path as the configuration gives it (`path`, a rule's `options.path`), checked and
//! turned into what Dropbox expects.

use crate::error::Error;

/// Validate the configured folder and return it as Dropbox wants it ("" for the root).
pub fn validate_path(raw: &str) -> Result<String, Error> {
    if raw.is_empty() || raw == "/" {
        return Ok(String::new());
    }
    if !raw.starts_with('/') {
        return Err(Error::InvalidConfig(format!(
            "path: {raw:?} must start with \"/\" (use \"/{}\", or \"/\" for the whole Dropbox)",
            raw.trim_end_matches('/')
        )));
    }
    if raw.ends_with('/') {
        return Err(Error::InvalidConfig(format!(
            "path: {raw:?} must not end with \"/\" (use {:?})",
            raw.trim_end_matches('/')
        )));
    }
    if raw.contains("//") {
        return Err(Error::InvalidConfig(format!(
            "path: {raw:?} contains an empty folder name (\"//\"); remove the extra \"/\""
        )));
    }
    if raw.chars().any(char::is_control) {
        return Err(Error::InvalidConfig(format!(
            "path: {raw:?} contains control characters; remove them"
        )));
    }
    if raw.ends_with(char::is_whitespace) {
        return Err(Error::InvalidConfig(format!(
            "path: {raw:?} ends with whitespace, which Dropbox does not allow; remove it"
        )));
    }
    Ok(raw.to_string())
}
