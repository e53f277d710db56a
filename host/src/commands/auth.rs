//! `tributary auth`: the OAuth2 authorization-code flow with PKCE, replacing the spec's manual
//! "open this URL, then curl the token endpoint" steps. It prints the authorize URL, reads the
//! code, exchanges it, checks the granted scopes and stores the refresh token where the
//! config says secrets live (a file, by default next to the config, mode 0600).
use super::{EXIT_CONFIG, EXIT_CREDENTIALS, EXIT_FAILED, EXIT_OK, load_tenant};
use crate::cli::AuthArgs;
use crate::config::ValueSource;
use crate::runtime::Runtime;
use crate::source::Credential;
use crate::tenant::Secrets;
use base64::Engine as _;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// A 64-character verifier from the unreserved alphabet (RFC 7636 allows 43..128).
pub fn pkce_verifier() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..64)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// `base64url(sha256(verifier))` without padding.
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[derive(serde::Deserialize)]
struct CodeExchange {
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

pub async fn run(runtime: &Runtime, args: AuthArgs) -> u8 {
    let tenant = match load_tenant(runtime, &args.config, Secrets::Optional).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let file = tenant.config.file.display().to_string();
    let Some(Credential::OAuth2(oauth)) = tenant.plan.credential.clone() else {
        eprintln!(
            "error: the {} connector does not use OAuth2; its credentials go in the config (see `tributary fields`)",
            tenant.info.id
        );
        return EXIT_CONFIG;
    };
    let Some(client_id) = tenant
        .source
        .text_or_secret(&oauth.client_id_field)
        .map(|s| s.expose().to_string())
    else {
        eprintln!(
            "error: {file}: source.{}: required (the OAuth client id, e.g. the app key from the app console)",
            oauth.client_id_field
        );
        return EXIT_CONFIG;
    };
    let verifier_file = verifier_path(&tenant.config.file);
    let (verifier, code) = match args.code {
        // The code comes from the URL an earlier run printed: use that run's verifier.
        Some(code) => match std::fs::read_to_string(&verifier_file) {
            Ok(verifier) if !verifier.trim().is_empty() => (verifier.trim().to_string(), code),
            _ => {
                eprintln!(
                    "error: no authorization in progress for {file}: run `tributary auth --config {file}` first; \
                     it prints the URL and keeps what `--code` needs"
                );
                return EXIT_CONFIG;
            }
        },
        None => {
            let verifier = pkce_verifier();
            if let Err(e) = write_private(&verifier_file, &verifier) {
                eprintln!(
                    "error: cannot keep the PKCE verifier in {}: {e:#}",
                    verifier_file.display()
                );
                return EXIT_FAILED;
            }
            let mut authorize = match url::Url::parse(&oauth.authorize_url) {
                Ok(u) => u,
                Err(e) => {
                    eprintln!("error: the connector's authorize URL is invalid: {e}");
                    return EXIT_FAILED;
                }
            };
            {
                let mut query = authorize.query_pairs_mut();
                query
                    .append_pair("client_id", &client_id)
                    .append_pair("response_type", "code");
                for (name, value) in &oauth.authorize_params {
                    query.append_pair(name, value);
                }
                query
                    .append_pair("code_challenge", &pkce_challenge(&verifier))
                    .append_pair("code_challenge_method", "S256")
                    .append_pair("scope", &oauth.scopes.join(" "));
            }
            println!("Open this URL in a browser, sign in and allow access:\n\n  {authorize}\n");
            println!("Then paste the authorization code here and press Enter:");
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).is_err() || line.trim().is_empty() {
                eprintln!(
                    "error: no authorization code was given; when you have it, run \
                     `tributary auth --config {file} --code CODE`"
                );
                return EXIT_FAILED;
            }
            (verifier, line.trim().to_string())
        }
    };
    let client = match crate::http::client::build_client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_FAILED;
        }
    };
    // PKCE replaces the client secret: app_secret is not needed (nor sent) here.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", client_id.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let response = match client.post(&oauth.token_url).form(&form).send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: the token endpoint {} could not be reached: {}",
                oauth.token_url,
                crate::http::oauth::without_url(&e)
            );
            return EXIT_FAILED;
        }
    };
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        eprintln!(
            "error: the code was not accepted (HTTP {status}): {text}\nA code works once, expires within minutes, and only with the URL \
             of the last `tributary auth --config {file}` run: run it again for a new URL."
        );
        return EXIT_CREDENTIALS;
    }
    let exchange: CodeExchange = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: unreadable token response: {e}");
            return EXIT_FAILED;
        }
    };
    let Some(refresh_token) = exchange.refresh_token else {
        eprintln!("error: no refresh token was issued (was token_access_type=offline honoured?)");
        return EXIT_CREDENTIALS;
    };
    if let Some(granted) = &exchange.scope {
        let granted: Vec<&str> = granted.split_whitespace().collect();
        let missing: Vec<&str> = oauth
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|s| !granted.contains(s))
            .collect();
        if !missing.is_empty() {
            eprintln!(
                "error: the app was not granted {}; enable them on the app's Permissions tab, then run `tributary auth` again",
                missing.join(", ")
            );
            return EXIT_CREDENTIALS;
        }
        println!("Granted scopes: {}", granted.join(" "));
    }
    match store_refresh_token(
        &tenant.config.file,
        tenant.config.source.get(&oauth.refresh_token_field),
        &oauth.refresh_token_field,
        &refresh_token,
    ) {
        Ok(message) => {
            // The verifier has done its job; a later code needs a new URL.
            let _ = std::fs::remove_file(&verifier_file);
            println!("{message}\nNext: tributary check --config {file}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_FAILED
        }
    }
}

