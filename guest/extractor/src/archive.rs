//! Zip containers (OOXML, ODF, EPUB) read under a budget of inflated bytes, so a zip bomb
//! ends in a `limit` failure instead of filling the sandbox's memory.
use crate::failure::Failure;
use std::io::{Cursor, Read};
use zip::ZipArchive;

pub struct Archive<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    format: &'static str,
    budget: u64,
    max_inflated: u64,
}

impl<'a> Archive<'a> {
    pub fn open(bytes: &'a [u8], format: &'static str, max_inflated: u64) -> Result<Self, Failure> {
        let zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| Failure::corrupt(format, e))?;
        Ok(Archive {
            zip,
            format,
            budget: max_inflated,
            max_inflated,
        })
    }

    /// Refuse archives whose entries declare more inflated bytes than the budget, before any
    /// work (readers that open the zip themselves, like calamine, get this check only).
    pub fn check_declared_sizes(
        bytes: &[u8],
        format: &'static str,
        max_inflated: u64,
    ) -> Result<(), Failure> {
        let mut zip =
            ZipArchive::new(Cursor::new(bytes)).map_err(|e| Failure::corrupt(format, e))?;
        let mut total = 0u64;
        for i in 0..zip.len() {
            let entry = zip
                .by_index_raw(i)
                .map_err(|e| Failure::corrupt(format, e))?;
            total = total.saturating_add(entry.size());
            if entry.encrypted() {
                return Err(Failure::Encrypted(format!(
                    "{format} entries are encrypted"
                )));
            }
        }
        if total > max_inflated {
            return Err(inflate_limit(format, max_inflated));
        }
        Ok(())
    }

    pub fn names(&self) -> Vec<String> {
        self.zip
            .file_names()
            .filter_map(Result::ok)
            .map(|n| n.into_owned())
            .collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.zip.index_for_name(name).is_some()
    }

    /// The inflated bytes of `name`, or `None` when there is no such entry.
    pub fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        let Some(index) = self.zip.index_for_name(name) else {
            return Ok(None);
        };
        let format = self.format;
        let mut entry = match self.zip.by_index(index) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::UnsupportedArchive(m))
                if m.contains("ncrypt") || m.contains("assword") =>
            {
                return Err(Failure::Encrypted(format!(
                    "{format} entry {name} is encrypted"
                )));
            }
            Err(e) => return Err(Failure::corrupt(format, format!("{name}: {e}"))),
        };
        if entry.encrypted() {
            return Err(Failure::Encrypted(format!(
                "{format} entry {name} is encrypted"
            )));
        }
        let mut out = Vec::with_capacity(entry.size().min(self.budget).min(1 << 20) as usize);
        let read = (&mut entry)
            .take(self.budget.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| Failure::corrupt(format, format!("{name}: {e}")))?;
        if read as u64 > self.budget {
            return Err(inflate_limit(format, self.max_inflated));
        }
        self.budget -= read as u64;
        Ok(Some(out))
    }

    /// Like `read`, for entries that may be absent or broken without spoiling the document
    /// (metadata, headers); limits still end the document.
    pub fn read_optional(&mut self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        match self.read(name) {
            Err(Failure::Corrupt(_)) => Ok(None),
            other => other,
        }
    }
}

pub fn inflate_limit(format: &str, max: u64) -> Failure {
    Failure::Limit(format!(
        "the {format} file inflates to more than {max} bytes (max_inflated_bytes): a zip bomb or an unusually large document"
    ))
}

/// Names matching `prefix<N>suffix`, sorted by N (slide2 before slide10).
pub fn numbered(names: &[String], prefix: &str, suffix: &str) -> Vec<String> {
    let mut found: Vec<(u64, String)> = names
        .iter()
        .filter_map(|n| {
            let middle = n.strip_prefix(prefix)?.strip_suffix(suffix)?;
            let number = if middle.is_empty() {
                0
            } else {
                middle.parse().ok()?
            };
            Some((number, n.clone()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, n)| n).collect()
}
