//! A component from the future: it exports `tributary:source/source@0.3.0` (a renamed copy
//! of 0.2.0 in `wit/` beside this file). The host must refuse to load it, naming the version
//! it found and the versions it supports. Nothing here is ever called.

#[allow(unsafe_code, clippy::all, missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "source-connector",
    });

    #[cfg(target_arch = "wasm32")]
    use super::Component;
    #[cfg(target_arch = "wasm32")]
    export!(Component);
}

use bindings::exports::tributary::source::source as wit;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

fn unsupported() -> wit::Error {
    wit::Error::Permanent("a 0.3.0 component should never have been run".into())
}

struct SyncSession;

impl wit::GuestSyncSession for SyncSession {
    fn start(_params: wit::StartParams) -> Result<wit::SyncSession, wit::Error> {
        Err(unsupported())
    }

    fn next_page(&self) -> Result<wit::Page, wit::Error> {
        Err(unsupported())
    }
}

impl wit::Guest for Component {
    type SyncSession = SyncSession;

    fn info() -> wit::ConnectorInfo {
        wit::ConnectorInfo {
            id: "future-version".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config: vec![],
            index_properties: "{}".into(),
            access_control_properties: None,
            scopes: vec![],
        }
    }

    fn configure(_config: String) -> Result<wit::Plan, wit::Error> {
        Err(unsupported())
    }

    fn check(_config: String) -> Result<String, wit::Error> {
        Err(unsupported())
    }

    fn wait_for_changes(
        _config: String,
        _checkpoint: String,
        _timeout_secs: u32,
    ) -> Result<wit::WaitResult, wit::Error> {
        Err(unsupported())
    }
}