/// Put the token where the config points (`{ file = ... }`), or into a new file next to the
/// config that the config is then pointed at. Never inline in the TOML.
fn store_refresh_token(
    config_file: &Path,
    current: Option<&ValueSource>,
    field: &str,
    token: &str,
) -> anyhow::Result<String> {
    match current {
        Some(ValueSource::File(path)) => {
            write_private(path, token)?;
            Ok(format!("Refresh token written to {}", path.display()))
        }
        Some(ValueSource::Env(var)) => Ok(format!(
            "The config reads the refresh token from ${var}; set it, e.g. in your secret manager (value not shown). To store it in a file instead, use `{field} = {{ file = \"...\" }}` and run auth again."
        )),
        Some(ValueSource::Inline(_)) | None => {
            let stem = config_file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "tributary".into());
            let file_name = format!("{stem}.{field}");
            let path: PathBuf = config_file
                .parent()
                .unwrap_or(Path::new("."))
                .join(&file_name);
            write_private(&path, token)?;
            let text = std::fs::read_to_string(config_file)?;
            let mut doc: toml_edit::DocumentMut = text.parse()?;
            let source = doc
                .entry("source")
                .or_insert(toml_edit::Item::Table(toml_edit::Table::new()));
            let mut pointer = toml_edit::InlineTable::new();
            pointer.insert("file", file_name.as_str().into());
            source[field] = toml_edit::value(pointer);
            std::fs::write(config_file, doc.to_string())?;
            Ok(format!(
                "Refresh token written to {} (mode 0600) and {} now points to it",
                path.display(),
                config_file.display()
            ))
        }
    }
}

/// Where a started authorization keeps its PKCE verifier for a later `--code` run: next to
/// the config, private.
fn verifier_path(config_file: &Path) -> PathBuf {
    let stem = config_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tributary".into());
    config_file
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!(".{stem}.pkce-verifier"))
}

/// Write a secret to a file only its owner can read, whether or not the file existed.
fn write_private(path: &Path, value: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` applies only when the file is created: tighten an existing one too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(value.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_unpadded_base64url_of_sha256() {
        // Expected value computed independently with Python's hashlib + base64.urlsafe_b64encode.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc"
        );
        let v = pkce_verifier();
        assert_eq!(v.len(), 64);
        assert!(v.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn an_existing_token_file_is_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("source.refresh_token");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "new").unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
    }

    #[test]
    fn a_new_token_goes_to_a_private_file_the_config_points_to() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("acme.toml");
        std::fs::write(
            &config,
            "[source]\napp_key = \"k\"\nrefresh_token = \"old\"\n",
        )
        .unwrap();
        store_refresh_token(
            &config,
            Some(&ValueSource::Inline("old".into())),
            "refresh_token",
            "rt-new",
        )
        .unwrap();
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(
            text.contains("refresh_token = { file = \"acme.refresh_token\" }"),
            "{text}"
        );
        assert!(!text.contains("rt-new"));
        let secret = dir.path().join("acme.refresh_token");
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "rt-new\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
