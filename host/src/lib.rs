//! tributary: a host that runs sandboxed source components and indexes their documents.
pub mod sink;
