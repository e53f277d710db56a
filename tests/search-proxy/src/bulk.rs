//! `_bulk` bodies: split into items, forward only the items a fault did not reject, and merge
//! the answer so every item is answered in its original position.
//!
//! A real cluster that rejects an item with 429 did not write it, so a rejected item must not
//! reach the search server at all.

use serde_json::{Value, json};

/// One item of a `_bulk` body: its action line and, except for `delete`, its source line.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// `index`, `create`, `update` or `delete`.
    pub action: String,
    /// `_index` from the action line, if any.
    pub index: Option<String>,
    /// `_id` from the action line, if any.
    pub id: Option<String>,
    /// The item's lines, each ending in `\n`.
    pub lines: Vec<u8>,
}

impl Item {
    /// What identifies the item's document for sticky rejection: `index/id`.
    pub fn key(&self, default_index: &str, position: usize) -> String {
        let index = self.index.as_deref().unwrap_or(default_index);
        match &self.id {
            Some(id) => format!("{index}/{id}"),
            None => format!("{index}/#{position}"),
        }
    }
}

/// Split an NDJSON `_bulk` body into items.
pub fn split(body: &[u8]) -> Result<Vec<Item>, String> {
    let mut lines = body
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace));
    let mut items = Vec::new();
    while let Some((n, line)) = lines.next() {
        let header: Value = serde_json::from_slice(line)
            .map_err(|e| format!("_bulk line {}: not JSON: {e}", n + 1))?;
        let (action, meta) = header
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
            .ok_or_else(|| format!("_bulk line {}: not an action line: {header}", n + 1))?;
        let mut raw = line.to_vec();
        raw.push(b'\n');
        if action != "delete" {
            let (_, source) = lines
                .next()
                .ok_or_else(|| format!("_bulk line {}: {action} without a source line", n + 1))?;
            raw.extend_from_slice(source);
            raw.push(b'\n');
        }
        items.push(Item {
            action: action.clone(),
            index: meta["_index"].as_str().map(String::from),
            id: meta["_id"].as_str().map(String::from),
            lines: raw,
        });
    }
    Ok(items)
}

/// The body holding `items` where `keep` is true.
pub fn join(items: &[Item], keep: &[bool]) -> Vec<u8> {
    items
        .iter()
        .zip(keep)
        .filter(|(_, k)| **k)
        .flat_map(|(i, _)| i.lines.iter().copied())
        .collect()
}

/// The answer a busy cluster gives for an item it rejected.
pub fn rejected_answer(item: &Item, default_index: &str) -> Value {
    let mut inner = json!({
        "_index": item.index.as_deref().unwrap_or(default_index),
        "status": 429,
        "error": {
            "type": "es_rejected_execution_exception",
            "reason": "rejected execution of coordinating operation [injected by search-fault-proxy]"
        }
    });
    if let Some(id) = &item.id {
        inner["_id"] = json!(id);
    }
    json!({ item.action.clone(): inner })
}

/// Merge the upstream answer for the forwarded items (`None` when nothing was forwarded) with
/// the rejections, in the original order.
pub fn merge(
    items: &[Item],
    rejected: &[bool],
    upstream: Option<&Value>,
    default_index: &str,
) -> Result<Value, String> {
    let forwarded: Vec<Value> = match upstream {
        Some(v) => v["items"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("the upstream _bulk answer has no items: {v}"))?,
        None => Vec::new(),
    };
    let expected = rejected.iter().filter(|r| !**r).count();
    if forwarded.len() != expected {
        return Err(format!(
            "the upstream _bulk answer has {} items for {expected} forwarded",
            forwarded.len()
        ));
    }
    let mut answers = forwarded.into_iter();
    let mut out = Vec::with_capacity(items.len());
    for (item, rejected) in items.iter().zip(rejected) {
        if *rejected {
            out.push(rejected_answer(item, default_index));
        } else if let Some(a) = answers.next() {
            out.push(a);
        }
    }
    let took = upstream.and_then(|v| v["took"].as_u64()).unwrap_or(0);
    Ok(json!({
        "took": took,
        "errors": rejected.iter().any(|r| *r)
            || upstream.is_some_and(|v| v["errors"] == json!(true)),
        "items": out,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = concat!(
        "{\"index\":{\"_id\":\"a\"}}\n{\"n\":1}\n",
        "{\"delete\":{\"_id\":\"b\"}}\n",
        "{\"update\":{\"_id\":\"c\",\"_index\":\"other\"}}\n{\"doc\":{\"n\":3}}\n",
        "{\"create\":{\"_id\":\"d\"}}\n{\"n\":4}\n"
    );

    #[test]
    fn split_keeps_order_and_delete_is_one_line() {
        let items = split(BODY.as_bytes()).unwrap();
        let ids: Vec<_> = items.iter().map(|i| i.id.clone().unwrap()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        let actions: Vec<_> = items.iter().map(|i| i.action.as_str()).collect();
        assert_eq!(actions, ["index", "delete", "update", "create"]);
        assert_eq!(items[1].lines, b"{\"delete\":{\"_id\":\"b\"}}\n");
        assert_eq!(items[2].index.as_deref(), Some("other"));
        assert_eq!(join(&items, &[true; 4]), BODY.as_bytes());
    }

    #[test]
    fn join_drops_rejected_items_and_merge_puts_answers_back_in_place() {
        let items = split(BODY.as_bytes()).unwrap();
        let rejected = [false, true, true, false];
        let keep: Vec<bool> = rejected.iter().map(|r| !r).collect();
        assert_eq!(
            String::from_utf8(join(&items, &keep)).unwrap(),
            "{\"index\":{\"_id\":\"a\"}}\n{\"n\":1}\n{\"create\":{\"_id\":\"d\"}}\n{\"n\":4}\n"
        );
        let upstream = json!({"took": 7, "errors": false, "items": [
            {"index": {"_id": "a", "status": 201}},
            {"create": {"_id": "d", "status": 201}}
        ]});
        let merged = merge(&items, &rejected, Some(&upstream), "docs").unwrap();
        assert_eq!(merged["errors"], true);
        assert_eq!(merged["took"], 7);
        let got: Vec<(String, u64)> = merged["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let (k, v) = i.as_object().unwrap().iter().next().unwrap();
                (
                    format!("{k}:{}", v["_id"].as_str().unwrap()),
                    v["status"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("index:a".to_string(), 201),
                ("delete:b".to_string(), 429),
                ("update:c".to_string(), 429),
                ("create:d".to_string(), 201)
            ]
        );
        assert_eq!(
            merged["items"][2]["update"]["error"]["type"],
            "es_rejected_execution_exception"
        );
        assert_eq!(merged["items"][2]["update"]["_index"], "other");
        assert_eq!(merged["items"][1]["delete"]["_index"], "docs");
    }

    #[test]
    fn everything_rejected_needs_no_upstream_and_a_short_answer_is_an_error() {
        let items = split(BODY.as_bytes()).unwrap();
        let merged = merge(&items, &[true; 4], None, "docs").unwrap();
        assert_eq!(merged["items"].as_array().unwrap().len(), 4);
        let short = json!({"items": [{"index": {"status": 201}}]});
        assert!(merge(&items, &[false; 4], Some(&short), "docs").is_err());
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert!(split(b"{\"index\":{}}\n").is_err());
        assert!(split(b"not json\n").is_err());
        assert!(split(b"{\"a\":1,\"b\":2}\n{}\n").is_err());
        assert!(split(b"\n\n").unwrap().is_empty());
    }
}
