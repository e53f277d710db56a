//! The S3 source (`s3.wasm`) against moto (a real S3 implementation started by the test) and
//! osmem-server: full sync equals the bucket's truth, changes between runs converge, content is
//! searchable, 10,000+ keys, awkward keys, credentials checked by moto, and the secret key
//! never reaching the index, the logs or the report.
//!
//! Needs `tributary` (cargo build -p tributary), `s3.wasm` in the component directory
//! (`make components`), `moto_server` + boto3 (`make setup`) and osmem-server.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tributary_e2e::moto::{AccessKey, Moto, REGION, S3Object};
use tributary_e2e::{Run, SearchServer, Tenant, unique, urlencode, wait_for};

/// Awkward keys: spaces, `+`, `%`, `~`, non-ASCII, reserved URL characters, a folder marker.
const AWKWARD_KEYS: &[&str] = &[
    "a b/space name.txt",
    "plus+sign.md",
    "percent%41 literal.txt",
    "tilde~x.txt",
    "日本語/ファイル.txt",
    "emoji 🚀 launch.md",
    "q?x=1&y#z.txt",
    "deep/er/than/that/file.csv",
    "folder/",
];

/// A distinctive word for the content of `key` (searchable once extracted).
fn word_for(key: &str) -> String {
    let n: u32 = key.bytes().map(u32::from).sum::<u32>() * 31 + key.len() as u32;
    format!("zebra{n}quokka")
}

fn content_for(key: &str) -> String {
    format!("Content of the object.\n\n{} lives here.\n", word_for(key))
}

/// A tenant syncing `bucket` of `moto` with `key`, into a fresh index of `es`.
fn s3_tenant(
    moto: &Moto,
    es: &SearchServer,
    bucket: &str,
    key: &AccessKey,
    extra: Value,
) -> Result<Tenant> {
    let tenant = unique("s3");
    let index = format!("s3-{tenant}");
    let state_index = format!("tributary-state-{tenant}");
    let mut source = json!({
        "bucket": bucket,
        "endpoint": moto.url,
        "path_style": true,
        "region": REGION,
        "access_key_id": key.access_key_id,
        "secret_access_key": key.secret_access_key,
    });
    if let (Some(s), Value::Object(e)) = (source.as_object_mut(), extra) {
        s.extend(e);
    }
    let config = json!({
        "tenant": tenant,
        "connector": "s3",
        "source": source,
        "elasticsearch": {"url": es.url, "index": index, "state_index": state_index},
        "content": {"max_bytes": 10_485_760},
    });
    let config: toml::Table = serde_json::from_value(config)?;
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join(format!("{tenant}.toml"));
    let t = Tenant {
        dir,
        config_path,
        tenant,
        index,
        state_index,
        config,
        es_url: es.url.clone(),
    };
    t.write()?;
    Ok(t)
}

