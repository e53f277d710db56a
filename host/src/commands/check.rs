//! `tributary check`: the config, the credentials and the configured location; nothing is
//! indexed.
use super::{EXIT_CONFIG, EXIT_CREDENTIALS, EXIT_FAILED, EXIT_OK, fail, load_tenant};
use crate::cli::CheckArgs;
use crate::http::CredentialError;
use crate::runtime::{GuestError, Runtime};
use crate::tenant::Secrets;

pub async fn run(runtime: &Runtime, args: CheckArgs) -> u8 {
    let tenant = match load_tenant(runtime, &args.config, Secrets::Required).await {
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
            let rules = &tenant.config.rules;
            if !rules.is_empty() {
                println!("    {} sync rules, valid:", rules.rules().len());
                for rule in rules.rules() {
                    println!("      {}", rule.text);
                }
            }
            if args.count {
                return count(runtime, &tenant).await;
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

/// List the source without indexing anything (metadata only) and print what the rules decide.
async fn count(runtime: &Runtime, tenant: &crate::tenant::Tenant) -> u8 {
    let mut config = tenant.config.clone();
    config.content.extract = false;
    let listing = match crate::tenant::Tenant::prepare(runtime, config).await {
        Ok(t) => t,
        Err(e) => return fail(EXIT_FAILED, &e.to_string()),
    };
    let outputs = match crate::outputs::open(
        &listing,
        Some(&std::path::PathBuf::from("/dev/null")),
        None,
        None,
    )
    .await
    {
        Ok(o) => o,
        Err(e) => return fail(EXIT_FAILED, &e.to_string()),
    };
    let options = crate::sync::SyncOptions::alone(&listing, true, false);
    let (report, result) = crate::sync::run(runtime, &listing, outputs, &options, true).await;
    if let Err(e) = result {
        return fail(EXIT_FAILED, &format!("listing for the counts: {e}"));
    }
    println!(
        "    listed {} documents: {} excluded by the rules, {} kept",
        report.seen,
        report.excluded,
        report.seen - report.excluded
    );
    for r in &report.rules {
        println!("      {:>8}  {}", r.documents, r.rule);
    }
    EXIT_OK
}
