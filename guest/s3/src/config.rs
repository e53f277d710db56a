//! Configuration fields, defaults, validation (no network) and addressing: which origin and
//! URL reach the bucket and its objects.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::uri;

/// The kind of a configuration field (the subset of WIT `field-kind` this connector uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Integer,
    Boolean,
    Url,
}

/// One configuration field as declared in `info().config`.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// JSON literal of the default.
    pub default: Option<&'static str>,
    pub secret: bool,
    pub description: &'static str,
}

/// Names of the secret fields; the host keeps them and signs requests with them.
pub const ACCESS_KEY_ID_FIELD: &str = "access_key_id";
pub const SECRET_ACCESS_KEY_FIELD: &str = "secret_access_key";
pub const SESSION_TOKEN_FIELD: &str = "session_token";

/// The SigV4 service name.
pub const SERVICE: &str = "s3";

/// ListObjectsV2 returns at most this many keys per page.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Every field this connector understands, in display order.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "bucket",
        kind: FieldKind::Text,
        required: true,
        default: None,
        secret: false,
        description: "Name of the bucket to index.",
    },
    FieldSpec {
        name: "prefix",
        kind: FieldKind::Text,
        required: false,
        default: Some("\"\""),
        secret: false,
        description: "Index only keys starting with this prefix, e.g. \"reports/\" (empty: the whole bucket).",
    },
    FieldSpec {
        name: "region",
        kind: FieldKind::Text,
        required: false,
        default: Some("\"us-east-1\""),
        secret: false,
        description: "Region the requests are signed for (SigV4), e.g. \"eu-west-1\"; MinIO and Ceph usually accept \"us-east-1\", R2 wants \"auto\".",
    },
    FieldSpec {
        name: "endpoint",
        kind: FieldKind::Url,
        required: false,
        default: None,
        secret: false,
        description: "Origin of the S3 API, e.g. \"http://127.0.0.1:9000\" for MinIO; default https://s3.<region>.amazonaws.com.",
    },
    FieldSpec {
        name: "path_style",
        kind: FieldKind::Boolean,
        required: false,
        default: Some("false"),
        secret: false,
        description: "Address the bucket as <endpoint>/<bucket> instead of <bucket>.<endpoint host>; needed for MinIO, Ceph, moto and IP-address endpoints.",
    },
    FieldSpec {
        name: ACCESS_KEY_ID_FIELD,
        kind: FieldKind::Text,
        required: true,
        default: None,
        secret: true,
        description: "Access key id the host signs requests with. Kept by the host.",
    },
    FieldSpec {
        name: SECRET_ACCESS_KEY_FIELD,
        kind: FieldKind::Text,
        required: true,
        default: None,
        secret: true,
        description: "Secret access key the host signs requests with. Kept by the host, never passed to the component.",
    },
    FieldSpec {
        name: SESSION_TOKEN_FIELD,
        kind: FieldKind::Text,
        required: false,
        default: None,
        secret: true,
        description: "Session token for temporary credentials (STS), sent as x-amz-security-token. Kept by the host.",
    },
    FieldSpec {
        name: "content_key",
        kind: FieldKind::Text,
        required: false,
        default: Some("\"etag\""),
        secret: false,
        description: "What decides that an object's content changed: \"etag\" (default), \"last_modified\" (ETag and modification time: re-extracts re-uploaded objects), or \"none\" (download every object on every run).",
    },
    FieldSpec {
        name: "fetch_metadata",
        kind: FieldKind::Boolean,
        required: false,
        default: Some("false"),
        secret: false,
        description: "Send a HeadObject per object for its user metadata (x-amz-meta-*) and Content-Type; costs one request per object per run.",
    },
    FieldSpec {
        name: "page_size",
        kind: FieldKind::Integer,
        required: false,
        default: Some("1000"),
        secret: false,
        description: "Keys per ListObjectsV2 page (1-1000); each page is one checkpoint.",
    },
    FieldSpec {
        name: "watch_interval_secs",
        kind: FieldKind::Integer,
        required: false,
        default: Some("60"),
        secret: false,
        description: "`tributary watch`: seconds between two full listings (S3 has no change feed).",
    },
];

