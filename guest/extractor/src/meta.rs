//! Cheap document metadata.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub title: Option<String>,
    pub author: Option<String>,
    pub pages: Option<u32>,
    pub sheets: Option<u32>,
    pub slides: Option<u32>,
}

/// Trim and drop empty values; cap length so a hostile title cannot be a megabyte.
pub fn clean(value: Option<String>) -> Option<String> {
    let value = value?;
    let value: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
    let value: String = value
        .chars()
        .filter(|c| !c.is_control())
        .take(1000)
        .collect();
    (!value.is_empty()).then_some(value)
}
