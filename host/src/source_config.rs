//! Resolves the `[source]` table against the component's declared fields: types checked,
//! defaults applied, unknown fields refused, and secret fields split off so they never
//! enter the sandbox.
use crate::config::TenantConfig;
use crate::http::Secret;
use crate::source::{ConfigField, FieldKind};
use anyhow::{anyhow, bail};
use std::collections::BTreeMap;

/// The source settings, split into what the component may see and what only the host keeps.
#[derive(Debug, Clone)]
pub struct ResolvedSource {
    /// Non-secret fields with defaults applied: handed to the component as JSON.
    pub public: serde_json::Map<String, serde_json::Value>,
    /// Secret fields by name.
    pub secrets: BTreeMap<String, Secret>,
    /// Secret fields whose value could not be read (an unset variable, a missing file), with
    /// the reason. Whether that is fatal depends on the command: `tributary auth` is how a
    /// refresh token file comes to exist.
    pub unreadable_secrets: BTreeMap<String, String>,
}

impl ResolvedSource {
    pub fn public_json(&self) -> String {
        serde_json::Value::Object(self.public.clone()).to_string()
    }

    /// A non-secret field or a secret's name — used for OAuth client ids.
    pub fn text(&self, name: &str) -> Option<String> {
        self.public
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }

    pub fn integer(&self, name: &str) -> Option<i64> {
        self.public.get(name).and_then(|v| v.as_i64())
    }

    /// A text value from either side (e.g. an access key id that a connector marks secret).
    pub fn text_or_secret(&self, name: &str) -> Option<Secret> {
        self.secrets
            .get(name)
            .cloned()
            .or_else(|| self.text(name).map(Secret::new))
    }
}

pub fn resolve(
    config: &TenantConfig,
    fields: &[ConfigField],
    connector_id: &str,
) -> anyhow::Result<ResolvedSource> {
    resolve_with(config, fields, connector_id, &[])
}

/// As `resolve`, treating the fields in `optional` as not required.
pub fn resolve_with(
    config: &TenantConfig,
    fields: &[ConfigField],
    connector_id: &str,
    optional: &[&str],
) -> anyhow::Result<ResolvedSource> {
    let file = config.file.display().to_string();
    let known = || {
        fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for name in config.source.keys() {
        if !fields.iter().any(|f| &f.name == name) {
            bail!(
                "{file}: source.{name}: not a field of the {connector_id} connector (known: {})",
                known()
            );
        }
    }
    let mut public = serde_json::Map::new();
    let mut secrets = BTreeMap::new();
    let mut unreadable_secrets = BTreeMap::new();
    for field in fields {
        let key = format!("source.{}", field.name);
        let given = match config.source.get(&field.name) {
            Some(source) => match source.resolve(&file, &key) {
                Ok(value) => Some(value),
                Err(e) if field.secret => {
                    unreadable_secrets.insert(field.name.clone(), format!("{e:#}"));
                    continue;
                }
                Err(e) => return Err(e),
            },
            None => None,
        };
        let value = match given {
            Some(v) => Some(convert(&file, &key, &field.kind, v)?),
            None => match &field.default_value {
                Some(default) => Some(serde_json::from_str(default).map_err(|e| {
                    anyhow!(
                        "the {connector_id} component declares an invalid default for {}: {e}",
                        field.name
                    )
                })?),
                None => None,
            },
        };
        match value {
            Some(value) if field.secret => {
                let text = value
                    .as_str()
                    .ok_or_else(|| anyhow!("{file}: {key}: a secret must be a string"))?;
                if text.is_empty() {
                    bail!("{file}: {key}: is empty; {}", field.description);
                }
                secrets.insert(field.name.clone(), Secret::new(text));
            }
            Some(value) => {
                public.insert(field.name.clone(), value);
            }
            None if field.required && !optional.contains(&field.name.as_str()) => bail!(
                "{file}: {key}: required — {} (secrets may be written as {{ env = \"VAR\" }} or {{ file = \"path\" }})",
                field.description
            ),
            None => {}
        }
    }
    Ok(ResolvedSource {
        public,
        secrets,
        unreadable_secrets,
    })
}

fn convert(
    file: &str,
    key: &str,
    kind: &FieldKind,
    value: toml::Value,
) -> anyhow::Result<serde_json::Value> {
    Ok(match (kind, value) {
        (FieldKind::Text, toml::Value::String(s)) => serde_json::Value::String(s),
        (FieldKind::Url, toml::Value::String(s)) => {
            url::Url::parse(&s).map_err(|e| anyhow!("{file}: {key}: {s:?} is not a URL: {e}"))?;
            serde_json::Value::String(s)
        }
        (FieldKind::Integer, toml::Value::Integer(i)) => serde_json::Value::from(i),
        // Values from env vars or files arrive as strings.
        (FieldKind::Integer, toml::Value::String(s)) => serde_json::Value::from(
            s.trim()
                .parse::<i64>()
                .map_err(|_| anyhow!("{file}: {key}: expected an integer, got {s:?}"))?,
        ),
        (FieldKind::Boolean, toml::Value::Boolean(b)) => serde_json::Value::Bool(b),
        (FieldKind::Boolean, toml::Value::String(s)) => match s.trim() {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            _ => bail!("{file}: {key}: expected true or false, got {s:?}"),
        },
        (FieldKind::TextList, toml::Value::Array(items)) => serde_json::Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(serde_json::Value::String(s)),
                    other => Err(anyhow!(
                        "{file}: {key}: expected a list of strings, found {} {other}",
                        other.type_str()
                    )),
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
        ),
        // One pattern written without brackets.
        (FieldKind::TextList, toml::Value::String(s)) => {
            serde_json::Value::Array(vec![serde_json::Value::String(s)])
        }
        (FieldKind::Directory, toml::Value::String(s)) => serde_json::Value::String(s),
        (kind, other) => bail!(
            "{file}: {key}: expected {}, got {} {other}",
            match kind {
                FieldKind::Text => "a string",
                FieldKind::Url => "a URL string",
                FieldKind::Integer => "an integer",
                FieldKind::Boolean => "true or false",
                FieldKind::TextList => "a list of strings",
                FieldKind::Directory => "a directory path string",
            },
            other.type_str()
        ),
    })
}