/// What the host compares to decide that an object's content must be fetched again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKey {
    /// The ETag: changes whenever the bytes change.
    Etag,
    /// ETag and LastModified: also changes when the same bytes are uploaded again.
    LastModified,
    /// No key: every object is downloaded on every run.
    None,
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub bucket: String,
    pub prefix: String,
    pub region: String,
    /// The endpoint origin (scheme://host[:port]) without a trailing slash.
    pub endpoint: String,
    pub path_style: bool,
    pub content_key: ContentKey,
    pub fetch_metadata: bool,
    pub page_size: u32,
    pub watch_interval_secs: u32,
    /// Where requests go: the endpoint (path style) or the bucket's own origin.
    origin: String,
}

impl Config {
    /// Parse and validate the config JSON handed over by the host.
    pub fn parse(json: &str) -> Result<Config, Error> {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            Error::InvalidConfig(format!("the configuration is not valid JSON ({e})"))
        })?;
        let Value::Object(map) = value else {
            return Err(Error::InvalidConfig(
                "the configuration must be a JSON object of field names to values".into(),
            ));
        };
        Self::from_map(&map)
    }

    fn from_map(map: &Map<String, Value>) -> Result<Config, Error> {
        reject_unknown(map)?;
        // The secret fields are deliberately never read: the host keeps them and signs.

        let bucket = match text(map, "bucket")? {
            Some(b) if !b.trim().is_empty() => b.trim().to_string(),
            _ => {
                return Err(Error::InvalidConfig(
                    "bucket: required; set it to the name of the bucket to index".into(),
                ));
            }
        };
        let prefix = text(map, "prefix")?.unwrap_or_default();
        let region = text(map, "region")?
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "us-east-1".to_string());
        if !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::InvalidConfig(format!(
                "region: {region:?} is not a region name; use one like \"us-east-1\" (letters, digits and dashes)"
            )));
        }
        let default_endpoint = format!("https://s3.{region}.amazonaws.com");
        let endpoint = match text(map, "endpoint")? {
            None => default_endpoint.clone(),
            Some(s) if s.trim().is_empty() => default_endpoint.clone(),
            Some(s) => parse_origin(&s).map_err(|why| {
                Error::InvalidConfig(format!(
                    "endpoint: {s:?} {why} (use an origin like \"https://s3.eu-west-1.amazonaws.com\" or \"http://127.0.0.1:9000\")"
                ))
            })?,
        };
        let path_style = boolean(map, "path_style", false)?;
        let content_key = match text(map, "content_key")?.as_deref().map(str::trim) {
            None | Some("") => ContentKey::Etag,
            Some(s) => match s.to_ascii_lowercase().as_str() {
                "etag" => ContentKey::Etag,
                "last_modified" => ContentKey::LastModified,
                "none" => ContentKey::None,
                _ => {
                    return Err(Error::InvalidConfig(format!(
                        "content_key: {s:?} is not supported (use \"etag\", \"last_modified\" or \"none\")"
                    )));
                }
            },
        };
        let fetch_metadata = boolean(map, "fetch_metadata", false)?;
        let page_size = integer(map, "page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)?;
        let watch_interval_secs = integer(map, "watch_interval_secs", 60, 1, 86_400)?;

        validate_bucket(&bucket, path_style)?;
        let origin = if path_style {
            endpoint.clone()
        } else {
            virtual_host_origin(&endpoint, &bucket)?
        };
        Ok(Config {
            bucket,
            prefix,
            region,
            endpoint,
            path_style,
            content_key,
            fetch_metadata,
            page_size,
            watch_interval_secs,
            origin,
        })
    }

    /// The origin every request goes to (the bucket subdomain in virtual-hosted style).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The URL of a `ListObjectsV2` call with `query` (already encoded, sorted).
    pub fn list_url(&self, query: &str) -> String {
        if self.path_style {
            format!(
                "{}/{}?{query}",
                self.endpoint,
                uri::encode_value(&self.bucket)
            )
        } else {
            format!("{}/?{query}", self.origin)
        }
    }

    /// The URL of an object (no credentials in it: the host signs the request).
    pub fn object_url(&self, key: &str) -> String {
        let key = uri::encode_key(key);
        if self.path_style {
            format!(
                "{}/{}/{key}",
                self.endpoint,
                uri::encode_value(&self.bucket)
            )
        } else {
            format!("{}/{key}", self.origin)
        }
    }

    /// `bucket` with the prefix, for messages: `my-bucket/reports/`.
    pub fn location(&self) -> String {
        format!("{}/{}", self.bucket, self.prefix)
    }
}

