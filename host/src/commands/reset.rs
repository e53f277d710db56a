//! `tributary reset`: forget a tenant's checkpoint (and replace a state document that cannot
//! be read), so the next sync enumerates everything again. Indexed documents stay; the next
//! full enumeration purges what is gone.
use super::{EXIT_BUSY, EXIT_CONFIG, EXIT_FAILED, EXIT_OK, fail, state_store};
use crate::cli::ConfigArg;
use crate::config::TenantConfig;
use crate::state::StateError;

pub async fn run(args: ConfigArg) -> u8 {
    let config = match TenantConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => return fail(EXIT_CONFIG, &format!("{e:#}")),
    };
    let store = match state_store(&config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match store.reset(&config.tenant).await {
        Ok(()) => {
            println!(
                "tenant {}: checkpoint cleared; the next `tributary sync` enumerates everything and then removes what is gone",
                config.tenant
            );
            EXIT_OK
        }
        Err(e @ StateError::Busy { .. }) => fail(EXIT_BUSY, &e.to_string()),
        Err(e) => fail(EXIT_FAILED, &e.to_string()),
    }
}
