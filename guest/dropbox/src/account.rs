//! Account detection (personal or team admin, team space or not) and `check`.

use serde_json::{Value, json};

use crate::api::{AuthenticatedAdmin, FullAccount, MembersListResult, Metadata};
use crate::checkpoint::Identity;
use crate::client::{CallError, Client, Context, RouteKind, Transport, decode, response_date};
use crate::config::Config;
use crate::error::Error;
use crate::rule_search;

/// Who the credentials reach and how requests must be addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The admin's team member id when the token is a team token.
    pub team_member_id: Option<String>,
    pub account_id: String,
    pub email: String,
    pub display_name: String,
    pub team_name: Option<String>,
    pub root_namespace_id: String,
    /// Whether the account has a team space (requests carry `Dropbox-API-Path-Root`).
    pub team_space: bool,
    /// Dropbox's clock when the account was detected (RFC 3339), from the `Date` header.
    pub server_time: Option<String>,
    /// The home folder's path in the team space (`root_info.home_path`).
    pub home_path: Option<String>,
}

impl Account {
    /// The context headers for every user, files and sharing request.
    pub fn context(&self) -> Context {
        Context::new(
            self.team_member_id.clone(),
            self.team_space.then_some(self.root_namespace_id.as_str()),
        )
    }

    /// What a checkpoint of this account and configuration must carry.
    pub fn identity(&self, config: &Config) -> Identity {
        Identity {
            account: self
                .team_member_id
                .clone()
                .unwrap_or_else(|| self.account_id.clone()),
            root: self.root_namespace_id.clone(),
            path: config.path_lower(),
            settings: config.fingerprint(),
        }
    }

    /// A short description such as `personal` or `team Acme, admin dbmid:…, root namespace 7`.
    pub fn describe(&self) -> String {
        let team = match &self.team_name {
            Some(n) if !n.is_empty() => format!("team {n}"),
            _ => "team".to_string(),
        };
        match (&self.team_member_id, self.team_space) {
            (Some(m), true) => format!(
                "{team}, admin {m}, root namespace {}",
                self.root_namespace_id
            ),
            (Some(m), false) => format!("{team}, admin {m}"),
            (None, true) => format!("{team} member, root namespace {}", self.root_namespace_id),
            (None, false) if self.team_name.is_some() => format!("{team} member"),
            (None, false) => "personal".to_string(),
        }
    }
}

/// Find out whether the token is a team token and which account and namespace it reaches.
pub fn detect<T: Transport>(transport: &T, config: &Config) -> Result<Account, Error> {
    let client = Client::new(transport, config);
    let admin = match client.rpc::<AuthenticatedAdmin>(
        "team/token/get_authenticated_admin",
        None,
        RouteKind::Team,
    ) {
        Ok(a) => Some(a.admin_profile.team_member_id),
        // A rate limit or an outage says nothing about the token type: don't guess.
        Err(CallError::Status(e)) if e.status == 429 || e.status >= 500 => {
            return Err(CallError::Status(e).into_error());
        }
        // A user token gets 400 (or 401/409): personal mode.
        Err(CallError::Status(_)) | Err(CallError::Decode(_)) => None,
        Err(e @ CallError::Transport(_)) => return Err(e.into_error()),
    };
    let client = Client {
        context: Context::new(admin.clone(), None),
        ..client
    };
    let route = "users/get_current_account";
    let resp = transport
        .send(client.rpc_request(route, None, RouteKind::User))
        .map_err(|t| CallError::Transport(t).into_error())?;
    let server_time = response_date(&resp);
    let acct: FullAccount = decode(route, resp).map_err(CallError::into_error)?;
    Ok(Account {
        team_member_id: admin,
        account_id: acct.account_id,
        email: acct.email,
        display_name: acct.name.map(|n| n.display_name).unwrap_or_default(),
        server_time,
        team_name: acct.team.map(|t| t.name),
        team_space: acct.root_info.has_team_space(),
        home_path: acct.root_info.home_path.clone().filter(|p| !p.is_empty()),
        root_namespace_id: acct.root_info.root_namespace_id,
    })
}

/// Map the errors of listing or looking up the configured path.
pub fn path_error(config: &Config, e: CallError) -> Error {
    if let Some(api) = e.api() {
        let p = config.path_for_display();
        if api.is_409(&["reset"]) {
            return Error::CheckpointExpired(
                "Dropbox expired the list_folder cursor (409 reset); a full sync is needed".into(),
            );
        }
        if api.is_409(&["path", "not_found"]) {
            return Error::InvalidConfig(format!(
                "path: {p:?} does not exist in this Dropbox (409 path/not_found); set path to an existing folder or \"/\""
            ));
        }
        if api.is_409(&["path", "not_folder"]) {
            return Error::InvalidConfig(format!(
                "path: {p:?} is a file, not a folder (409 path/not_folder); set path to a folder or \"/\""
            ));
        }
        if api.is_409(&["path", "malformed_path"]) {
            return Error::InvalidConfig(format!(
                "path: {p:?} is not a valid Dropbox path (409 path/malformed_path); fix the folder name"
            ));
        }
    }
    e.into_error()
}

/// Check the credentials and the configured folder; return a one-line summary.
pub fn check<T: Transport>(transport: &T, config: &Config) -> Result<String, Error> {
    let account = detect(transport, config)?;
    let client = Client {
        transport,
        config,
        context: account.context(),
    };
    if config.path.is_empty() {
        // get_metadata refuses the root; a one-entry listing proves files.metadata.read instead.
        client
            .rpc::<Value>(
                "files/list_folder",
                Some(&json!({"path": "", "limit": 1})),
                RouteKind::Files,
            )
            .map_err(|e| path_error(config, e))?;
    } else {
        let meta: Metadata = client
            .rpc(
                "files/get_metadata",
                Some(&json!({"path": config.path})),
                RouteKind::Files,
            )
            .map_err(|e| path_error(config, e))?;
        if !matches!(meta, Metadata::Folder(_)) {
            return Err(Error::InvalidConfig(format!(
                "path: {:?} is a file, not a folder; set path to a folder or \"/\"",
                config.path
            )));
        }
    }
    let mut summary = format!(
        "Dropbox account {} ({}), path {:?} readable",
        if account.email.is_empty() {
            &account.account_id
        } else {
            &account.email
        },
        account.describe(),
        config.path_for_display()
    );
    if account.team_member_id.is_some() && (config.all_members() || config.dls) {
        // The team routes a sync will need: fail here, with the scope named, not mid-sync.
        let team = Client::new(transport, config);
        let members: MembersListResult = team
            .rpc(
                "team/members/list_v2",
                Some(&json!({"limit": 1})),
                RouteKind::Team,
            )
            .map_err(CallError::into_error)?;
        if config.all_members() {
            team.rpc::<Value>(
                "team/namespaces/list",
                Some(&json!({"limit": 1})),
                RouteKind::Team,
            )
            .map_err(CallError::into_error)?;
            summary.push_str("; every member's files will be indexed");
        }
        if config.dls {
            team.rpc::<Value>(
                "team_log/get_events",
                Some(&json!({"limit": 1, "category": {".tag": "sharing"}})),
                RouteKind::Team,
            )
            .map_err(CallError::into_error)?;
        }
        drop(members);
    }
    if config.dls {
        summary.push_str("; document-level security on");
    }
    if !config.advanced_rules.is_empty() {
        summary.push_str("; ");
        summary.push_str(&rule_search::check(
            &client,
            &config.advanced_rules,
            &config.path,
        )?);
    }
    Ok(summary)
}