/// The name the S3 source gives a key (last non-empty `/` segment).
fn expected_name(key: &str) -> &str {
    let trimmed = key.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Assert the index holds exactly one document per object of the bucket (under `prefix`),
/// with the right fields, and nothing else. Returns the documents by key.
fn assert_index_equals_bucket(
    moto: &Moto,
    es: &SearchServer,
    t: &Tenant,
    bucket: &str,
    prefix: &str,
) -> Result<BTreeMap<String, Value>> {
    let truth: Vec<S3Object> = moto.truth(bucket, prefix)?;
    let docs = es.all_docs(&t.index)?;
    let mut problems = Vec::new();
    let mut by_key = BTreeMap::new();
    for o in &truth {
        let Some(d) = docs.get(&o.id) else {
            problems.push(format!("missing: {:?} (id {})", o.key, o.id));
            continue;
        };
        let folder = o.key.ends_with('/');
        let expect = [
            ("id", json!(o.id)),
            ("bucket", json!(bucket)),
            ("key", json!(o.key)),
            ("name", json!(expected_name(&o.key))),
            ("size", json!(o.size)),
            ("etag", json!(o.etag)),
            ("type", json!(if folder { "folder" } else { "file" })),
            ("source", json!("s3")),
        ];
        for (field, want) in expect {
            if d[field] != want {
                problems.push(format!("{:?}: {field} = {} (want {want})", o.key, d[field]));
            }
        }
        if let Some(sc) = &o.storage_class
            && d["storage_class"] != json!(sc)
        {
            problems.push(format!(
                "{:?}: storage_class = {}",
                o.key, d["storage_class"]
            ));
        }
        let lm = d["last_modified"].as_str().unwrap_or_default();
        if !lm.starts_with(&o.last_modified) {
            problems.push(format!(
                "{:?}: last_modified {lm:?} is not {}",
                o.key, o.last_modified
            ));
        }
        by_key.insert(o.key.clone(), d.clone());
    }
    let truth_ids: std::collections::BTreeSet<&str> = truth.iter().map(|o| o.id.as_str()).collect();
    for (id, d) in &docs {
        if !truth_ids.contains(id.as_str()) {
            problems.push(format!("extra document {id}: key {}", d["key"]));
        }
    }
    if !problems.is_empty() {
        bail!(
            "index {} differs from bucket {bucket} ({} objects, {} documents):\n  {}",
            t.index,
            truth.len(),
            docs.len(),
            problems
                .iter()
                .take(40)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    Ok(by_key)
}

fn expect_ok(run: &Run) -> Result<Value> {
    run.expect_ok()?;
    run.report.clone().context("no --report JSON")
}

#[test]
fn the_moto_fixture_lists_back_what_it_put() -> Result<()> {
    let moto = Moto::start()?;
    moto.create_bucket("fixture")?;
    let objects: Vec<_> = AWKWARD_KEYS
        .iter()
        .map(|k| json!({"key": k, "content": content_for(k)}))
        .collect();
    moto.put("fixture", json!(objects))?;
    let truth = moto.truth("fixture", "")?;
    let mut keys: Vec<&str> = truth.iter().map(|o| o.key.as_str()).collect();
    keys.sort_unstable();
    let mut expected = AWKWARD_KEYS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    for o in &truth {
        assert_eq!(o.size, content_for(&o.key).len() as u64, "{}", o.key);
        assert_eq!(o.etag.len(), 32, "{}: single-part ETag is an MD5", o.key);
        assert_eq!(o.id.len(), 64);
    }
    moto.delete("fixture", &["plus+sign.md"])?;
    assert_eq!(moto.truth("fixture", "")?.len(), AWKWARD_KEYS.len() - 1);
    assert_eq!(moto.truth("fixture", "a b/")?.len(), 1);
    Ok(())
}

#[test]
fn moto_with_auth_checks_keys_and_policies() -> Result<()> {
    let moto = Moto::start_with_auth()?;
    let users = moto.users.clone().context("auth mode has users")?;
    moto.create_bucket("authz")?;
    moto.put("authz", json!([{"key": "a b.txt", "content": "x"}]))?;
    let list = |key: &AccessKey| {
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

#[test]
fn full_sync_of_awkward_keys_equals_the_bucket_and_content_is_searchable() -> Result<()> {
    let moto = Moto::start()?;
    let es = SearchServer::start()?;
    moto.create_bucket("awkward")?;
    let mut objects: Vec<Value> = AWKWARD_KEYS
        .iter()
        .map(|k| json!({"key": k, "content": content_for(k)}))
        .collect();
    objects.push(json!({
        "key": "with metadata.bin",
        "content": content_for("with metadata.bin"),
        "content_type": "text/plain",
        "metadata": {"author": "Ada Lovelace", "project": "engine"}
    }));
    moto.put("awkward", json!(objects))?;
    let t = s3_tenant(
        &moto,
        &es,
        "awkward",
        &moto.writer_key(),
        json!({"fetch_metadata": true, "page_size": 4}),
    )?;

    let report = expect_ok(&t.sync(&[])?)?;
    let docs = assert_index_equals_bucket(&moto, &es, &t, "awkward", "")?;
    assert_eq!(report["seen"], json!(AWKWARD_KEYS.len() + 1), "{report}");

    // User metadata and Content-Type from HeadObject.
    let meta = &docs["with metadata.bin"];
    assert_eq!(meta["metadata"]["author"], "Ada Lovelace", "{meta}");
    assert_eq!(meta["metadata"]["project"], "engine");
    assert_eq!(meta["mime_type"], "text/plain");
    assert_eq!(docs["folder/"]["type"], "folder");
    assert_eq!(docs["日本語/ファイル.txt"]["folder"], "日本語");

    // Each object's `url` is its path-style URL, every key segment RFC 3986-encoded. (moto
    // refuses unsigned GETs, so the URL is checked by value; the content requests use the
    // same URL, and the searches below prove they fetched the right objects.)
    for (key, d) in &docs {
        let encoded: Vec<String> = key.split('/').map(urlencode).collect();
        let want = format!("{}/awkward/{}", moto.url, encoded.join("/"));
        assert_eq!(d["url"], json!(want), "url of {key:?}");
    }

    // The text of every file, awkward names included, is searchable.
    for key in AWKWARD_KEYS.iter().filter(|k| !k.ends_with('/')) {
        let hits = es.find_text(&t.index, &word_for(key))?;
        assert_eq!(
            hits,
            vec![docs[*key]["id"].as_str().unwrap_or_default().to_string()],
            "search for the content of {key:?}"
        );
    }
    Ok(())
}

#[test]
fn deletes_adds_and_edits_between_runs_converge_and_unchanged_content_is_not_downloaded()
-> Result<()> {
    let moto = Moto::start()?;
    let es = SearchServer::start()?;
    moto.create_bucket("changes")?;
    let keys = [
        "keep.txt",
        "edit.md",
        "gone one.txt",
        "sub/gone+two.txt",
        "sub/keep 2.txt",
    ];
    let objects: Vec<Value> = keys
        .iter()
        .map(|k| json!({"key": k, "content": content_for(k)}))
        .collect();
    moto.put("changes", json!(objects))?;
    let t = s3_tenant(
        &moto,
        &es,
        "changes",
        &moto.writer_key(),
        json!({"page_size": 2}),
    )?;
    let first = expect_ok(&t.sync(&[])?)?;
    assert_eq!(first["downloads"], json!(keys.len()), "{first}");
    assert_index_equals_bucket(&moto, &es, &t, "changes", "")?;

    // Unchanged bucket: nothing downloaded again, nothing deleted.
    let again = expect_ok(&t.sync(&[])?)?;
    assert_eq!(again["downloads"], json!(0), "{again}");
    assert_eq!(again["unchanged_content"], json!(keys.len()), "{again}");
    assert_eq!(again["purged"], json!(0), "{again}");

    moto.delete("changes", &["gone one.txt", "sub/gone+two.txt"])?;
    moto.put(
        "changes",
        json!([
            {"key": "edit.md", "content": "rewritten: platypus appears now"},
            {"key": "new/added é.txt", "content": content_for("new/added é.txt")},
        ]),
    )?;
    let third = expect_ok(&t.sync(&[])?)?;
    let docs = assert_index_equals_bucket(&moto, &es, &t, "changes", "")?;
    assert_eq!(third["purged"], json!(2), "{third}");
    assert_eq!(
        third["downloads"],
        json!(2),
        "only the edited and the added object: {third}"
    );
    assert!(docs.contains_key("new/added é.txt"));
    assert!(!docs.contains_key("gone one.txt"));
    let edited = docs["edit.md"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(es.find_text(&t.index, "platypus")?, vec![edited]);
    assert!(es.find_text(&t.index, &word_for("edit.md"))?.is_empty());
    Ok(())
}

#[test]
fn an_interrupted_listing_resumes_from_its_continuation_token() -> Result<()> {
    const OBJECTS: u64 = 3000;
    let moto = Moto::start()?;
    let es = SearchServer::start()?;
    moto.create_bucket("resume")?;
    moto.generate("resume", "k/", 0, OBJECTS)?;
    let t = s3_tenant(
        &moto,
        &es,
        "resume",
        &moto.writer_key(),
        json!({"page_size": 30}),
    )?;
    // Kill the run (like a crash: no cleanup) as soon as it has committed a checkpoint in the
    // middle of the listing, i.e. one carrying a continuation token.
    let mut first = t.spawn("sync", &["--quiet"], &[])?;
    let committed_token = wait_for(Duration::from_secs(120), Duration::from_millis(20), || {
        let state = t.state_doc(&es).ok()??;
        let cp: Value = serde_json::from_str(state["checkpoint"].as_str()?).ok()?;
        cp["token"].as_str().map(str::to_string)
    });
    let _ = first.child.kill();
    let killed = first.wait(Duration::from_secs(30))?;
    let token = committed_token.with_context(|| {
        format!(
            "the run never committed a checkpoint in the middle of the listing\n{}",
            killed.describe()
        )
    })?;
    assert!(killed.code != Some(0), "{}", killed.describe());
    let run = t.sync(&[])?;
    let report = expect_ok(&run)?;
    assert!(
        run.stderr.contains("resuming the listing"),
        "{}",
        run.describe()
    );
    let seen = report["seen"].as_u64().unwrap_or(u64::MAX);
    assert!(
        seen < OBJECTS,
        "the rerun listed {seen} objects after token {token:?}: it started over: {report}"
    );
    assert_index_equals_bucket(&moto, &es, &t, "resume", "")?;
    Ok(())
}

#[test]
fn the_prefix_bounds_the_index() -> Result<()> {
    let moto = Moto::start()?;
    let es = SearchServer::start()?;
    moto.create_bucket("prefixed")?;
    moto.put(
        "prefixed",
        json!([
            {"key": "reports/2024 q1.txt", "content": "in"},
            {"key": "reports/2024/q2.txt", "content": "in"},
            {"key": "reports+old/q3.txt", "content": "out"},
            {"key": "other.txt", "content": "out"},
        ]),
    )?;
    let t = s3_tenant(
        &moto,
        &es,
        "prefixed",
        &moto.writer_key(),
        json!({"prefix": "reports/"}),
    )?;
    expect_ok(&t.sync(&[])?)?;
    let docs = assert_index_equals_bucket(&moto, &es, &t, "prefixed", "reports/")?;
    assert_eq!(docs.len(), 2);
    Ok(())
}

/// 10,000+ keys over 11 pages; prints objects/s (the issue 8 benchmark figure).
#[test]
fn ten_thousand_keys_sync_completely() -> Result<()> {
    let n: u64 = std::env::var("S3_E2E_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_500);
    let moto = Moto::start()?;
    let es = SearchServer::start()?;
    moto.create_bucket("big")?;
    let seeded = moto.generate("big", "bulk/", 0, n)?;
    moto.put(
        "big",
        json!(
            AWKWARD_KEYS
                .iter()
                .map(|k| json!({"key": format!("awkward/{k}"), "content": content_for(k)}))
                .collect::<Vec<_>>()
        ),
    )?;
    let total = n + AWKWARD_KEYS.len() as u64;
    eprintln!("seeded {n} objects in {seeded:.1} s");
    let t = s3_tenant(&moto, &es, "big", &moto.writer_key(), json!({}))?;

    let started = Instant::now();
    let first = t.sync(&[])?;
    let synced_secs = started.elapsed().as_secs_f64();
    let first = expect_ok(&first)?;
    assert_eq!(first["seen"], json!(total), "{first}");
    assert_eq!(
        first["downloads"],
        json!(total - 1),
        "every file, not the folder: {first}"
    );
    assert_eq!(es.count(&t.index)?, total);

    let started = Instant::now();
    let second = t.sync(&[])?;
    let listed_secs = started.elapsed().as_secs_f64();
    let second = expect_ok(&second)?;
    assert_eq!(second["downloads"], json!(0), "{second}");
    assert_eq!(second["purged"], json!(0), "{second}");
    assert_index_equals_bucket(&moto, &es, &t, "big", "")?;
    let (floor_list, floor_fetch) = moto.fetch_all("big")?;
    eprintln!(
        "S3 from moto: {total} objects synced with content in {synced_secs:.1} s ({:.0} objects/s); \
         listed again unchanged in {listed_secs:.1} s ({:.0} objects/s)",
        total as f64 / synced_secs,
        total as f64 / listed_secs
    );
    eprintln!(
        "S3 floor (boto3, 16 threads, same moto): listed in {floor_list:.1} s ({:.0} objects/s); \
         listed and fetched in {floor_fetch:.1} s ({:.0} objects/s)",
        total as f64 / floor_list,
        total as f64 / floor_fetch
    );
    Ok(())
}

/// moto checks every signature and IAM policy: the host's SigV4 must be right, keys with
/// spaces and `~` included, and the documented permissions must be enough. S3 signs the path
/// as sent: percent-encoded once and not normalised (aws-sigv4's `PercentEncodingMode::Single`
/// and `UriPathNormalizationMode::Disabled`, which the AWS SDK sets for S3); the signer's
/// defaults (double encoding) make the HeadObject/GetObject of `with space/file name.md` fail.
#[test]
fn a_reader_with_only_list_and_get_syncs_through_checked_signatures() -> Result<()> {
    let moto = Moto::start_with_auth()?;
    let users = moto.users.clone().context("auth mode has users")?;
    let es = SearchServer::start()?;
    moto.create_bucket("signed")?;
    let keys = [
        "plain.txt",
        "with space/file name.md",
        "tilde~and-dash_.txt",
        "folder/",
    ];
    moto.put(
        "signed",
        json!(
            keys.iter()
                .map(|k| json!({"key": k, "content": content_for(k)}))
                .collect::<Vec<_>>()
        ),
    )?;
    let t = s3_tenant(
        &moto,
        &es,
        "signed",
        &users.reader,
        json!({"fetch_metadata": true, "page_size": 2}),
    )?;
    let check = t.check()?;
    check.expect_code(0)?;
    assert!(
        check.stdout.contains("readable") || check.stderr.contains("readable"),
        "{}",
        check.describe()
    );
    expect_ok(&t.sync(&[])?)?;
    let docs = assert_index_equals_bucket(&moto, &es, &t, "signed", "")?;
    let id = docs["with space/file name.md"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        es.find_text(&t.index, &word_for("with space/file name.md"))?,
        vec![id]
    );
    Ok(())
}

#[test]
fn rejected_credentials_name_the_field_to_fix() -> Result<()> {
    let moto = Moto::start_with_auth()?;
    let users = moto.users.clone().context("auth mode has users")?;
    let es = SearchServer::start()?;
    moto.create_bucket("locked")?;
    moto.put("locked", json!([{"key": "a.txt", "content": "a"}]))?;

    let mut wrong_secret = users.reader.clone();
    wrong_secret.secret_access_key = "not-the-secret-at-all".into();
    let unknown_key = AccessKey {
        access_key_id: "AKIAUNKNOWNUNKNOWN00".into(),
        secret_access_key: "whatever".into(),
    };
    let cases: [(&AccessKey, &str, &str); 3] = [
        (&users.nobody, "locked", "s3:ListBucket"),
        (&wrong_secret, "locked", "secret_access_key"),
        (&unknown_key, "locked", "access_key_id"),
    ];
    for (key, bucket, says) in cases {
        let t = s3_tenant(&moto, &es, bucket, key, json!({}))?;
        let run = t.sync(&[])?;
        assert_eq!(
            run.code,
            Some(3),
            "credentials rejected: {}",
            run.describe()
        );
        assert!(
            run.stderr.contains(says) || run.stdout.contains(says),
            "expected a message naming {says}: {}",
            run.describe()
        );
        assert!(!run.stderr.contains(&key.secret_access_key));
    }
    let t = s3_tenant(&moto, &es, "no-such-bucket", &users.reader, json!({}))?;
    let run = t.check()?;
    assert!(run.code != Some(0), "{}", run.describe());
    assert!(
        run.stderr.contains("bucket") && run.stderr.contains("no-such-bucket"),
        "{}",
        run.describe()
    );
    Ok(())
}

/// The secret key goes to the host only: it is in no document, no log line (even at trace
/// level), no report and no checkpoint. The access key id (also a secret field) is in none of
/// them either up to debug level; at trace level the aws-sigv4 crate logs it (see below).
#[test]
fn the_secret_key_never_reaches_the_index_the_logs_or_the_report() -> Result<()> {
    let moto = Moto::start_with_auth()?;
    let users = moto.users.clone().context("auth mode has users")?;
    let es = SearchServer::start()?;
    moto.create_bucket("secrets")?;
    moto.put(
        "secrets",
        json!([{"key": "doc.txt", "content": "ordinary words"}]),
    )?;
    let secret = users.reader.secret_access_key.clone();
    let key_id = users.reader.access_key_id.clone();
    let mut t = s3_tenant(
        &moto,
        &es,
        "secrets",
        &users.reader,
        json!({"fetch_metadata": true}),
    )?;
    // Through the environment, the way a deployment would pass it.
    t.set(
        "source",
        "secret_access_key",
        toml::Value::try_from(json!({"env": "S3_E2E_SECRET"}))?,
    )?;
    let trace = [("S3_E2E_SECRET", secret.as_str()), ("RUST_LOG", "trace")];
    let debug = [("S3_E2E_SECRET", secret.as_str()), ("RUST_LOG", "debug")];
    let config = t.config_path.to_string_lossy().to_string();

    let traced = t.sync_env(&[], &trace)?;
    expect_ok(&traced)?;
    let traced_check = tributary_e2e::tributary(&["check", "--config", &config], &trace)?;
    traced_check.expect_code(0)?;
    let debugged = t.sync_env(&[], &debug)?;
    expect_ok(&debugged)?;
    let debugged_check = tributary_e2e::tributary(&["check", "--config", &config], &debug)?;
    debugged_check.expect_code(0)?;
    assert!(
        traced.stderr.contains("TRACE") && debugged.stderr.contains("DEBUG"),
        "the log levels produced no output to search:\n{}\n{}",
        traced.describe(),
        debugged.describe()
    );

    let docs = serde_json::to_string(&es.all_docs(&t.index)?)?;
    assert!(docs.contains("doc.txt"));
    let state = t.state_doc(&es)?.map(|v| v.to_string()).unwrap_or_default();
    let report = |r: &Run| r.report.clone().map(|r| r.to_string()).unwrap_or_default();
    let output = |r: &Run| format!("{}{}", r.stdout, r.stderr);
    let everything = [
        ("trace-level sync output", output(&traced)),
        ("trace-level check output", output(&traced_check)),
        ("debug-level sync output", output(&debugged)),
        ("debug-level check output", output(&debugged_check)),
        ("report", report(&traced)),
        ("state document", state),
        ("index", docs),
    ];
    for (what, text) in &everything {
        assert!(
            !text.contains(&secret),
            "the secret key appears in the {what}"
        );
        // aws-sigv4 traces its signing parameters, the access key id included (the secret is
        // redacted there): only trace-level logs may show the id.
        if what.starts_with("trace-level") {
            continue;
        }
        if let Some(at) = text.find(&key_id) {
            let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            panic!(
                "the access key id appears in the {what}: {}",
                &text[start..end]
            );
        }
    }
    Ok(())
}

#[test]
fn fields_lists_the_s3_configuration() -> Result<()> {
    let run = tributary_e2e::tributary(&["fields", "s3"], &[])?;
    run.expect_code(0)?;
    for field in [
        "bucket",
        "prefix",
        "endpoint",
        "region",
        "path_style",
        "secret_access_key",
        "fetch_metadata",
        "content_key",
    ] {
        assert!(
            run.stdout.contains(field),
            "{field} missing:\n{}",
            run.stdout
        );
    }
    Ok(())
}
