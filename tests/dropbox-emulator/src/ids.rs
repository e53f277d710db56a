//! Identifier formats: file ids, revs, account/member/team ids, request ids.

use crate::content::mix;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `id:` + 22 url-safe characters, derived from a counter and a salt.
pub fn file_id(n: u64, salt: u64) -> String {
    let a = mix(n ^ salt);
    let b = mix(a ^ 0x1D5);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    format!("id:{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A rev: lowercase hex, ≥ 9 characters, increasing with `n`.
pub fn rev(n: u64) -> String {
    format!("5f{n:013x}")
}

/// 35 url-safe characters derived from `seed` (for 40-character `dbid:` account ids).
fn chars35(seed: u64) -> String {
    let mut bytes = [0u8; 27];
    let mut s = seed;
    for chunk in bytes.chunks_mut(8) {
        s = mix(s);
        let b = s.to_be_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    let mut out = URL_SAFE_NO_PAD.encode(bytes);
    out.truncate(35);
    out
}

/// `dbid:` + 35 characters: exactly 40 characters.
pub fn account_id(seed: u64) -> String {
    format!("dbid:{}", chars35(seed ^ 0xACC0))
}

/// `dbmid:` + url-safe characters.
pub fn team_member_id(seed: u64) -> String {
    format!("dbmid:{}", &chars35(seed ^ 0x3E3B)[..32])
}

/// `dbtid:` + url-safe characters.
pub fn team_id(seed: u64) -> String {
    format!("dbtid:{}", &chars35(seed ^ 0x7EA3)[..32])
}

/// Url-safe token body of `n` characters from a seed.
pub fn token_chars(seed: u64, n: usize) -> String {
    let mut out = String::new();
    let mut s = seed;
    while out.len() < n {
        s = mix(s);
        out.push_str(&URL_SAFE_NO_PAD.encode(s.to_be_bytes()));
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_spec_patterns() {
        let id = file_id(1, 2);
        assert!(id.starts_with("id:") && id.len() == 25, "{id}");
        assert!(rev(1).len() >= 9 && rev(1).chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(account_id(9).len(), 40);
    }
}
