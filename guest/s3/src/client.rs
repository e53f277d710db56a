//! The S3 calls (`ListObjectsV2`, `HeadObject`) over a [`Transport`], and the mapping of S3
//! answers to [`Error`]s that name the config field to fix.

use crate::api::{self, ErrorBody, Listing};
use crate::config::{ACCESS_KEY_ID_FIELD, Config, SECRET_ACCESS_KEY_FIELD, SESSION_TOKEN_FIELD};
use crate::error::Error;
use crate::metadata::ObjectMetadata;
use crate::transport::{Method, Request, Response, Transport, TransportError};
use crate::uri;

/// S3's message text is quoted in errors up to this many bytes.
const MAX_MESSAGE: usize = 300;

/// What `HeadObject` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    Found(ObjectMetadata),
    /// The object was deleted after it was listed.
    Gone,
}

/// S3 calls for one configuration.
pub struct Client<'a, T: Transport> {
    pub transport: &'a T,
    pub config: &'a Config,
}

impl<'a, T: Transport> Client<'a, T> {
    pub fn new(transport: &'a T, config: &'a Config) -> Self {
        Client { transport, config }
    }

    /// The `ListObjectsV2` request for one page.
    pub fn list_request(&self, token: Option<&str>, max_keys: u32) -> Request {
        let max_keys = max_keys.to_string();
        let mut params: Vec<(&str, &str)> = vec![
            ("list-type", "2"),
            ("encoding-type", "url"),
            ("max-keys", &max_keys),
        ];
        if !self.config.prefix.is_empty() {
            params.push(("prefix", &self.config.prefix));
        }
        if let Some(t) = token {
            params.push(("continuation-token", t));
        }
        Request::signed(Method::Get, self.config.list_url(&uri::query(&params)))
    }

    /// List one page, from the start (`token: None`) or after `token`.
    pub fn list(&self, token: Option<&str>, max_keys: u32) -> Result<Listing, Error> {
        let req = self.list_request(token, max_keys);
        let resp = self
            .transport
            .send(req)
            .map_err(|e| transport_error(self.config, e))?;
        if !(200..300).contains(&resp.status) {
            return Err(response_error(
                self.config,
                "ListObjectsV2",
                &resp,
                token.is_some(),
            ));
        }
        api::parse_listing(&resp.body).map_err(|why| {
            Error::Permanent(format!(
                "{} answered ListObjectsV2 with a body this connector cannot read: {why}; check that endpoint is an S3 API",
                self.config.origin()
            ))
        })
    }

    /// The `HeadObject` request for a key.
    pub fn head_request(&self, key: &str) -> Request {
        Request::signed(Method::Head, self.config.object_url(key))
    }

    /// `HeadObject` for every key, run concurrently by the host; results in key order.
    pub fn head_many(&self, keys: &[&str]) -> Vec<Result<Head, Error>> {
        if keys.is_empty() {
            return Vec::new();
        }
        let reqs = keys.iter().map(|k| self.head_request(k)).collect();
        let answers = self.transport.send_many(reqs);
        keys.iter()
            .zip(answers)
            .map(|(key, answer)| self.head_outcome(key, answer))
            .collect()
    }

    fn head_outcome(
        &self,
        key: &str,
        answer: Result<Response, TransportError>,
    ) -> Result<Head, Error> {
        let resp = answer.map_err(|e| transport_error(self.config, e))?;
        match resp.status {
            200..=299 => Ok(Head::Found(ObjectMetadata::from_headers(&resp.headers))),
            404 => Ok(Head::Gone),
            // A HEAD answer has no body, so a 403 does not say whether the permission is
            // missing or the signature was rejected.
            403 => Err(Error::Unauthorized(format!(
                "fetch_metadata: HeadObject on {key:?} in bucket {} was refused (403: the key lacks s3:GetObject, or the service rejected the request's signature); grant the key s3:GetObject on the bucket's objects, or set fetch_metadata = false",
                self.config.bucket
            ))),
            _ => Err(response_error(
                self.config,
                &format!("HeadObject on {key:?}"),
                &resp,
                false,
            )),
        }
    }
}

