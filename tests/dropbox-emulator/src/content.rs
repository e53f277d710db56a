//! File content: stored bytes, Paper markdown, or synthetic bytes derived from a seed.
//!
//! Synthetic content is a window onto a 1 MiB periodic stream, so serving it is zero-copy
//! (`Bytes::slice`) and hashing it is cheap: every full 4 MiB block of a stream is identical,
//! and the partial block is a prefix whose SHA-256 resumes from cached 4 KiB checkpoints.

use crate::content_hash::{self, BLOCK_SIZE, ContentHasher};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::task::{Context, Poll};

/// Length of the periodic synthetic stream; divides `BLOCK_SIZE`.
pub const PERIOD: usize = 1 << 20;
/// Number of distinct stream phases per kind.
pub const VARIANTS: u32 = 16;
const CHECKPOINT: usize = 4096;
const CHUNK: usize = 256 * 1024;

/// What a synthetic file looks like inside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SynthKind {
    /// Words and newlines (ASCII).
    Text,
    /// Pseudo-random bytes.
    Binary,
}

/// Deterministic 64-bit mixer (splitmix64).
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

const WORDS: &[&str] = &[
    "dropbox",
    "report",
    "budget",
    "quarter",
    "meeting",
    "design",
    "review",
    "search",
    "index",
    "elastic",
    "connector",
    "folder",
    "invoice",
    "contract",
    "roadmap",
    "planning",
    "customer",
    "revenue",
    "growth",
    "launch",
    "summary",
    "draft",
    "final",
    "notes",
    "agenda",
    "team",
    "project",
    "status",
    "update",
    "alpha",
    "beta",
    "gamma",
    "delta",
    "sync",
    "cursor",
    "page",
];

static TEXT: LazyLock<Bytes> = LazyLock::new(|| {
    let mut out = Vec::with_capacity(PERIOD + 32);
    let mut s = 0x7E57u64;
    let mut col = 0;
    while out.len() < PERIOD {
        s = mix(s);
        let w = WORDS[(s % WORDS.len() as u64) as usize];
        out.extend_from_slice(w.as_bytes());
        col += w.len() + 1;
        if col > 70 {
            out.push(b'\n');
            col = 0;
        } else {
            out.push(b' ');
        }
    }
    out.truncate(PERIOD);
    Bytes::from(out)
});

static BINARY: LazyLock<Bytes> = LazyLock::new(|| {
    let mut out = Vec::with_capacity(PERIOD);
    let mut s = 0xB1A5u64;
    while out.len() < PERIOD {
        s = mix(s);
        out.extend_from_slice(&s.to_le_bytes());
    }
    out.truncate(PERIOD);
    Bytes::from(out)
});

fn stream(kind: SynthKind) -> &'static Bytes {
    match kind {
        SynthKind::Text => &TEXT,
        SynthKind::Binary => &BINARY,
    }
}

fn phase(variant: u32) -> usize {
    (variant as usize).wrapping_mul(65_537) % PERIOD
}

/// Copy `len` bytes of a synthetic stream starting at stream position `start`.
fn stream_bytes(kind: SynthKind, variant: u32, start: usize, len: usize) -> Vec<u8> {
    let buf = stream(kind);
    let mut out = Vec::with_capacity(len);
    let mut pos = (phase(variant) + start) % PERIOD;
    while out.len() < len {
        let take = (PERIOD - pos).min(len - out.len());
        out.extend_from_slice(&buf[pos..pos + take]);
        pos = 0;
    }
    out
}

type Checkpoints = Arc<Vec<Sha256>>;
static CHECKPOINTS: LazyLock<Mutex<HashMap<(SynthKind, u32), Checkpoints>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn checkpoints(kind: SynthKind, variant: u32) -> Checkpoints {
    let mut map = CHECKPOINTS.lock().unwrap_or_else(|e| e.into_inner());
    map.entry((kind, variant))
        .or_insert_with(|| {
            let block = stream_bytes(kind, variant, 0, BLOCK_SIZE);
            let mut states = Vec::with_capacity(BLOCK_SIZE / CHECKPOINT + 1);
            let mut h = Sha256::new();
            states.push(h.clone());
            for c in block.chunks(CHECKPOINT) {
                h.update(c);
                states.push(h.clone());
            }
            Arc::new(states)
        })
        .clone()
}

/// SHA-256 of the first `len` (≤ 4 MiB) bytes of a synthetic stream.
fn prefix_digest(kind: SynthKind, variant: u32, len: usize) -> [u8; 32] {
    let cps = checkpoints(kind, variant);
    let idx = len / CHECKPOINT;
    let mut h = cps[idx].clone();
    let tail = len - idx * CHECKPOINT;
    if tail > 0 {
        h.update(stream_bytes(kind, variant, idx * CHECKPOINT, tail));
    }
    h.finalize().into()
}