fn reject_unknown(map: &Map<String, Value>) -> Result<(), Error> {
    let mut unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !FIELDS.iter().any(|f| f.name == *k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    let known: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
    Err(Error::InvalidConfig(format!(
        "unknown field{} {}: remove {} (known fields: {})",
        if unknown.len() > 1 { "s" } else { "" },
        unknown
            .iter()
            .map(|k| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join(", "),
        if unknown.len() > 1 { "them" } else { "it" },
        known.join(", ")
    )))
}

/// Bucket names: anything without `/` or control characters in path style (S3-compatible
/// stores are laxer than AWS); a DNS label sequence in virtual-hosted style, since the name
/// becomes part of the host name.
fn validate_bucket(bucket: &str, path_style: bool) -> Result<(), Error> {
    if bucket.contains('/') {
        return Err(Error::InvalidConfig(format!(
            "bucket: {bucket:?} contains \"/\"; set bucket to the bucket name only and put the folder in prefix"
        )));
    }
    if bucket.len() > 255 || bucket.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::InvalidConfig(format!(
            "bucket: {bucket:?} is not a bucket name (no spaces or control characters, at most 255 bytes)"
        )));
    }
    if path_style {
        return Ok(());
    }
    let dns_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !bucket.contains("..");
    if !dns_ok {
        return Err(Error::InvalidConfig(format!(
            "bucket: {bucket:?} cannot be used as a host name (virtual-hosted style needs 3-63 lower-case letters, digits, '-' and '.'); set path_style = true"
        )));
    }
    Ok(())
}

/// `scheme://<bucket>.<host>[:port]` for virtual-hosted style.
fn virtual_host_origin(endpoint: &str, bucket: &str) -> Result<String, Error> {
    let (scheme, authority) = endpoint.split_once("://").unwrap_or(("https", endpoint));
    let host = match authority.strip_prefix('[') {
        Some(_) => authority,
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    let is_ip = host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok();
    if is_ip {
        return Err(Error::InvalidConfig(format!(
            "path_style: the endpoint {endpoint} is an IP address, so the bucket cannot be a subdomain of it; set path_style = true"
        )));
    }
    if scheme == "https" && bucket.contains('.') && host.ends_with(".amazonaws.com") {
        return Err(Error::InvalidConfig(format!(
            "path_style: the bucket name {bucket:?} has dots, which AWS's TLS certificate does not cover as a subdomain; set path_style = true"
        )));
    }
    Ok(format!("{scheme}://{bucket}.{authority}"))
}

fn text(map: &Map<String, Value>, name: &str) -> Result<Option<String>, Error> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Error::InvalidConfig(format!(
            "{name}: expected text, got {other}; quote the value"
        ))),
    }
}

fn integer(
    map: &Map<String, Value>,
    name: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, Error> {
    let raw = match map.get(name) {
        None | Some(Value::Null) => return Ok(default),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    let shown = map.get(name).map(Value::to_string).unwrap_or_default();
    match raw {
        Some(v) if v >= i64::from(min) && v <= i64::from(max) => u32::try_from(v).map_err(|_| {
            Error::InvalidConfig(format!(
                "{name}: {shown} is out of range; use a number from {min} to {max}"
            ))
        }),
        Some(_) => Err(Error::InvalidConfig(format!(
            "{name}: {shown} is out of range; use a number from {min} to {max}"
        ))),
        None => Err(Error::InvalidConfig(format!(
            "{name}: {shown} is not a whole number; use a number from {min} to {max} (default {default})"
        ))),
    }
}

fn boolean(map: &Map<String, Value>, name: &str, default: bool) -> Result<bool, Error> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(Error::InvalidConfig(format!(
            "{name}: {other} is not a boolean; use true or false"
        ))),
    }
}

