//! S3 wire formats: the `ListObjectsV2` result and the `<Error>` body, parsed with
//! quick-xml's serde support, then normalised (keys decoded, ETag quotes removed).

use serde::Deserialize;

use crate::uri;

/// `<ListBucketResult>` as S3 sends it (elements this connector does not use are ignored).
#[derive(Debug, Deserialize)]
struct ListBucketResultXml {
    /// Required: S3 always sends it, and a body without it is not a listing (an HTML error
    /// page from a proxy would otherwise read as an empty bucket and purge the index).
    #[serde(rename = "IsTruncated")]
    is_truncated: bool,
    #[serde(rename = "Contents", default)]
    contents: Vec<ObjectXml>,
    #[serde(rename = "NextContinuationToken")]
    next_continuation_token: Option<String>,
    #[serde(rename = "EncodingType")]
    encoding_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ObjectXml {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "LastModified")]
    last_modified: Option<String>,
    #[serde(rename = "ETag")]
    etag: Option<String>,
    #[serde(rename = "Size", default)]
    size: u64,
    #[serde(rename = "StorageClass")]
    storage_class: Option<String>,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    /// ISO 8601, as S3 sends it (`2024-04-01T09:00:05.000Z`).
    pub last_modified: Option<String>,
    /// Without the surrounding quotes.
    pub etag: Option<String>,
    pub size: u64,
    pub storage_class: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub objects: Vec<Object>,
    /// The token of the next page; `None` on the last page.
    pub next_token: Option<String>,
}

/// Parse a `ListObjectsV2` answer.
pub fn parse_listing(body: &[u8]) -> Result<Listing, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8 ({e})"))?;
    let raw: ListBucketResultXml =
        quick_xml::de::from_str(text).map_err(|e| format!("not a ListBucketResult ({e})"))?;
    // The keys are URL-encoded only when the server says so: a server that ignored
    // `encoding-type=url` sends them verbatim, and decoding those would corrupt `+` and `%`.
    let encoded = raw
        .encoding_type
        .as_deref()
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("url"));
    let mut objects = Vec::with_capacity(raw.contents.len());
    for o in raw.contents {
        let key = if encoded {
            uri::decode_listed(&o.key)
                .ok_or_else(|| format!("the key {:?} does not decode to UTF-8", o.key))?
        } else {
            o.key
        };
        objects.push(Object {
            key,
            last_modified: o.last_modified.filter(|s| !s.is_empty()),
            etag: o.etag.map(|e| unquote(&e)).filter(|e| !e.is_empty()),
            size: o.size,
            storage_class: o.storage_class.filter(|s| !s.is_empty()),
        });
    }
    let next_token = raw.next_continuation_token.filter(|t| !t.is_empty());
    if raw.is_truncated && next_token.is_none() {
        return Err("IsTruncated is true but NextContinuationToken is missing".into());
    }
    Ok(Listing {
        objects,
        next_token: if raw.is_truncated { next_token } else { None },
    })
}

/// An ETag without its quotes (S3 sends `"d41d8cd98f00b204e9800998ecf8427e"`).
pub fn unquote(etag: &str) -> String {
    let t = etag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.trim_matches('"').to_string()
}

/// An S3 `<Error>` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "Code", default)]
    pub code: String,
    #[serde(rename = "Message", default)]
    pub message: String,
    /// The bucket's region (`AuthorizationHeaderMalformed`, `PermanentRedirect`).
    #[serde(rename = "Region")]
    pub region: Option<String>,
    /// The endpoint to use instead (`PermanentRedirect`).
    #[serde(rename = "Endpoint")]
    pub endpoint: Option<String>,
    #[serde(rename = "RequestId")]
    pub request_id: Option<String>,
}

