//! `check`: one single-key listing proves the endpoint, bucket, region and keys work, and a
//! `HeadObject` on that key proves the keys may read objects (which content needs).

use crate::client::{Client, Head};
use crate::config::Config;
use crate::error::Error;
use crate::transport::Transport;

/// Check the configuration against the service; on success say what was found.
pub fn check<T: Transport>(transport: &T, config: &Config) -> Result<String, Error> {
    let client = Client::new(transport, config);
    let listing = client.list(None, 1)?;
    let place = if config.prefix.is_empty() {
        format!("bucket {:?} at {}", config.bucket, config.origin())
    } else {
        format!(
            "bucket {:?}, prefix {:?} at {}",
            config.bucket,
            config.prefix,
            config.origin()
        )
    };
    let Some(first) = listing.objects.first() else {
        return Ok(format!(
            "{place}: listing works; there are no objects to index yet"
        ));
    };
    let read = match client.head_many(&[first.key.as_str()]).pop() {
        Some(Ok(Head::Found(_))) => "objects are readable",
        Some(Ok(Head::Gone)) => "the first object was deleted while checking",
        Some(Err(Error::Unauthorized(_))) => {
            return Err(Error::Unauthorized(format!(
                "{place}: listing works but reading {:?} was refused (403: the key lacks s3:GetObject, or the service rejected the signature of a key with these characters); grant the key s3:GetObject on the bucket's objects",
                first.key
            )));
        }
        Some(Err(e)) => return Err(e),
        None => return Err(Error::Permanent("the host answered no HeadObject".into())),
    };
    Ok(format!(
        "{place}: listing works (first key {:?}), {read}",
        first.key
    ))
}
