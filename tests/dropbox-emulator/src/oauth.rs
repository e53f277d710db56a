//! OAuth2: `/oauth2/token` (refresh_token and authorization_code grants, PKCE), the
//! auto-approving `/oauth2/authorize` page, and the access-token store.

use crate::app::App;
use crate::content::mix;
use crate::errors::ApiError;
use crate::ids;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Scopes granted to user-linked tokens.
pub const USER_SCOPES: &str =
    "account_info.read files.content.read files.metadata.read sharing.read";
/// Scopes granted to team-linked tokens.
pub const TEAM_SCOPES: &str = "account_info.read files.content.read files.metadata.read sharing.read members.read team_data.member team_data.content.read team_info.read";

/// Who a token acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A single account (index into the world's accounts).
    User(usize),
    /// The whole team.
    Team,
}

struct AccessToken {
    principal: Principal,
    expires_at: Instant,
    /// The refresh token this access token belongs to (minted from it, or issued with it).
    refresh: Option<String>,
}

struct Code {
    challenge: Option<(String, String)>,
    redirect_uri: Option<String>,
    offline: bool,
}

/// Issued tokens, codes and refresh tokens.
pub struct Tokens {
    access: HashMap<String, AccessToken>,
    codes: HashMap<String, Code>,
    refresh: HashSet<String>,
    /// Lifetime of newly issued access tokens, seconds.
    pub lifetime: u64,
    counter: u64,
    salt: u64,
}

impl Tokens {
    /// A store that accepts `refresh_token`.
    pub fn new(refresh_token: &str, lifetime: u64, salt: u64) -> Self {
        Tokens {
            access: HashMap::new(),
            codes: HashMap::new(),
            refresh: HashSet::from([refresh_token.to_string()]),
            lifetime,
            counter: 0,
            salt,
        }
    }

    fn fresh(&mut self, prefix: &str, n: usize) -> String {
        self.counter += 1;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        format!(
            "{prefix}{}",
            ids::token_chars(mix(self.counter ^ self.salt) ^ nanos.rotate_left(17), n)
        )
    }

    /// Issue an access token that belongs to no refresh token.
    pub fn issue(&mut self, principal: Principal) -> String {
        self.issue_for(principal, None)
    }

    /// Issue an access token, remembering the refresh token it belongs to.
    fn issue_for(&mut self, principal: Principal, refresh: Option<&str>) -> String {
        let prefix = match principal {
            Principal::User(_) => "sl.u.",
            Principal::Team => "sl.t.",
        };
        let tok = self.fresh(prefix, 64);
        let expires_at = Instant::now() + Duration::from_secs(self.lifetime);
        self.access.insert(
            tok.clone(),
            AccessToken {
                principal,
                expires_at,
                refresh: refresh.map(str::to_string),
            },
        );
        tok
    }

    /// Every issued token is now expired.
    pub fn expire_all(&mut self) {
        let now = Instant::now();
        for t in self.access.values_mut() {
            t.expires_at = now;
        }
    }

    /// `auth/token/revoke`: disable `token`. If it has a refresh token, that refresh token is
    /// disabled too, along with every other access token minted from it (§1.2).
    pub fn revoke(&mut self, token: &str) {
        let Some(t) = self.access.remove(token) else {
            return;
        };
        if let Some(rt) = t.refresh {
            self.refresh.remove(&rt);
            self.access
                .retain(|_, other| other.refresh.as_deref() != Some(rt.as_str()));
        }
    }

    /// Check a bearer token in Dropbox's order: malformed 400, unknown 401, expired 401.
    pub fn check(&self, route: &str, token: &str) -> Result<Principal, ApiError> {
        let shaped = token.len() >= 8
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b));
        if !shaped {
            return Err(ApiError::bad(
                route,
                "The given OAuth 2 access token is malformed.",
            ));
        }
        let t = self
            .access
            .get(token)
            .ok_or_else(|| ApiError::auth("invalid_access_token"))?;
        if Instant::now() >= t.expires_at {
            return Err(ApiError::auth("expired_access_token"));
        }
        Ok(t.principal)
    }
}

fn oauth_error(body: Value) -> (u16, Value) {
    (400, body)
}

fn invalid_client() -> (u16, Value) {
    oauth_error(json!({"error": "invalid_client: Invalid client_id or client_secret"}))
}

/// App auth on an API route: whether `basic` (the base64 part of `Authorization: Basic …`)
/// holds this app's `app_key:app_secret`.
pub fn app_auth_ok(app: &App, basic: &str) -> bool {
    let Ok(raw) = STANDARD.decode(basic.trim()) else {
        return false;
    };
    let s = String::from_utf8_lossy(&raw);
    s.split_once(':')
        .is_some_and(|(k, v)| k == app.config.app_key && v == app.config.app_secret)
}

/// Parse `a=b&c=d` into a map.
pub fn parse_form(s: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(s).into_owned().collect()
}

