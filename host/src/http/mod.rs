//! Everything a component's traffic goes through: the allow-list, OAuth2 token injection,
//! retries with backoff, and one `Retry-After` pacer shared by the whole run.
pub mod allowlist;
pub mod client;
pub mod credential;
pub mod oauth;
pub mod pacer;
pub mod secret;

pub use allowlist::{AllowList, Origin};
pub use client::{HttpError, HttpService, HttpStats, InboundResponse, Method, OutboundRequest};
pub use credential::{Authenticator, SigV4Keys};
pub use oauth::{CredentialError, TokenSource};
pub use pacer::Pacer;
pub use secret::Secret;
