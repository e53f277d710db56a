//! Dropbox source component.
