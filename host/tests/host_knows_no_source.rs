//! The host runs any source component; nothing in `host/src` may name one source's fields,
//! routes or file suffixes (they belong in that source's component).
use std::path::Path;

/// Words that would mean the host knows a particular source.
const SOURCE_WORDS: &[&str] = &["dropbox", ".paper", "s3.amazonaws", "list_folder"];

fn visit(dir: &Path, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            visit(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (n, line) in text.lines().enumerate() {
                let lower = line.to_lowercase();
                for word in SOURCE_WORDS {
                    if lower.contains(word) {
                        found.push(format!("{}:{}: {line}", path.display(), n + 1));
                    }
                }
            }
        }
    }
}

#[test]
fn no_source_is_named_in_host_src() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = vec![];
    visit(&src, &mut found);
    assert!(
        found.is_empty(),
        "host/src names a source (move it into the component):\n{}",
        found.join("\n")
    );
    // The scan itself must see the code, or it proves nothing.
    assert!(src.join("sync").is_dir());
}
