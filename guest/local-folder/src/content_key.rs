//! Content keys: a string that changes whenever a file's bytes change. The host stores it
//! with the document and skips reading the file when the next walk reports the same key.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

/// Bytes read per `read` call when hashing: large enough to amortise the host call, small
/// enough that memory stays flat whatever the file size.
const HASH_BUFFER: usize = 256 * 1024;

/// `meta:<size>:<mtime in ns>[:<identity>]`, the identity being the file's device + inode
/// where the platform tells it ([`crate::identity`]): a file replaced by another one of the
/// same size and time then still changes key.
pub fn from_metadata(meta: &Metadata, identity: Option<&str>) -> String {
    let mtime = match meta.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos().to_string(),
            Err(e) => format!("-{}", e.duration().as_nanos()),
        },
        // Without a modification time, size alone would hide edits: say so in the key so a
        // later walk on a platform that has the time does not match it by accident.
        Err(_) => "unknown".to_string(),
    };
    match identity {
        Some(id) => format!("meta:{}:{mtime}:{id}", meta.len()),
        None => format!("meta:{}:{mtime}", meta.len()),
    }
}

/// `sha256:<hex>` of the file's bytes, streamed; also the number of bytes read.
pub fn from_bytes(path: &Path) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), total))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::{Duration, SystemTime};

    use super::*;

    #[test]
    fn the_hash_key_is_the_sha256_of_the_bytes_and_changes_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, "abc").unwrap();
        let (key, n) = from_bytes(&p).unwrap();
        assert_eq!(
            key,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(n, 3);
        fs::write(&p, "abd").unwrap();
        assert_ne!(from_bytes(&p).unwrap().0, key);
    }

    #[test]
    fn the_hash_streams_files_larger_than_its_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let bytes: Vec<u8> = (0..(HASH_BUFFER * 3 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        fs::write(&p, &bytes).unwrap();
        let (key, n) = from_bytes(&p).unwrap();
        assert_eq!(n, bytes.len() as u64);
        assert_eq!(
            key,
            format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
        );
    }

    #[test]
    fn the_metadata_key_changes_with_size_and_modification_time() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, "one").unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(t0)
            .unwrap();
        let k0 = from_metadata(&fs::metadata(&p).unwrap(), None);
        assert_eq!(k0, "meta:3:1700000000000000000");
        assert_eq!(
            from_metadata(&fs::metadata(&p).unwrap(), Some("7:42")),
            "meta:3:1700000000000000000:7:42"
        );
        assert_eq!(
            from_metadata(&fs::metadata(&p).unwrap(), None),
            k0,
            "stable"
        );

        // Same size, new time.
        fs::write(&p, "two").unwrap();
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(t0 + Duration::from_secs(1))
            .unwrap();
        let k1 = from_metadata(&fs::metadata(&p).unwrap(), None);
        assert_ne!(k1, k0);

        // New size, time put back.
        fs::write(&p, "three").unwrap();
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(t0)
            .unwrap();
        assert_ne!(from_metadata(&fs::metadata(&p).unwrap(), None), k0);
    }
}
