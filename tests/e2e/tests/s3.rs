//! The S3 source against moto (a real S3 implementation started by the test).

use anyhow::Result;
use serde_json::json;
use tributary_e2e::moto::Moto;

/// Awkward keys: spaces, `+`, `%`, `~`, non-ASCII, reserved URL characters, a folder marker.
const AWKWARD_KEYS: &[&str] = &[
    "a b/space name.txt",
    "plus+sign.md",
    "percent%41 literal.txt",
    "tilde~x.txt",
    "日本語/ファイル.txt",
    "emoji 🚀 launch.md",
    "q?x=1&y#z.txt",
    "folder/",
];

#[test]
fn the_moto_fixture_lists_back_what_it_put() -> Result<()> {
    let moto = Moto::start()?;
    moto.create_bucket("fixture")?;
    let objects: Vec<_> = AWKWARD_KEYS
        .iter()
        .map(|k| json!({"key": k, "content": format!("content of {k}")}))
        .collect();
    moto.put("fixture", json!(objects))?;
    let truth = moto.truth("fixture", "")?;
    let mut keys: Vec<&str> = truth.iter().map(|o| o.key.as_str()).collect();
    keys.sort_unstable();
    let mut expected = AWKWARD_KEYS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    for o in &truth {
        let content = format!("content of {}", o.key);
        assert_eq!(o.size, content.len() as u64, "{}", o.key);
        assert_eq!(o.etag.len(), 32, "{}: single-part ETag is an MD5", o.key);
    }
    moto.delete("fixture", &["plus+sign.md"])?;
    assert_eq!(moto.truth("fixture", "")?.len(), AWKWARD_KEYS.len() - 1);
    assert_eq!(moto.truth("fixture", "a b/")?.len(), 1);
    Ok(())
}

#[test]
fn moto_with_auth_checks_keys_and_policies() -> Result<()> {
    let moto = Moto::start_with_auth()?;
    let users = moto.users.clone().expect("auth mode has users");
    moto.create_bucket("authz")?;
    moto.put("authz", json!([{"key": "a b.txt", "content": "x"}]))?;
    let list = |key: &tributary_e2e::moto::AccessKey| {
        moto.script(
            "truth",
            &json!({"endpoint": moto.url, "bucket": "authz", "credentials": {
                "access_key_id": key.access_key_id, "secret_access_key": key.secret_access_key}}),
        )
    };
    assert_eq!(list(&users.reader)?["objects"][0]["key"], "a b.txt");
    let denied = list(&users.nobody).expect_err("no policy, no listing");
    assert!(format!("{denied:#}").contains("AccessDenied"), "{denied:#}");
    let mut wrong = users.reader.clone();
    wrong.secret_access_key.push('x');
    let bad = list(&wrong).expect_err("wrong secret");
    assert!(
        format!("{bad:#}").contains("SignatureDoesNotMatch"),
        "{bad:#}"
    );
    Ok(())
}
