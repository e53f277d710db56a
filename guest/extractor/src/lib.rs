//! Text extractor component for tributary: untrusted file bytes in, text and metadata out.
//!
//! All parsing lives in plain modules that compile and are tested natively; this file only
//! converts between them and the WIT bindings (`tributary:extractor@0.1.0`).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::panic))]

pub mod archive;
pub mod doc;
pub mod eml;
pub mod epub;
pub mod extract;
pub mod failure;
pub mod format;
pub mod markup;
pub mod meta;
pub mod msg;
pub mod odf;
pub mod ole;
pub mod ooxml;
pub mod pdf;
pub mod plain;
pub mod ppt;
pub mod rtf;
pub mod sheets;
pub mod sink;
pub mod xmltext;

pub use extract::{Extracted, extract, supports};
pub use failure::Failure;
pub use sink::Limits;

#[allow(unsafe_code, clippy::all, missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/extractor@0.1.0",
        world: "extractor",
    });

    // Exported symbols are named like `tributary:extractor/extract@0.1.0#extract`, which a
    // native linker version script rejects: export them only in the component build.
    #[cfg(target_arch = "wasm32")]
    use super::Component;
    #[cfg(target_arch = "wasm32")]
    export!(Component);
}

use bindings::exports::tributary::extractor::extract as wit;

/// The exported component.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

impl wit::Guest for Component {
    fn info() -> wit::ComponentInfo {
        wit::ComponentInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            extensions: format::extensions(),
            file_names: format::PLAIN_NAMES.iter().map(|n| n.to_string()).collect(),
        }
    }

    fn extract(
        file_name: String,
        bytes: Vec<u8>,
        limits: wit::Limits,
    ) -> Result<wit::Document, wit::Failure> {
        let limits = Limits {
            max_chars: limits.max_chars,
            normalize_whitespace: limits.normalize_whitespace,
            max_inflated_bytes: limits.max_inflated_bytes,
        };
        match extract::extract(&file_name, &bytes, &limits) {
            Ok(e) => Ok(wit::Document {
                text: e.text,
                truncated: e.truncated,
                metadata: wit::Metadata {
                    format: e.format,
                    title: e.meta.title,
                    author: e.meta.author,
                    pages: e.meta.pages,
                    sheets: e.meta.sheets,
                    slides: e.meta.slides,
                },
            }),
            Err(Failure::Unsupported(m)) => Err(wit::Failure::Unsupported(m)),
            Err(Failure::Corrupt(m)) => Err(wit::Failure::Corrupt(m)),
            Err(Failure::Encrypted(m)) => Err(wit::Failure::Encrypted(m)),
            Err(Failure::Limit(m)) => Err(wit::Failure::Limit(m)),
        }
    }
}
