//! `tributary fields`: the configuration fields a connector understands, from the component
//! itself (any component: bundled by name, or a path).
use super::{EXIT_CONFIG, EXIT_FAILED, EXIT_OK, fail};
use crate::cli::FieldsArgs;
use crate::config::bundled_component_dirs;
use crate::http::HttpService;
use crate::runtime::{Connector, LoadError, Runtime, SandboxLimits};
use std::path::PathBuf;
use std::sync::Arc;

pub async fn run(runtime: &Runtime, args: FieldsArgs) -> u8 {
    let path = match component_path(args.connector()) {
        Ok(p) => p,
        Err(e) => return fail(EXIT_CONFIG, &e),
    };
    let component = match runtime.load(&path).await {
        Ok(c) => c,
        Err(LoadError::Other(e)) => return fail(EXIT_FAILED, &format!("{e:#}")),
        Err(e) => return fail(EXIT_CONFIG, &format!("connector: {e}")),
    };
    let result = async {
        let http = Arc::new(HttpService::deny_all(crate::http::client::build_client()?));
        let mut connector = Connector::instantiate(
            runtime,
            &component,
            http,
            SandboxLimits::default(),
            "fields",
            &[],
        )
        .await?;
        connector.info().await
    }
    .await;
    match result {
        Ok(info) => {
            println!(
                "{} {} (tributary:source@{}) — [source] fields:",
                info.id, info.version, info.api
            );
            for f in info.config {
                let default = f
                    .default_value
                    .map(|d| format!(" (default {d})"))
                    .unwrap_or_default();
                let flags = match (f.required, f.secret) {
                    (true, true) => " required, secret",
                    (true, false) => " required",
                    (false, true) => " secret",
                    (false, false) => "",
                };
                println!(
                    "  {:<22} {}{flags}{default}\n      {}",
                    f.name,
                    f.kind.as_str(),
                    f.description
                );
            }
            println!(
                "Runner settings every connector has go in [sync] (retry_count, concurrent_downloads), [content] and [sandbox]."
            );
            EXIT_OK
        }
        Err(e) => fail(EXIT_FAILED, &format!("{e:#}")),
    }
}

/// A path (`x.wasm` or anything with a `/`) or the name of a bundled component.
fn component_path(connector: &str) -> Result<PathBuf, String> {
    if connector.ends_with(".wasm") || connector.contains('/') {
        let path = PathBuf::from(connector);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "connector: component file {} does not exist",
                path.display()
            ))
        };
    }
    bundled_component_dirs()
        .into_iter()
        .map(|dir| dir.join(format!("{connector}.wasm")))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "connector: no bundled component named {connector:?} (bundled: {})",
                crate::config::bundled_component_names().join(", ")
            )
        })
}
