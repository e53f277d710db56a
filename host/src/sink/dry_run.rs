//! The dry-run sink: one NDJSON line per operation, acknowledged at once.
use super::{SinkStats, Write, WriteAck, mapping};
use anyhow::Context;
use serde_json::{Value, json};
use std::io::Write as _;
use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;

/// One line of dry-run output for a write.
#[derive(serde::Serialize)]
struct WriteLine<'a> {
    op: &'static str,
    #[serde(rename = "_id")]
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    doc: Option<&'a serde_json::Map<String, Value>>,
}

/// Writes what would be sent to the index as NDJSON.
pub struct DryRunSink {
    out: Mutex<Box<dyn std::io::Write + Send>>,
    acks: UnboundedSender<WriteAck>,
    stats: Mutex<SinkStats>,
}

impl DryRunSink {
    /// Write operations to `out`; acks go to `acks`.
    pub fn new(out: Box<dyn std::io::Write + Send>, acks: UnboundedSender<WriteAck>) -> DryRunSink {
        DryRunSink {
            out: Mutex::new(out),
            acks,
            stats: Mutex::new(SinkStats::default()),
        }
    }

    /// Validates the connector's properties the way the real sink would; writes nothing.
    pub fn prepare(&self, connector_properties: &Value) -> anyhow::Result<()> {
        mapping::merged_properties(connector_properties)?;
        Ok(())
    }

    fn line(&self, value: &impl serde::Serialize) -> anyhow::Result<()> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| anyhow::anyhow!("the dry-run output lock is poisoned"))?;
        serde_json::to_writer(&mut *out, value).context("writing dry-run output")?;
        out.write_all(b"\n").context("writing dry-run output")?;
        Ok(())
    }

    fn count(&self, f: impl FnOnce(&mut SinkStats)) {
        if let Ok(mut stats) = self.stats.lock() {
            f(&mut stats);
        }
    }

    /// Print the write and acknowledge it.
    pub fn submit(&self, write: Write, token: u64) -> anyhow::Result<()> {
        // Serialized straight from the write: no copy of the document into a `Value` tree.
        let line = match &write {
            Write::Index { id, source } => WriteLine {
                op: "index",
                id,
                doc: Some(source),
            },
            Write::Update { id, fields } => WriteLine {
                op: "update",
                id,
                doc: Some(fields),
            },
            Write::IndexVia { id, source, .. } => WriteLine {
                op: "index",
                id,
                doc: Some(source),
            },
            Write::Patch { id, fields } => WriteLine {
                op: "patch",
                id,
                doc: Some(fields),
            },
            Write::Delete { id } => WriteLine {
                op: "delete",
                id,
                doc: None,
            },
        };
        self.line(&line)?;
        self.count(|s| match write {
            Write::Index { .. } | Write::IndexVia { .. } => s.indexed += 1,
            Write::Update { .. } | Write::Patch { .. } => s.updated += 1,
            Write::Delete { .. } => s.deleted += 1,
        });
        // Nobody listening is fine: the placeholder sink has no receiver.
        let _ = self.acks.send(WriteAck {
            token,
            outcome: Ok(()),
        });
        Ok(())
    }

    /// Flush the output.
    pub fn drain(&self) -> anyhow::Result<()> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| anyhow::anyhow!("the dry-run output lock is poisoned"))?;
        out.flush().context("flushing dry-run output")
    }

    /// Print the subtree delete; nothing is deleted, so 0.
    pub fn delete_tree(&self, field: &str, value: &str, keep: &[String]) -> anyhow::Result<u64> {
        let mut line = json!({ "op": "delete_tree", "field": field, "value": value });
        if !keep.is_empty() {
            line["keep"] = json!(keep);
        }
        self.line(&line)?;
        Ok(0)
    }

    /// Print the purge; nothing is deleted, so 0.
    pub fn purge_unseen(&self, scope: &str, run: &str) -> anyhow::Result<u64> {
        self.line(&json!({ "op": "purge_unseen", "scope": scope, "run": run }))?;
        Ok(0)
    }

    /// Counters so far.
    pub fn stats(&self) -> SinkStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Flush and return the counters.
    pub fn close(self) -> anyhow::Result<SinkStats> {
        self.drain()?;
        Ok(self.stats())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn dry_run_prints_one_line_per_operation_and_acks_at_once() {
        let out = Shared::default();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let sink = DryRunSink::new(Box::new(out.clone()), tx);
        let source = json!({"name": "a"}).as_object().cloned().unwrap();
        sink.submit(
            Write::Index {
                id: "1".into(),
                source: source.clone(),
            },
            10,
        )
        .unwrap();
        sink.submit(
            Write::Update {
                id: "1".into(),
                fields: source,
            },
            11,
        )
        .unwrap();
        sink.submit(Write::Delete { id: "2".into() }, 12).unwrap();
        assert_eq!(sink.delete_tree("path_lower", "/a", &[]).unwrap(), 0);
        assert_eq!(sink.purge_unseen("files", "run-1").unwrap(), 0);
        let stats = sink.close().unwrap();
        assert_eq!((stats.indexed, stats.updated, stats.deleted), (1, 1, 1));
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines[0],
            json!({"op": "index", "_id": "1", "doc": {"name": "a"}})
        );
        assert_eq!(lines[1]["op"], "update");
        assert_eq!(lines[2], json!({"op": "delete", "_id": "2"}));
        assert_eq!(
            lines[3],
            json!({"op": "delete_tree", "field": "path_lower", "value": "/a"})
        );
        assert_eq!(
            lines[4],
            json!({"op": "purge_unseen", "scope": "files", "run": "run-1"})
        );
        let tokens: Vec<u64> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|a| a.token)
            .collect();
        assert_eq!(tokens, vec![10, 11, 12]);
    }
}
