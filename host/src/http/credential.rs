//! The tenant's credential, applied by the host to the requests a component marks
//! `authenticate`: an OAuth2 bearer token (the host runs the grant), an AWS Signature V4 (the
//! host signs with the tenant's keys), a static header (an API key) or basic auth. The
//! component never holds the secret; it only ever sees its own requests' answers.
use super::oauth::TokenSource;
use super::secret::Secret;
use std::sync::Arc;
use std::time::SystemTime;

/// How requests are authenticated.
#[derive(Debug)]
pub enum Authenticator {
    OAuth2(Arc<TokenSource>),
    SigV4(SigV4Keys),
    /// `header: prefix + value`.
    Header {
        header: String,
        prefix: String,
        value: Secret,
    },
    Basic {
        username: String,
        password: Secret,
    },
}

impl Authenticator {
    /// A header the component may not set itself because the credential sets it.
    pub fn owns_header(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case("authorization")
            || match self {
                Authenticator::Header { header, .. } => name.eq_ignore_ascii_case(header),
                Authenticator::SigV4(_) => {
                    let lower = name.to_ascii_lowercase();
                    lower == "x-amz-date"
                        || lower == "x-amz-security-token"
                        || lower == "x-amz-content-sha256"
                }
                _ => false,
            }
    }
}

/// The keys of an AWS Signature V4 credential and where they apply.
#[derive(Debug)]
pub struct SigV4Keys {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub region: String,
    pub service: String,
}

impl SigV4Keys {
    /// The headers that sign this request now (`authorization`, `x-amz-date`,
    /// `x-amz-content-sha256`, and `x-amz-security-token` with a session token).
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, String> {
        use aws_sigv4::http_request::{
            PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
            SigningSettings, UriPathNormalizationMode, sign,
        };
        use aws_sigv4::sign::v4;
        let identity = aws_credential_types::Credentials::new(
            self.access_key_id.expose(),
            self.secret_access_key.expose(),
            self.session_token.as_ref().map(|t| t.expose().to_string()),
            None,
            "tributary-tenant",
        )
        .into();
        let mut settings = SigningSettings::default();
        // S3 requires the payload hash header; other services accept it.
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        if self.service == "s3" {
            // S3 signs the path as sent: encoded once, `a//b` and `x/../y` left alone (the
            // other services' canonical form would refuse any key with a space in it).
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| format!("building the signing parameters: {e}"))?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("the request cannot be signed: {e}"))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| format!("signing failed: {e}"))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sigv4_signs_with_the_tenant_keys_and_never_exposes_the_secret() {
        let keys = SigV4Keys {
            access_key_id: Secret::new("AKIDEXAMPLE"),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: Some(Secret::new("session-token-value")),
            region: "us-east-1".into(),
            service: "s3".into(),
        };
        let headers = keys
            .sign(
                "GET",
                "http://127.0.0.1:9000/bucket?list-type=2&prefix=a%20b",
                &[("host".into(), "127.0.0.1:9000".into())],
                b"",
            )
            .unwrap();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let authorization = get("authorization").unwrap();
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{authorization}"
        );
        assert!(authorization.contains("/us-east-1/s3/aws4_request"));
        assert!(get("x-amz-date").is_some());
        assert_eq!(
            get("x-amz-content-sha256").as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(
            get("x-amz-security-token").as_deref(),
            Some("session-token-value")
        );
        let all = format!("{headers:?}");
        assert!(!all.contains("wJalrXUtnFEMI"), "{all}");
    }

    #[test]
    fn s3_signs_the_path_as_sent() {
        let keys = SigV4Keys {
            access_key_id: Secret::new("AKIDEXAMPLE"),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: None,
            region: "us-east-1".into(),
            service: "s3".into(),
        };
        let sign = |url: &str| {
            keys.sign("GET", url, &[("host".into(), "h:9000".into())], b"")
                .unwrap()
                .into_iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v)
                .unwrap()
        };
        // Double encoding would sign `with%2520space`; normalising would sign `/b/x`: both
        // differ from what is sent, so these three signatures must all differ.
        let spaced = sign("http://h:9000/b/with%20space");
        let doubled = sign("http://h:9000/b/with%2520space");
        assert_ne!(spaced, doubled);
        assert_ne!(sign("http://h:9000/b//x"), sign("http://h:9000/b/x"));
    }

    #[test]
    fn credentials_own_the_headers_they_set() {
        let header = Authenticator::Header {
            header: "X-Api-Key".into(),
            prefix: String::new(),
            value: Secret::new("k"),
        };
        assert!(header.owns_header("x-api-key") && header.owns_header("Authorization"));
        assert!(!header.owns_header("accept"));
    }
}
