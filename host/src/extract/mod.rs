//! Text extraction in a sandbox: untrusted file bytes are parsed only inside the extractor
//! component (`guest/extractor`, world `tributary:extractor@0.1.0`), never in the host's
//! address space. The host compiles it once per process and keeps pools of instances, each
//! document under a memory cap, a CPU budget and a wall-clock timeout; a bomb, hang or panic
//! becomes a per-document skip reason.
//!
//! ```ignore
//! let extractor = Extractor::load(&runtime, &Extractor::bundled_path()?, PoolConfig::default()).await?;
//! if extractor.supports(&file_name) {
//!     match extractor.extract(&file_name, body, &limits).await {
//!         Extraction::Text { text, truncated, metadata } => ...,
//!         Extraction::Skipped(reason) => ...,   // record the key: do not retry this content
//!         Extraction::Failed(reason) => ...,    // the extractor could not run: retry next run
//!     }
//! }
//! ```
mod bindings;
mod limits;
mod pool;
mod sandbox;

pub use limits::{ExtractLimits, Extraction, Metadata};
pub use pool::{Extractor, PoolConfig, PoolStats};
