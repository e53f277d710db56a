//! Basic sync rules end to end: rules decide which documents are indexed, in order; a rule
//! that now excludes a document removes it (after a change of rules, the next run looks at
//! everything again); bad rules are refused with the rule and the fix named; `check --count`
//! says what each rule selects on the live account.
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tributary_e2e::{Emulator, SearchServer, Tenant};

fn manifest() -> Value {
    json!({
        "folders": ["/Keep", "/Drop"],
        "files": [
            {"path": "/Keep/a.txt", "content": "alpha"},
            {"path": "/Keep/b.tmp", "content": "scratch in keep"},
            {"path": "/Drop/c.txt", "content": "gamma"},
            {"path": "/Drop/d.md", "content": "delta"},
            {"path": "/root.tmp", "content": "scratch at the root"},
            {"path": "/big.txt", "content": "x".repeat(5000)}
        ]
    })
}

fn rules(list: &[(&str, &str, &str, &str)]) -> toml::Value {
    toml::Value::Array(
        list.iter()
            .map(|(field, rule, value, policy)| {
                let mut t = toml::Table::new();
                t.insert("field".into(), (*field).into());
                t.insert("rule".into(), (*rule).into());
                t.insert("value".into(), (*value).into());
                t.insert("policy".into(), (*policy).into());
                toml::Value::Table(t)
            })
            .collect(),
    )
}

fn indexed_paths(es: &SearchServer, t: &Tenant) -> anyhow::Result<BTreeSet<String>> {
    Ok(es
        .all_docs(&t.index)?
        .values()
        .filter_map(|d| d["file_path"].as_str().map(String::from))
        .collect())
}

fn set_rules(t: &mut Tenant, list: &[(&str, &str, &str, &str)]) -> anyhow::Result<()> {
    t.config.insert("rules".into(), rules(list));
    t.write()
}

#[test]
fn rules_decide_in_order_and_a_change_of_rules_adds_and_removes_documents() -> anyhow::Result<()> {
    let emu = Emulator::with_manifest(&manifest(), &[])?;
    let es = SearchServer::start()?;
    let mut t = Tenant::new(&emu, &es)?;
    // Everything under /Keep stays (first rule), other .tmp files go, large files go.
    set_rules(
        &mut t,
        &[
            ("path_lower", "starts_with", "/keep/", "include"),
            ("extension", "equals", "tmp", "exclude"),
            ("size", ">", "1000", "exclude"),
            ("name", "regex", "[cd]\\.", "exclude"),
        ],
    )?;
    let report = t.sync_ok()?;
    let got = indexed_paths(&es, &t)?;
    let want: BTreeSet<String> = ["/Keep", "/Drop", "/Keep/a.txt", "/Keep/b.tmp"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(got, want, "{report}");
    assert_eq!(report["excluded"], 4, "{report}");
    let counts: Vec<u64> = report["rules"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x["documents"].as_u64()).collect())
        .unwrap_or_default();
    // /Keep/a.txt and /Keep/b.tmp by rule 0; /root.tmp by 1; /big.txt by 2; c.txt, d.md by 3;
    // the two folders by the default.
    assert_eq!(counts, vec![2, 1, 1, 2, 2], "{report}");

    // New rules: .tmp files are fine now, markdown is not. The next run is a full one and
    // converges on the new rules without a --full.
    set_rules(&mut t, &[("extension", "equals", "md", "exclude")])?;
    let report = t.sync_ok()?;
    assert_eq!(report["mode"], "full", "{report}");
    let got = indexed_paths(&es, &t)?;
    assert!(got.contains("/root.tmp") && got.contains("/big.txt") && got.contains("/Drop/c.txt"));
    assert!(
        !got.contains("/Drop/d.md"),
        "an excluded document stayed: {got:?}"
    );

    // A delta: a new file a rule excludes never appears; an edit that makes a kept file
    // excluded (a rename to .md) removes it.
    emu.upload("/new.md", b"fresh markdown")?;
    emu.move_path("/Keep/a.txt", "/Keep/a.md")?;
    let report = t.sync_ok()?;
    assert_eq!(report["mode"], "incremental", "{report}");
    let got = indexed_paths(&es, &t)?;
    assert!(
        !got.contains("/new.md") && !got.contains("/Keep/a.md") && !got.contains("/Keep/a.txt"),
        "{got:?}"
    );
    Ok(())
}

#[test]
fn bad_rules_are_refused_naming_the_rule_and_check_counts_what_rules_select() -> anyhow::Result<()>
{
    let emu = Emulator::with_manifest(&manifest(), &[])?;
    let es = SearchServer::start()?;
    let mut t = Tenant::new(&emu, &es)?;
    set_rules(&mut t, &[("name", "regex", "([", "exclude")])?;
    let run = t.sync(&[])?;
    run.expect_code(2)?;
    assert!(
        run.stderr.contains("rules[0].value") && run.stderr.contains("regular expression"),
        "{}",
        run.describe()
    );
    set_rules(&mut t, &[("name", "resembles", "x", "exclude")])?;
    let run = t.sync(&[])?;
    run.expect_code(2)?;
    assert!(run.stderr.contains("rules[0].rule"), "{}", run.describe());

    set_rules(&mut t, &[("extension", "equals", "tmp", "exclude")])?;
    let cfg = t.config_path.to_string_lossy().to_string();
    let check = tributary_e2e::tributary(&["check", "--config", &cfg, "--count"], &[])?;
    check.expect_code(0)?;
    assert!(
        check.stdout.contains("2 excluded by the rules")
            && check.stdout.contains("exclude extension equals \"tmp\""),
        "{}",
        check.describe()
    );
    // Counting indexes nothing.
    assert!(es.all_docs(&t.index).map(|d| d.is_empty()).unwrap_or(true));
    Ok(())
}