/// Map a failure of the host's HTTP import.
pub fn transport_error(config: &Config, e: TransportError) -> Error {
    match e {
        TransportError::Denied(m) => Error::Permanent(format!(
            "the host refused the request ({m}); check endpoint, bucket and path_style"
        )),
        TransportError::InvalidRequest(m) => Error::Permanent(format!(
            "the request to {} could not be built ({m}); check endpoint and bucket",
            config.origin()
        )),
        TransportError::Transport(m) => Error::Transient(format!(
            "could not reach {} ({m}); check endpoint, or retry later",
            config.origin()
        )),
        TransportError::TooLarge(n) => Error::Permanent(format!(
            "an answer from {} exceeded the host's size cap ({n} bytes seen); lower page_size",
            config.origin()
        )),
        TransportError::Credential(m) => Error::Unauthorized(format!(
            "the host could not sign the request ({m}); check {ACCESS_KEY_ID_FIELD} and {SECRET_ACCESS_KEY_FIELD}"
        )),
    }
}

/// Map a non-2xx S3 answer to `op`. `resumed`: the request carried a continuation token.
pub fn response_error(config: &Config, op: &str, resp: &Response, resumed: bool) -> Error {
    let body = api::parse_error(&resp.body);
    let status = resp.status;
    let bucket = &config.bucket;
    let origin = config.origin();
    let said = said(&body);
    // HEAD answers have no body: fall back on the status.
    let code = match (body.code.as_str(), status) {
        ("", 404) => "NoSuchBucket",
        ("", 403) => "AccessDenied",
        ("", 301) => "PermanentRedirect",
        (c, _) => c,
    };
    match code {
        "NoSuchBucket" => Error::InvalidConfig(format!(
            "bucket: there is no bucket {bucket:?} at {origin} ({op}: {status} NoSuchBucket); check bucket, endpoint and region"
        )),
        "InvalidBucketName" => Error::InvalidConfig(format!(
            "bucket: {origin} says {bucket:?} is not a valid bucket name{said}; fix bucket (or set path_style = true)"
        )),
        "InvalidAccessKeyId" => Error::Unauthorized(format!(
            "{ACCESS_KEY_ID_FIELD}: {origin} does not know this access key ({op}: {status} InvalidAccessKeyId); check {ACCESS_KEY_ID_FIELD}, and that endpoint points at the service that issued it"
        )),
        "SignatureDoesNotMatch" => Error::Unauthorized(format!(
            "{SECRET_ACCESS_KEY_FIELD}: the request signature did not match ({op}: {status} SignatureDoesNotMatch); check that {SECRET_ACCESS_KEY_FIELD} belongs to {ACCESS_KEY_ID_FIELD} and that region ({}) is the one the service expects",
            config.region
        )),
        "ExpiredToken" | "InvalidToken" | "TokenRefreshRequired" => Error::Unauthorized(format!(
            "{SESSION_TOKEN_FIELD}: the session token was rejected ({op}: {status} {code}); temporary credentials expire: set fresh {ACCESS_KEY_ID_FIELD}, {SECRET_ACCESS_KEY_FIELD} and {SESSION_TOKEN_FIELD}"
        )),
        "AccessDenied" | "AllAccessDisabled" | "AccountProblem" => Error::Unauthorized(format!(
            "access to bucket {bucket:?} was denied ({op}: {status} {code}{said}); grant the key in {ACCESS_KEY_ID_FIELD} s3:ListBucket on the bucket and s3:GetObject on its objects"
        )),
        "AuthorizationHeaderMalformed" if body.region.is_some() => Error::InvalidConfig(format!(
            "region: bucket {bucket:?} is in region {:?}, not {:?}; set region = {:?}",
            body.region.as_deref().unwrap_or_default(),
            config.region,
            body.region.as_deref().unwrap_or_default()
        )),
        "PermanentRedirect"
        | "IllegalLocationConstraintException"
        | "AuthorizationHeaderMalformed" => {
            let hint = match (&body.region, &body.endpoint) {
                (Some(r), _) => format!("set region = {r:?} (and remove endpoint if it is set)"),
                (None, Some(e)) => format!("set endpoint = \"https://{e}\""),
                (None, None) => match resp.header("x-amz-bucket-region") {
                    Some(r) => format!("set region = {r:?}"),
                    None => "check region and endpoint".into(),
                },
            };
            Error::InvalidConfig(format!(
                "region: bucket {bucket:?} must be addressed through another endpoint ({op}: {status} {code}{said}); {hint}"
            ))
        }
        "RequestTimeTooSkewed" => Error::Permanent(format!(
            "{origin} refused the request because the runner's clock is off by more than 15 minutes ({op}: {status} RequestTimeTooSkewed); synchronise this machine's clock"
        )),
        "SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout" => Error::Transient(
            format!("{origin} kept failing ({op}: {status} {code}); retry later"),
        ),
        _ if resumed && status == 400 => Error::CheckpointExpired(format!(
            "{origin} refused the stored continuation token ({op}: {status} {code}{said}); the listing starts over"
        )),
        _ if status == 429 || status >= 500 => Error::Transient(format!(
            "{origin} kept failing ({op}: {status} {}); retry later",
            if code.is_empty() { "error" } else { code }
        )),
        _ => Error::Permanent(format!(
            "{origin} refused {op} on bucket {bucket:?} ({status} {}{said})",
            if code.is_empty() { "error" } else { code }
        )),
    }
}

