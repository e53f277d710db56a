//! Dropbox `content_hash`: SHA-256 over the concatenated SHA-256 digests of 4 MiB blocks.

use sha2::{Digest, Sha256};

/// Dropbox hashes content in blocks of exactly this many bytes.
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;

/// The content hash of an empty file (no blocks: SHA-256 of nothing).
pub const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Incremental content hasher; feed bytes in any chunking.
#[derive(Clone, Default)]
pub struct ContentHasher {
    block: Sha256,
    in_block: usize,
    overall: Sha256,
}

impl ContentHasher {
    /// A hasher with no input yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed more content.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = (BLOCK_SIZE - self.in_block).min(data.len());
            self.block.update(&data[..take]);
            self.in_block += take;
            data = &data[take..];
            if self.in_block == BLOCK_SIZE {
                self.flush_block();
            }
        }
    }

    fn flush_block(&mut self) {
        let digest = std::mem::take(&mut self.block).finalize();
        self.overall.update(digest);
        self.in_block = 0;
    }

    /// The 64-character lowercase hex content hash.
    pub fn finish(mut self) -> String {
        if self.in_block > 0 {
            self.flush_block();
        }
        hex::encode(self.overall.finalize())
    }
}

/// Content hash of a byte slice.
pub fn content_hash(data: &[u8]) -> String {
    let mut h = ContentHasher::new();
    h.update(data);
    h.finish()
}

/// Combine precomputed raw block digests into the content hash.
pub fn combine_block_digests<'a>(digests: impl IntoIterator<Item = &'a [u8; 32]>) -> String {
    let mut overall = Sha256::new();
    for d in digests {
        overall.update(d);
    }
    hex::encode(overall.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent computation: split, hash each block, hash the concatenation.
    fn reference(data: &[u8]) -> String {
        let mut concat = Vec::new();
        for block in data.chunks(BLOCK_SIZE) {
            concat.extend_from_slice(&Sha256::digest(block));
        }
        hex::encode(Sha256::digest(&concat))
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn empty_file_hash_is_sha256_of_nothing() {
        assert_eq!(content_hash(b""), EMPTY_HASH);
    }

    #[test]
    fn small_file_is_double_sha256() {
        let once = Sha256::digest(b"hello");
        assert_eq!(content_hash(b"hello"), hex::encode(Sha256::digest(once)));
    }

    #[test]
    fn exactly_one_block_and_one_byte_more() {
        for n in [BLOCK_SIZE, BLOCK_SIZE + 1, 3 * BLOCK_SIZE + 12345] {
            let data = pattern(n);
            assert_eq!(content_hash(&data), reference(&data), "size {n}");
            // Chunked feeding gives the same answer.
            let mut h = ContentHasher::new();
            for c in data.chunks(999_983) {
                h.update(c);
            }
            assert_eq!(h.finish(), reference(&data), "chunked size {n}");
        }
    }
}
