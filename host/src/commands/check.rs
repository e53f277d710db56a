//! `tributary check`: the config, the credentials and the configured location; nothing is
//! indexed.
use super::{EXIT_CONFIG, EXIT_CREDENTIALS, EXIT_FAILED, EXIT_OK, fail, load_tenant};
use crate::cli::ConfigArg;
use crate::http::CredentialError;
use crate::runtime::{GuestError, Runtime};
use crate::tenant::Secrets;

pub async fn run(runtime: &Runtime, args: ConfigArg) -> u8 {
    let tenant = match load_tenant(runtime, &args, Secrets::Required).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut connector = match tenant.instantiate(runtime).await {
        Ok(c) => c,
        Err(e) => return fail(EXIT_FAILED, &format!("{e:#}")),
    };
    if let Some(tokens) = tenant.http.tokens()
        && let Err(e) = tokens.token().await
    {
        let code = match e {
            CredentialError::Endpoint { .. } => EXIT_FAILED,
            _ => EXIT_CREDENTIALS,
        };
        return fail(code, &e.to_string());
    }
    match connector.check(&tenant.source.public_json()).await {
        Ok(Ok(summary)) => {
            println!(
                "ok: {summary}\n    connector {} {} (tributary:source@{})",
                tenant.info.id, tenant.info.version, tenant.info.api
            );
            if let Some(es) = &tenant.config.elasticsearch {
                println!(
                    "    documents go to {} index {:?} (not contacted by check)",
                    es.url, es.index
                );
            }
            EXIT_OK
        }
        Ok(Err(GuestError::InvalidConfig(m))) => fail(
            EXIT_CONFIG,
            &format!("{}: source.{m}", tenant.config.file.display()),
        ),
        Ok(Err(GuestError::Unauthorized(m))) => fail(EXIT_CREDENTIALS, &m),
        Ok(Err(other)) => fail(EXIT_FAILED, &other.to_string()),
        Err(e) => fail(EXIT_FAILED, &format!("{e:#}")),
    }
}