fn synthetic_hash(kind: SynthKind, variant: u32, size: u64) -> String {
    if size == 0 {
        return content_hash::EMPTY_HASH.to_string();
    }
    let full = (size / BLOCK_SIZE as u64) as usize;
    let rest = (size % BLOCK_SIZE as u64) as usize;
    let full_digest = if full > 0 {
        Some(prefix_digest(kind, variant, BLOCK_SIZE))
    } else {
        None
    };
    let rest_digest = (rest > 0).then(|| prefix_digest(kind, variant, rest));
    let mut all: Vec<&[u8; 32]> = Vec::with_capacity(full + 1);
    if let Some(d) = &full_digest {
        all.extend(std::iter::repeat_n(d, full));
    }
    if let Some(d) = &rest_digest {
        all.push(d);
    }
    content_hash::combine_block_digests(all)
}

/// The bytes behind a file.
#[derive(Debug)]
pub enum Content {
    /// Stored bytes (uploads, manifests, seed directories).
    Stored(Bytes),
    /// Synthetic bytes: `size` bytes of stream `(kind, variant)`.
    Synthetic {
        /// Stream flavour.
        kind: SynthKind,
        /// Stream phase.
        variant: u32,
        /// Length in bytes.
        size: u64,
    },
    /// A Paper doc; the markdown is its export and its stored bytes.
    Paper(Bytes),
}

/// File content plus its lazily computed, cached content hash.
#[derive(Debug)]
pub struct FileData {
    /// The bytes.
    pub content: Content,
    hash: OnceLock<String>,
}

impl FileData {
    /// Wrap content.
    pub fn new(content: Content) -> Arc<Self> {
        Arc::new(Self {
            content,
            hash: OnceLock::new(),
        })
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        match &self.content {
            Content::Stored(b) | Content::Paper(b) => b.len() as u64,
            Content::Synthetic { size, .. } => *size,
        }
    }

    /// Whether this is a Paper doc.
    pub fn is_paper(&self) -> bool {
        matches!(self.content, Content::Paper(_))
    }

    /// The Dropbox content hash (computed once).
    pub fn hash(&self) -> &str {
        self.hash.get_or_init(|| match &self.content {
            Content::Stored(b) | Content::Paper(b) => content_hash::content_hash(b),
            Content::Synthetic {
                kind,
                variant,
                size,
            } => synthetic_hash(*kind, *variant, *size),
        })
    }

    /// All bytes, materialised (admin/test use only).
    pub fn to_bytes(&self) -> Bytes {
        match &self.content {
            Content::Stored(b) | Content::Paper(b) => b.clone(),
            Content::Synthetic {
                kind,
                variant,
                size,
            } => Bytes::from(stream_bytes(*kind, *variant, 0, *size as usize)),
        }
    }

    /// A response body for bytes `[start, end)`.
    pub fn body(&self, start: u64, end: u64) -> Body {
        match &self.content {
            Content::Stored(b) | Content::Paper(b) => {
                Body::full(b.slice(start as usize..end as usize))
            }
            Content::Synthetic { kind, variant, .. } => Body::Synthetic {
                buf: stream(*kind).clone(),
                phase: phase(*variant),
                pos: start,
                end,
            },
        }
    }
}

/// Streaming hasher check used by tests: hash synthetic bytes the slow way.
pub fn hash_by_streaming(data: &FileData) -> String {
    let mut h = ContentHasher::new();
    h.update(&data.to_bytes());
    h.finish()
}

/// The response body type for every route.
pub enum Body {
    /// A single buffer (or nothing).
    Full(Option<Bytes>),
    /// Zero-copy slices of a synthetic stream.
    Synthetic {
        /// The periodic stream.
        buf: Bytes,
        /// Stream phase of the file.
        phase: usize,
        /// Next file offset to send.
        pos: u64,
        /// End offset (exclusive).
        end: u64,
    },
}

impl Body {
    /// A body holding `b`.
    pub fn full(b: impl Into<Bytes>) -> Self {
        let b = b.into();
        if b.is_empty() {
            Body::Full(None)
        } else {
            Body::Full(Some(b))
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Body::Full(None)
    }

    /// Exact remaining length.
    pub fn len(&self) -> u64 {
        match self {
            Body::Full(b) => b.as_ref().map_or(0, |b| b.len() as u64),
            Body::Synthetic { pos, end, .. } => end - pos,
        }
    }

    /// True when nothing remains.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match this {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(http_body::Frame::data(b)))),
            Body::Synthetic {
                buf,
                phase,
                pos,
                end,
            } => {
                if *pos >= *end {
                    return Poll::Ready(None);
                }
                let at = ((*phase as u64 + *pos) % PERIOD as u64) as usize;
                let take = ((*end - *pos) as usize).min(PERIOD - at).min(CHUNK);
                *pos += take as u64;
                Poll::Ready(Some(Ok(http_body::Frame::data(buf.slice(at..at + take)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_hash_matches_streaming_hash() {
        for (kind, variant, size) in [
            (SynthKind::Text, 0, 0u64),
            (SynthKind::Text, 3, 1),
            (SynthKind::Binary, 5, 4096),
            (SynthKind::Binary, 7, 123_457),
            (SynthKind::Text, 9, BLOCK_SIZE as u64),
            (SynthKind::Binary, 2, BLOCK_SIZE as u64 + 1),
            (SynthKind::Text, 15, 2 * BLOCK_SIZE as u64 + 777),
        ] {
            let d = FileData::new(Content::Synthetic {
                kind,
                variant,
                size,
            });
            assert_eq!(d.hash(), hash_by_streaming(&d), "{kind:?} {variant} {size}");
        }
    }
}