/// Validate an http(s) URL without a path, query, fragment or user info and return its
/// origin, lower-cased (user info is refused so no key ends up in a URL).
pub fn parse_origin(raw: &str) -> Result<String, &'static str> {
    let s = raw.trim();
    let (scheme, rest) = s
        .split_once("://")
        .ok_or("is not a URL: it must start with https:// or http://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err("must use https:// or http://");
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err("has no host");
    }
    if authority.contains('@') {
        return Err("must not contain user info (the host signs requests with the keys)");
    }
    if authority.contains('/') {
        return Err("must not have a path");
    }
    if authority.contains('?') || authority.contains('#') {
        return Err("must not have a query or fragment");
    }
    if authority
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("contains spaces or control characters");
    }
    let (host, port) = if let Some(end) = authority.strip_prefix('[').and_then(|r| r.find(']')) {
        let host = &authority[..end + 2];
        let after = &authority[end + 2..];
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err("has a malformed host"),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err("has no host");
    }
    if !host.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err("has a malformed host");
    }
    if let Some(p) = port
        && (p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) || p.parse::<u16>().is_err())
    {
        return Err("has a malformed port");
    }
    let host = host.to_ascii_lowercase();
    Ok(match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Config, Error> {
        Config::parse(&v.to_string())
    }

    fn invalid(v: Value) -> String {
        match parse(v) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_address_aws_in_virtual_hosted_style() {
        let c = parse(json!({"bucket": "my-bucket"})).unwrap();
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.endpoint, "https://s3.us-east-1.amazonaws.com");
        assert_eq!(c.origin(), "https://my-bucket.s3.us-east-1.amazonaws.com");
        assert_eq!(c.prefix, "");
        assert_eq!(c.page_size, 1000);
        assert_eq!(c.watch_interval_secs, 60);
        assert_eq!(c.content_key, ContentKey::Etag);
        assert!(!c.fetch_metadata && !c.path_style);
        assert_eq!(
            c.object_url("a b/c+d.txt"),
            "https://my-bucket.s3.us-east-1.amazonaws.com/a%20b/c%2Bd.txt"
        );
        assert_eq!(
            c.list_url("list-type=2"),
            "https://my-bucket.s3.us-east-1.amazonaws.com/?list-type=2"
        );
    }

    #[test]
    fn region_picks_the_default_endpoint() {
        let c = parse(json!({"bucket": "b-1", "region": "eu-west-3"})).unwrap();
        assert_eq!(c.origin(), "https://b-1.s3.eu-west-3.amazonaws.com");
    }

    #[test]
    fn path_style_keeps_the_endpoint_origin() {
        let c = parse(json!({
            "bucket": "Odd_Bucket", "endpoint": "HTTP://127.0.0.1:9000/", "path_style": true
        }))
        .unwrap();
        assert_eq!(c.endpoint, "http://127.0.0.1:9000");
        assert_eq!(c.origin(), "http://127.0.0.1:9000");
        assert_eq!(
            c.object_url("日本/x y.txt"),
            "http://127.0.0.1:9000/Odd_Bucket/%E6%97%A5%E6%9C%AC/x%20y.txt"
        );
        assert_eq!(
            c.list_url("list-type=2"),
            "http://127.0.0.1:9000/Odd_Bucket?list-type=2"
        );
    }

    #[test]
    fn virtual_hosted_style_on_a_custom_endpoint_keeps_the_port() {
        let c = parse(json!({"bucket": "docs", "endpoint": "http://minio.local:9000"})).unwrap();
        assert_eq!(c.origin(), "http://docs.minio.local:9000");
    }

    #[test]
    fn virtual_hosted_style_refuses_what_cannot_be_a_host_name() {
        let m = invalid(json!({"bucket": "docs", "endpoint": "http://127.0.0.1:9000"}));
        assert!(
            m.starts_with("path_style:") && m.contains("set path_style = true"),
            "{m}"
        );
        let m = invalid(json!({"bucket": "Upper_Case"}));
        assert!(
            m.starts_with("bucket:") && m.contains("path_style = true"),
            "{m}"
        );
        let m = invalid(json!({"bucket": "my.dotted.bucket"}));
        assert!(m.contains("dots") && m.contains("path_style = true"), "{m}");
        // Dots are fine when the bucket is a path segment.
        parse(json!({"bucket": "my.dotted.bucket", "path_style": true})).unwrap();
    }

    #[test]
    fn bucket_is_required_and_has_no_slash() {
        assert!(invalid(json!({})).starts_with("bucket: required"));
        assert!(invalid(json!({"bucket": "  "})).starts_with("bucket: required"));
        let m = invalid(json!({"bucket": "b/reports", "path_style": true}));
        assert!(m.contains("prefix"), "{m}");
    }

    #[test]
    fn endpoint_must_be_a_plain_origin() {
        for (bad, why) in [
            ("s3.example.com", "is not a URL"),
            ("ftp://s3.example.com", "https://"),
            ("https://key:secret@s3.example.com", "user info"),
            ("https://s3.example.com/base", "path"),
            ("https://s3.example.com?x=1", "query"),
            ("https://s3.example.com:99999", "port"),
        ] {
            let m = invalid(json!({"bucket": "bkt", "endpoint": bad, "path_style": true}));
            assert!(m.starts_with("endpoint:") && m.contains(why), "{bad}: {m}");
        }
    }

    #[test]
    fn unknown_fields_and_bad_values_name_the_field() {
        let m = invalid(json!({"bucket": "bkt", "prefx": "a/"}));
        assert!(m.contains("\"prefx\"") && m.contains("prefix"), "{m}");
        assert!(invalid(json!({"bucket": "bkt", "page_size": 5000})).starts_with("page_size:"));
        assert!(invalid(json!({"bucket": "bkt", "page_size": 0})).starts_with("page_size:"));
        assert!(invalid(json!({"bucket": "bkt", "path_style": "yes"})).starts_with("path_style:"));
        assert!(
            invalid(json!({"bucket": "bkt", "content_key": "md5"})).starts_with("content_key:")
        );
        assert!(invalid(json!({"bucket": "bkt", "region": "eu west"})).starts_with("region:"));
        assert!(invalid(json!({"bucket": 7})).starts_with("bucket:"));
    }

    #[test]
    fn secret_fields_are_known_but_never_read() {
        let c = parse(json!({
            "bucket": "bkt", "access_key_id": "AKIA", "secret_access_key": "s", "session_token": "t"
        }))
        .unwrap();
        assert!(!format!("{c:?}").contains("AKIA"));
    }

    #[test]
    fn options_parse() {
        let c = parse(json!({
            "bucket": "bkt", "prefix": "reports/", "content_key": "LAST_MODIFIED",
            "fetch_metadata": true, "page_size": "250", "watch_interval_secs": 5
        }))
        .unwrap();
        assert_eq!(c.prefix, "reports/");
        assert_eq!(c.content_key, ContentKey::LastModified);
        assert!(c.fetch_metadata);
        assert_eq!(c.page_size, 250);
        assert_eq!(c.watch_interval_secs, 5);
        assert_eq!(c.location(), "bkt/reports/");
    }

    #[test]
    fn every_field_has_a_spec_and_secrets_are_marked() {
        for name in [
            ACCESS_KEY_ID_FIELD,
            SECRET_ACCESS_KEY_FIELD,
            SESSION_TOKEN_FIELD,
        ] {
            assert!(FIELDS.iter().any(|f| f.name == name && f.secret), "{name}");
        }
        assert_eq!(FIELDS.iter().filter(|f| f.secret).count(), 3);
        for f in FIELDS {
            if let Some(d) = f.default {
                serde_json::from_str::<Value>(d).unwrap();
            }
        }
    }
}
