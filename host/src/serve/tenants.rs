//! The tenants `tributary serve` runs: a directory of tenant files (one tenant each) or one
//! file of `[[tenant]]` tables. A bad file (syntax, unknown field, duplicate tenant id) is
//! reported with its file and field and skipped; the other tenants go on. The set is read
//! again whenever a file changes, so tenants come and go without a restart.
use crate::config::TenantConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What was read, and what could not be.
#[derive(Debug, Default, Clone)]
pub struct TenantSet {
    pub tenants: BTreeMap<String, Arc<TenantConfig>>,
    /// One line per problem, naming the file (and the field).
    pub problems: Vec<String>,
}

/// What the files held when read (path and content digest): a change means reading them
/// again. Tenant files are small; hashing them beats trusting modification times.
pub type Fingerprint = Vec<(PathBuf, String)>;

/// The tenant files under `path` (itself, when it is a file) and their content digests.
pub fn fingerprint(path: &Path) -> Fingerprint {
    use sha2::{Digest, Sha256};
    tenant_files(path)
        .into_iter()
        .map(|file| {
            let digest = std::fs::read(&file)
                .map(|bytes| hex::encode(Sha256::digest(bytes)))
                .unwrap_or_default();
            (file, digest)
        })
        .collect()
}

fn tenant_files(path: &Path) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().is_some_and(|e| e == "toml")
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Read every tenant under `path`.
pub fn load(path: &Path) -> TenantSet {
    let mut set = TenantSet::default();
    if !path.exists() {
        set.problems.push(format!(
            "{}: no such file or directory; give --tenants a directory of tenant files or a file of [[tenant]] tables",
            path.display()
        ));
        return set;
    }
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    for file in tenant_files(path) {
        for result in parse_file(&file, !path.is_dir()) {
            match result {
                Ok((label, config)) => {
                    if let Some(first) = origin.get(&config.tenant) {
                        set.problems.push(format!(
                            "{label}: tenant: {:?} is already defined by {first}; this one is ignored (tenant ids must be unique)",
                            config.tenant
                        ));
                        continue;
                    }
                    origin.insert(config.tenant.clone(), label);
                    set.tenants.insert(config.tenant.clone(), Arc::new(config));
                }
                Err(problem) => set.problems.push(problem),
            }
        }
    }
    set
}

/// The tenants of one file: the file itself, or (when `many` and it has `[[tenant]]`
/// tables) each table.
fn parse_file(file: &Path, many: bool) -> Vec<Result<(String, TenantConfig), String>> {
    let name = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return vec![Err(format!("{name}: cannot be read: {e}"))],
    };
    let root: toml::Table = match toml::from_str(&text) {
        Ok(r) => r,
        Err(e) => return vec![Err(format!("{name}: not valid TOML: {e}"))],
    };
    let Some(tables) = root
        .get("tenant")
        .and_then(|t| t.as_array())
        .filter(|_| many)
    else {
        return vec![
            TenantConfig::from_table(root, file, &name, true)
                .map(|c| (name.clone(), c))
                .map_err(|e| format!("{e:#}")),
        ];
    };
    if root.len() > 1 {
        return vec![Err(format!(
            "{name}: a file of [[tenant]] tables holds nothing else (found {})",
            root.keys()
                .filter(|k| *k != "tenant")
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))];
    }
    tables
        .iter()
        .enumerate()
        .map(|(i, table)| {
            let label = format!("{name} [[tenant]] #{}", i + 1);
            match table.as_table() {
                Some(t) => TenantConfig::from_table(t.clone(), file, &label, false)
                    .map(|c| (label.clone(), c))
                    .map_err(|e| format!("{e:#}")),
                None => Err(format!("{label}: expected a table")),
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_reported_and_good_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("a.toml", "connector = \"x.wasm\"\n");
        write("b.toml", "connector = \"x.wasm\"\n[source\n");
        write("c.toml", "connector = \"x.wasm\"\nfrobnicate = 1\n");
        write("d.toml", "tenant = \"a\"\nconnector = \"x.wasm\"\n");
        write(".hidden.toml", "nonsense");
        write("notes.txt", "not a tenant");
        let set = load(dir.path());
        assert_eq!(set.tenants.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(set.problems.len(), 3, "{:#?}", set.problems);
        assert!(set.problems[0].contains("b.toml") && set.problems[0].contains("TOML"));
        assert!(set.problems[1].contains("c.toml") && set.problems[1].contains("frobnicate"));
        assert!(set.problems[2].contains("d.toml") && set.problems[2].contains("already defined"));
    }

    #[test]
    fn one_file_may_hold_many_tenants() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tenants.toml");
        std::fs::write(
            &file,
            "[[tenant]]\ntenant = \"one\"\nconnector = \"x.wasm\"\n\n[[tenant]]\nconnector = \"x.wasm\"\n\n[[tenant]]\ntenant = \"two\"\nconnector = \"y.wasm\"\n[tenant.schedule]\nincremental = \"5m\"\n",
        )
        .unwrap();
        let set = load(&file);
        assert_eq!(set.tenants.keys().collect::<Vec<_>>(), ["one", "two"]);
        assert_eq!(set.problems.len(), 1);
        assert!(set.problems[0].contains("#2") && set.problems[0].contains("tenant: required"));
        let before = fingerprint(&file);
        std::fs::write(
            &file,
            "[[tenant]]\ntenant = \"one\"\nconnector = \"x.wasm\"\n",
        )
        .unwrap();
        assert_ne!(fingerprint(&file), before);
    }
}