/// `: <S3's message>` (capped), or nothing.
fn said(body: &ErrorBody) -> String {
    let m = body.message.trim();
    if m.is_empty() {
        return String::new();
    }
    let mut end = m.len().min(MAX_MESSAGE);
    while !m.is_char_boundary(end) {
        end -= 1;
    }
    let ellipsis = if end < m.len() { "…" } else { "" };
    format!(": {}{ellipsis}", &m[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        Config::parse(
            &json!({"bucket": "docs", "endpoint": "http://127.0.0.1:9000", "path_style": true, "region": "us-east-1"})
                .to_string(),
        )
        .unwrap()
    }

    fn xml_error(status: u16, code: &str, message: &str, extra: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}<RequestId>R1</RequestId></Error>"
            )
            .into_bytes(),
        }
    }

    fn map(resp: Response, resumed: bool) -> Error {
        response_error(&config(), "ListObjectsV2", &resp, resumed)
    }

    #[test]
    fn no_such_bucket_names_the_bucket_field() {
        let e = map(
            xml_error(
                404,
                "NoSuchBucket",
                "The specified bucket does not exist",
                "",
            ),
            false,
        );
        assert!(
            matches!(&e, Error::InvalidConfig(m) if m.starts_with("bucket:") && m.contains("\"docs\"") && m.contains("http://127.0.0.1:9000")),
            "{e:?}"
        );
    }

    #[test]
    fn credential_errors_name_the_secret_field_to_fix() {
        let e = map(
            xml_error(
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                "<AWSAccessKeyId>AKIAEXAMPLE</AWSAccessKeyId>",
            ),
            false,
        );
        assert!(
            matches!(&e, Error::Unauthorized(m) if m.starts_with("access_key_id:")),
            "{e:?}"
        );
        assert!(
            !e.message().contains("AKIAEXAMPLE"),
            "the key id is not echoed: {e:?}"
        );
        let e = map(
            xml_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match",
                "<StringToSign>AWS4-HMAC-SHA256</StringToSign>",
            ),
            false,
        );
        assert!(
            matches!(&e, Error::Unauthorized(m) if m.starts_with("secret_access_key:") && m.contains("region")),
            "{e:?}"
        );
        assert!(!e.message().contains("AWS4-HMAC"));
        let e = map(
            xml_error(400, "ExpiredToken", "The provided token has expired.", ""),
            true,
        );
        assert!(
            matches!(&e, Error::Unauthorized(m) if m.starts_with("session_token:")),
            "{e:?}"
        );
    }

    #[test]
    fn access_denied_says_which_permissions_are_needed() {
        let e = map(xml_error(403, "AccessDenied", "Access Denied", ""), false);
        assert!(
            matches!(&e, Error::Unauthorized(m) if m.contains("s3:ListBucket") && m.contains("s3:GetObject") && m.contains("Access Denied")),
            "{e:?}"
        );
    }

    #[test]
    fn wrong_region_names_the_right_one() {
        let e = map(
            xml_error(
                400,
                "AuthorizationHeaderMalformed",
                "the region 'us-east-1' is wrong; expecting 'eu-west-1'",
                "<Region>eu-west-1</Region>",
            ),
            false,
        );
        assert!(
            matches!(&e, Error::InvalidConfig(m) if m.starts_with("region:") && m.contains("region = \"eu-west-1\"")),
            "{e:?}"
        );
        let e = map(
            xml_error(
                301,
                "PermanentRedirect",
                "The bucket you are attempting to access must be addressed using the specified endpoint.",
                "<Endpoint>docs.s3.eu-west-1.amazonaws.com</Endpoint>",
            ),
            false,
        );
        assert!(
            matches!(&e, Error::InvalidConfig(m) if m.contains("https://docs.s3.eu-west-1.amazonaws.com")),
            "{e:?}"
        );
        let head = Response {
            status: 301,
            headers: vec![("x-amz-bucket-region".into(), "ap-south-1".into())],
            body: vec![],
        };
        assert!(
            matches!(map(head, false), Error::InvalidConfig(m) if m.contains("\"ap-south-1\""))
        );
    }

    #[test]
    fn a_refused_continuation_token_expires_the_checkpoint() {
        let resp = xml_error(
            400,
            "InvalidArgument",
            "The continuation token provided is incorrect",
            "",
        );
        assert!(
            matches!(map(resp.clone(), true), Error::CheckpointExpired(m) if m.contains("continuation token"))
        );
        // Without a token the same answer is a plain refusal.
        assert!(matches!(map(resp, false), Error::Permanent(m) if m.contains("InvalidArgument")));
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        assert!(matches!(
            map(
                xml_error(503, "SlowDown", "Please reduce your request rate.", ""),
                false
            ),
            Error::Transient(_)
        ));
        let bare = Response {
            status: 502,
            headers: vec![],
            body: b"Bad Gateway".to_vec(),
        };
        assert!(matches!(map(bare, false), Error::Transient(m) if m.contains("502")));
    }

    #[test]
    fn skewed_clocks_are_explained() {
        let e = map(
            xml_error(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                "",
            ),
            false,
        );
        assert!(
            matches!(&e, Error::Permanent(m) if m.contains("clock")),
            "{e:?}"
        );
    }

    #[test]
    fn head_answers_without_a_body_map_by_status() {
        let empty = |status| Response {
            status,
            headers: vec![],
            body: vec![],
        };
        assert!(
            matches!(map(empty(404), false), Error::InvalidConfig(m) if m.starts_with("bucket:"))
        );
        assert!(matches!(map(empty(403), false), Error::Unauthorized(_)));
    }

    #[test]
    fn long_messages_are_capped_on_a_char_boundary() {
        let e = map(xml_error(418, "Teapot", &"é".repeat(400), ""), false);
        let m = e.message();
        assert!(m.ends_with("é…)") || m.ends_with("…)"), "{m}");
        assert!(m.len() < 800);
    }

    #[test]
    fn transport_errors_map_by_kind() {
        let c = config();
        assert!(
            matches!(transport_error(&c, TransportError::Denied("x".into())), Error::Permanent(m) if m.contains("endpoint"))
        );
        assert!(matches!(
            transport_error(&c, TransportError::Transport("x".into())),
            Error::Transient(_)
        ));
        assert!(
            matches!(transport_error(&c, TransportError::TooLarge(9)), Error::Permanent(m) if m.contains("page_size"))
        );
        assert!(
            matches!(transport_error(&c, TransportError::Credential("x".into())), Error::Unauthorized(m) if m.contains("secret_access_key"))
        );
        assert!(matches!(
            transport_error(&c, TransportError::InvalidRequest("x".into())),
            Error::Permanent(_)
        ));
    }

    #[test]
    fn list_requests_are_signed_sorted_and_carry_no_auth_headers() {
        struct Never;
        impl Transport for Never {
            fn send(&self, _: Request) -> Result<Response, TransportError> {
                unreachable!()
            }
            fn send_many(&self, _: Vec<Request>) -> Vec<Result<Response, TransportError>> {
                unreachable!()
            }
            fn log(&self, _: crate::transport::Level, _: &str) {}
        }
        let mut c = config();
        c.prefix = "a b+/日".into();
        let client = Client::new(&Never, &c);
        let r = client.list_request(Some("tok/en="), 500);
        assert_eq!(
            r.url,
            "http://127.0.0.1:9000/docs?continuation-token=tok%2Fen%3D&encoding-type=url&list-type=2&max-keys=500&prefix=a%20b%2B%2F%E6%97%A5"
        );
        assert!(r.authenticate);
        assert!(r.headers.is_empty());
        assert_eq!(r.method, Method::Get);
        let h = client.head_request("x y");
        assert_eq!(h.url, "http://127.0.0.1:9000/docs/x%20y");
        assert_eq!(h.method, Method::Head);
        assert!(h.authenticate);
    }
}
