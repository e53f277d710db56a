//! Fail-closed egress policy: exact scheme + host + port matches, nothing else.
use url::Url;

/// `scheme://host:port`, with the default port made explicit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// Parse `https://api.example.com` or `http://127.0.0.1:8080`. Paths, queries and
    /// credentials are refused so an allow-list entry cannot be broader than it looks.
    pub fn parse(text: &str) -> Result<Origin, String> {
        let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{text:?}: only http and https origins are allowed"));
        }
        if url.path() != "/" && !url.path().is_empty() {
            return Err(format!("{text:?}: an origin has no path"));
        }
        if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{text:?}: an origin has no query or credentials"));
        }
        Self::of(&url).ok_or_else(|| format!("{text:?} has no host"))
    }

    /// The origin of a request URL.
    pub fn of(url: &Url) -> Option<Origin> {
        Some(Origin {
            scheme: url.scheme().to_string(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// A set of origins; empty means nothing is allowed.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    origins: Vec<Origin>,
}

impl AllowList {
    pub fn new(origins: Vec<Origin>) -> Self {
        AllowList { origins }
    }

    pub fn parse_all<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let origins = texts
            .into_iter()
            .map(Origin::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AllowList { origins })
    }

    pub fn allows(&self, url: &Url) -> bool {
        match Origin::of(url) {
            Some(origin) => self.origins.contains(&origin),
            None => false,
        }
    }

    pub fn origins(&self) -> &[Origin] {
        &self.origins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn allow_list_matches_scheme_host_and_port_exactly() {
        let list =
            AllowList::parse_all(["https://api.example.com", "http://127.0.0.1:8080"]).unwrap();
        assert!(list.allows(&url("https://api.example.com/v1/items")));
        assert!(list.allows(&url("https://API.example.com:443/x")));
        assert!(!list.allows(&url("http://api.example.com/x")));
        assert!(!list.allows(&url("https://api.example.com:8443/x")));
        assert!(!list.allows(&url("https://evil.com/?https://api.example.com")));
        assert!(list.allows(&url("http://127.0.0.1:8080/2/x")));
        assert!(!list.allows(&url("http://127.0.0.1:8081/2/x")));
        assert!(!list.allows(&url("http://169.254.169.254/latest")));
    }

    #[test]
    fn empty_allow_list_denies_everything() {
        assert!(!AllowList::default().allows(&url("https://api.example.com/")));
    }

    #[test]
    fn origins_with_paths_or_credentials_are_refused() {
        assert!(Origin::parse("https://a.com/path").is_err());
        assert!(Origin::parse("https://user:pw@a.com").is_err());
        assert!(Origin::parse("ftp://a.com").is_err());
        assert!(Origin::parse("https://a.com/").is_ok());
    }
}
