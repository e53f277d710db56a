//! The one thing the walk needs from the host besides the file system: a log.

/// Log levels (mirrors WIT `logging.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Where log lines go: the host's `logging` import in the component, a recorder in tests.
pub trait Log {
    fn log(&self, level: Level, message: &str);
}

#[cfg(test)]
pub mod recorder {
    use std::cell::RefCell;

    use super::{Level, Log};

    /// Keeps every line so tests can assert on warnings.
    #[derive(Default)]
    pub struct Recorder(pub RefCell<Vec<(Level, String)>>);

    impl Recorder {
        pub fn at(&self, level: Level) -> Vec<String> {
            self.0
                .borrow()
                .iter()
                .filter(|(l, _)| *l == level)
                .map(|(_, m)| m.clone())
                .collect()
        }
    }

    impl Log for Recorder {
        fn log(&self, level: Level, message: &str) {
            self.0.borrow_mut().push((level, message.to_string()));
        }
    }

    impl Log for &Recorder {
        fn log(&self, level: Level, message: &str) {
            (*self).log(level, message);
        }
    }
}