/// Parse an `<Error>` body; empty (HEAD answers) or unreadable bodies give an empty one.
pub fn parse_error(body: &[u8]) -> ErrorBody {
    std::str::from_utf8(body)
        .ok()
        .and_then(|t| quick_xml::de::from_str::<ErrorBody>(t).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>docs</Name>
  <Prefix></Prefix>
  <KeyCount>3</KeyCount>
  <MaxKeys>3</MaxKeys>
  <EncodingType>url</EncodingType>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>reports/Q1+summary%2B%25.txt</Key>
    <LastModified>2024-04-01T09:00:05.000Z</LastModified>
    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>
    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>%E6%97%A5%E6%9C%AC/caf%C3%A9.md</Key>
    <LastModified>2024-04-02T10:00:00.000Z</LastModified>
    <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
    <Size>12</Size>
    <StorageClass>GLACIER</StorageClass>
    <Owner><ID>abc</ID><DisplayName>me</DisplayName></Owner>
  </Contents>
  <Contents>
    <Key>folder/</Key>
    <LastModified>2024-04-03T10:00:00.000Z</LastModified>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag>
    <Size>0</Size>
  </Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>"#;

    #[test]
    fn a_page_parses_with_decoded_keys_and_unquoted_etags() {
        let l = parse_listing(PAGE.as_bytes()).unwrap();
        assert_eq!(l.objects.len(), 3);
        let a = &l.objects[0];
        assert_eq!(a.key, "reports/Q1 summary+%.txt");
        assert_eq!(a.etag.as_deref(), Some("9b2cf535f27731c974343645a3985328"));
        assert_eq!(a.size, 434_234);
        assert_eq!(a.last_modified.as_deref(), Some("2024-04-01T09:00:05.000Z"));
        assert_eq!(a.storage_class.as_deref(), Some("STANDARD"));
        assert_eq!(l.objects[1].key, "日本/café.md");
        assert_eq!(
            l.objects[1].etag.as_deref(),
            Some("3858f62230ac3c915f300c664312c11f-9")
        );
        assert_eq!(l.objects[2].key, "folder/");
        assert_eq!(l.objects[2].storage_class, None);
        assert_eq!(
            l.next_token.as_deref(),
            Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        );
    }

    #[test]
    fn keys_are_taken_verbatim_when_the_server_did_not_url_encode() {
        let xml = r#"<ListBucketResult><IsTruncated>false</IsTruncated>
            <Contents><Key>a+b %41 &amp; c</Key><Size>1</Size></Contents></ListBucketResult>"#;
        let l = parse_listing(xml.as_bytes()).unwrap();
        assert_eq!(l.objects[0].key, "a+b %41 & c");
        assert_eq!(l.next_token, None);
    }

    #[test]
    fn last_and_empty_pages_have_no_token() {
        let xml = r#"<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount>
            <IsTruncated>false</IsTruncated></ListBucketResult>"#;
        let l = parse_listing(xml.as_bytes()).unwrap();
        assert!(l.objects.is_empty());
        assert_eq!(l.next_token, None);
    }

    #[test]
    fn contents_interleaved_with_other_elements_still_parse() {
        let xml = r#"<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents>
            <Name>b</Name><Contents><Key>b</Key><Size>2</Size></Contents>
            <IsTruncated>false</IsTruncated></ListBucketResult>"#;
        let l = parse_listing(xml.as_bytes()).unwrap();
        let keys: Vec<&str> = l.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn a_truncated_page_without_a_token_is_refused() {
        let xml = r#"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"#;
        let e = parse_listing(xml.as_bytes()).unwrap_err();
        assert!(e.contains("NextContinuationToken"), "{e}");
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse_listing(b"<html><body>proxy login</body></html>").is_err());
        assert!(parse_listing(b"{\"json\": true}").is_err());
        assert!(parse_listing(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn error_bodies_parse() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region><RequestId>4442587FB7D0A2F9</RequestId><HostId>x</HostId></Error>"#;
        let e = parse_error(xml.as_bytes());
        assert_eq!(e.code, "AuthorizationHeaderMalformed");
        assert_eq!(e.region.as_deref(), Some("eu-west-1"));
        assert_eq!(e.request_id.as_deref(), Some("4442587FB7D0A2F9"));
        assert_eq!(parse_error(b""), ErrorBody::default());
        assert_eq!(parse_error(b"Service Unavailable").code, "");
    }

    #[test]
    fn etags_lose_quotes_and_weak_markers() {
        assert_eq!(unquote("\"abc\""), "abc");
        assert_eq!(unquote("W/\"abc\""), "abc");
        assert_eq!(unquote("abc"), "abc");
    }
}
