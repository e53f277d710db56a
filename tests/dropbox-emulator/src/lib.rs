//! Dropbox API emulator.