/// `POST /oauth2/token`: returns (status, JSON body).
pub fn token(app: &App, query: &str, body: &[u8], basic: Option<&str>) -> (u16, Value) {
    let mut p = parse_form(query.as_bytes());
    p.extend(parse_form(body));
    let cfg = &app.config;
    // Client authentication: HTTP Basic, or client_id (+ client_secret) parameters.
    let (client_id, secret) = match basic.and_then(|b| STANDARD.decode(b.trim()).ok()) {
        Some(raw) => {
            let s = String::from_utf8_lossy(&raw).to_string();
            match s.split_once(':') {
                Some((k, v)) => (Some(k.to_string()), Some(v.to_string())),
                None => return invalid_client(),
            }
        }
        None => (p.get("client_id").cloned(), p.get("client_secret").cloned()),
    };
    if client_id.as_deref() != Some(cfg.app_key.as_str()) {
        return invalid_client();
    }
    if secret.as_ref().is_some_and(|s| s != &cfg.app_secret) {
        return invalid_client();
    }
    let team = app.read_world().team.is_some();
    let principal = if team {
        Principal::Team
    } else {
        Principal::User(0)
    };
    let mut tokens = app.tokens();
    match p.get("grant_type").map(String::as_str) {
        Some("refresh_token") => {
            let rt = p.get("refresh_token").cloned().unwrap_or_default();
            if !tokens.refresh.contains(&rt) {
                return oauth_error(json!({"error": "invalid_grant",
                    "error_description": "refresh token is invalid or revoked"}));
            }
            let access = tokens.issue_for(principal, Some(&rt));
            (
                200,
                json!({"access_token": access, "token_type": "bearer", "expires_in": tokens.lifetime}),
            )
        }
        Some("authorization_code") => {
            let code_s = p.get("code").cloned().unwrap_or_default();
            let Some(code) = tokens.codes.get(&code_s) else {
                return oauth_error(json!({"error": "invalid_grant",
                    "error_description": "code doesn't exist or has expired"}));
            };
            match (&code.challenge, p.get("code_verifier")) {
                (Some((challenge, method)), Some(verifier)) => {
                    let computed = if method.eq_ignore_ascii_case("plain") {
                        verifier.clone()
                    } else {
                        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
                    };
                    if &computed != challenge {
                        return oauth_error(json!({"error": "invalid_grant",
                            "error_description": "invalid code verifier"}));
                    }
                }
                (Some(_), None) if secret.is_none() => {
                    return oauth_error(json!({"error": "invalid_request",
                        "error_description": "code_verifier is required"}));
                }
                (None, _) if secret.is_none() => return invalid_client(),
                _ => {}
            }
            if code.redirect_uri.is_some() && code.redirect_uri.as_ref() != p.get("redirect_uri") {
                return oauth_error(json!({"error": "invalid_grant",
                    "error_description": "redirect_uri mismatch"}));
            }
            let offline = code.offline;
            tokens.codes.remove(&code_s);
            let rt = offline.then(|| tokens.fresh("rt-", 43));
            if let Some(rt) = &rt {
                tokens.refresh.insert(rt.clone());
            }
            let access = tokens.issue_for(principal, rt.as_deref());
            let world = app.read_world();
            let admin = world.default_account();
            let acc = world.accounts.get(admin);
            let mut out = json!({
                "access_token": access, "token_type": "bearer", "expires_in": tokens.lifetime,
                "scope": if team { TEAM_SCOPES } else { USER_SCOPES },
                "uid": acc.map(|a| a.uid.clone()).unwrap_or_default(),
            });
            if let Some(o) = out.as_object_mut() {
                match &world.team {
                    Some(t) => o.insert("team_id".into(), json!(t.id)),
                    None => o.insert(
                        "account_id".into(),
                        json!(acc.map(|a| a.account_id.clone()).unwrap_or_default()),
                    ),
                };
                if let Some(rt) = rt {
                    o.insert("refresh_token".into(), json!(rt));
                }
            }
            (200, out)
        }
        other => oauth_error(json!({"error": "unsupported_grant_type",
            "error_description": format!("unsupported grant_type {:?}", other.unwrap_or(""))})),
    }
}

/// Outcome of `GET /oauth2/authorize`.
pub enum Authorize {
    /// 302 to this location.
    Redirect(String),
    /// 200 HTML page with the code.
    Page(String),
    /// 400 HTML error page.
    Error(String),
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /oauth2/authorize`: auto-approve and hand out a code.
pub fn authorize(app: &App, query: &str) -> Authorize {
    let p = parse_form(query.as_bytes());
    if p.get("client_id") != Some(&app.config.app_key) {
        return Authorize::Error("Invalid client_id".into());
    }
    if p.get("response_type").map(String::as_str) != Some("code") {
        return Authorize::Error("Only response_type=code is supported".into());
    }
    let challenge = p.get("code_challenge").map(|c| {
        (
            c.clone(),
            p.get("code_challenge_method")
                .cloned()
                .unwrap_or_else(|| "plain".into()),
        )
    });
    let offline = p.get("token_access_type").map(String::as_str) != Some("online");
    let mut tokens = app.tokens();
    let code = tokens.fresh("", 43);
    tokens.codes.insert(
        code.clone(),
        Code {
            challenge,
            redirect_uri: p.get("redirect_uri").cloned(),
            offline,
        },
    );
    match p.get("redirect_uri") {
        Some(uri) => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("code", &code);
            if let Some(state) = p.get("state") {
                q.append_pair("state", state);
            }
            let sep = if uri.contains('?') { '&' } else { '?' };
            Authorize::Redirect(format!("{uri}{sep}{}", q.finish()))
        }
        None => Authorize::Page(format!(
            "<!doctype html><html><head><title>Dropbox emulator: authorize</title></head><body>\
             <p>Enter this code into the app:</p><code id=\"auth-code\">{}</code></body></html>",
            html_escape(&code)
        )),
    }
}
