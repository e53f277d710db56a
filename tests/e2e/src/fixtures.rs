//! Manifests used by several tests.

use serde_json::{Value, json};

/// A personal account with awkward names, an empty file, a big file, binary, Paper docs and
/// received shared files. With `max_bytes = 4096`, `/Big/large.txt` (20 000 bytes) is over the limit.
pub fn awkward_manifest() -> Value {
    json!({
        "account": {"display_name": "Alice Example", "email": "alice@example.com"},
        "folders": ["/Empty folder", "/Big", "/Docs/Deep/Deeper"],
        "files": [
            {"path": "/Docs/readme.md", "content": "# Readme\n\nHello   tributary\n\n- one\n- two\n"},
            {"path": "/Docs/it's \"quoted\".txt", "content": "quotes ' \" inside"},
            {"path": "/Docs/back\\slash.txt", "content": "a back\\slash file"},
            {"path": "/Docs/emoji 🚀 launch.md", "content": "lift-off 🚀 at dawn"},
            {"path": "/Docs/Отчёт за квартал.txt", "content": "Выручка выросла на 12%"},
            {"path": "/Docs/計画書.txt", "content": "来年の計画"},
            {"path": "/Docs/تقرير.csv", "content": "عمود,قيمة\nأ,1\n"},
            {"path": "/Docs/Deep/Deeper/empty.txt", "content": ""},
            {"path": "/Docs/Deep/data.json", "content": "{\"k\": [1, 2, 3],\n  \"name\": \"value\"}"},
            {"path": "/Docs/Deep/page.html", "content": "<html><body><h1>Title</h1><p>Some   paragraph text</p></body></html>"},
            {"path": "/Docs/photo.jpg", "content_base64": "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/"},
            {"path": "/Big/large.txt", "content": "x".repeat(20_000)},
            {"path": "/space at end .txt", "content": "trailing space in name"}
        ],
        "paper": [
            {"path": "/Docs/Roadmap.paper", "markdown": "# Roadmap\n\n* Q1: ship **sync**\n* Q2: watch mode\n"}
        ],
        "received_files": [
            {"name": "Shared budget.txt", "content": "budget shared with alice", "owner": "Bob Smith"},
            {"name": "Partner notes.md", "content": "# Partner\n\nnotes from   carol", "owner": "Carol Jones"}
        ]
    })
}

/// A team account with a team folder and member folders.
pub fn team_manifest() -> Value {
    json!({
        "team": {
            "name": "Acme",
            "members": [
                {"email": "admin@acme.test", "display_name": "Ada Admin", "admin": true},
                {"email": "bob@acme.test", "display_name": "Bob Member"}
            ],
            "team_folders": [{"name": "Engineering"}, {"name": "Sales"}]
        },
        "folders": ["/Engineering/Specs"],
        "files": [
            {"path": "/Engineering/Specs/api.md", "content": "# API\n\nendpoints   here"},
            {"path": "/Sales/pipeline.csv", "content": "deal,amount\nacme,100\n"},
            {"path": "/Ada Admin/private notes.txt", "content": "admin's own notes"}
        ],
        "paper": [{"path": "/Engineering/Design.paper", "markdown": "# Design\n\nteam paper doc"}]
    })
}

/// A small personal tree for fault and crash tests.
pub fn small_manifest() -> Value {
    json!({
        "folders": ["/A", "/A/B", "/C"],
        "files": [
            {"path": "/A/one.txt", "content": "one one one"},
            {"path": "/A/B/two.md", "content": "# two\n\ntwo two"},
            {"path": "/C/three.csv", "content": "x,y\n1,2\n"},
            {"path": "/root.txt", "content": "root file"}
        ],
        "paper": [{"path": "/A/Plan.paper", "markdown": "# Plan\n\nplan body"}],
        "received_files": [{"name": "Shared.txt", "content": "shared content", "owner": "Bob Smith"}]
    })
}
