//! Issue #7: what an operator sees for mistakes: exit codes that name the field, and
//! `tributary auth` with the README's own configuration.

use anyhow::{Context, Result, ensure};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;
use tributary_e2e::*;

fn output(run: &Run) -> String {
    format!("{}\n{}", run.stdout, run.stderr)
}

#[test]
fn a_connector_file_that_is_not_a_component_is_a_config_error_naming_connector() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    let fake = w.tenant.dir.path().join("x.wasm");
    std::fs::write(&fake, "a text file, not a WebAssembly component\n")?;
    w.tenant.config.insert(
        "connector".into(),
        toml::Value::String(fake.to_string_lossy().into_owned()),
    );
    w.tenant.write()?;
    for run in [w.tenant.sync(&[])?, w.tenant.check()?] {
        run.expect_code(2)?;
        ensure!(
            run.stderr.contains("connector"),
            "the message does not name `connector`\n{}",
            run.describe()
        );
    }
    Ok(())
}

#[test]
fn an_unsupported_search_url_scheme_is_a_config_error_naming_the_field() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant
        .set("elasticsearch", "url", "ftp://127.0.0.1:9200")?;
    let run = w.tenant.sync(&[])?;
    run.expect_code(2)?;
    ensure!(
        run.stderr.contains("elasticsearch.url"),
        "the message does not name elasticsearch.url\n{}",
        run.describe()
    );
    Ok(())
}

/// The README's step 2: `refresh_token = { file = "dropbox.refresh_token" }`.
fn readme_token_line(w: &mut World) -> Result<PathBuf> {
    let mut t = toml::Table::new();
    t.insert(
        "file".into(),
        toml::Value::String("dropbox.refresh_token".into()),
    );
    w.tenant.set("source", "refresh_token", t)?;
    Ok(w.tenant.dir.path().join("dropbox.refresh_token"))
}

/// The authorize URL printed by `tributary auth`.
fn authorize_url(text: &str, emu: &Emulator) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.starts_with(&emu.url) && w.contains("/oauth2/authorize"))
        .map(String::from)
}

/// What the emulator's authorize page (which approves at once) hands the user.
fn code_from(url: &str) -> Result<String> {
    let page = http().get(url).send()?.text()?;
    Ok(page
        .split("<code id=\"auth-code\">")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .with_context(|| format!("no auth code in the page: {page}"))?
        .to_string())
}

/// `tributary auth` typed into: wait for the URL, open it, paste the code.
fn interactive_auth(w: &World) -> Result<Run> {
    let cfg = w.tenant.config_path.to_string_lossy().to_string();
    let mut auth = spawn_tributary_with(&["auth", "--config", &cfg], &[], true)?;
    let url = wait_for(
        Duration::from_secs(60),
        Duration::from_millis(50),
        || match authorize_url(&format!("{}\n{}", auth.stdout(), auth.stderr()), &w.emu) {
            Some(url) => Some(Some(url)),
            None if !auth.running() => Some(None),
            None => None,
        },
    )
    .flatten();
    let Some(url) = url else {
        let run = auth.wait(Duration::from_secs(5))?;
        anyhow::bail!("no authorize URL printed\n{}", run.describe());
    };
    let code = code_from(&url)?;
    {
        let stdin = auth.child.stdin.as_mut().context("auth stdin")?;
        stdin.write_all(format!("{code}\n").as_bytes())?;
        stdin.flush()?;
    }
    auth.wait(Duration::from_secs(60))
}

fn mode_of(path: &PathBuf) -> Result<u32> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("{} was not written", path.display()))?
        .permissions()
        .mode()
        & 0o777)
}

#[test]
fn auth_with_the_readme_token_file_line_writes_that_file_0600() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    let token_file = readme_token_line(&mut w)?;
    ensure!(!token_file.exists());
    let run = interactive_auth(&w)?;
    run.expect_code(0)?;
    ensure!(
        mode_of(&token_file)? == 0o600,
        "{} has mode {:o}, want 600",
        token_file.display(),
        mode_of(&token_file)?
    );
    ensure!(!std::fs::read_to_string(&token_file)?.trim().is_empty());
    w.tenant.sync(&[])?.expect_ok()?;
    w.assert_matches()?;
    Ok(())
}

#[test]
fn auth_makes_an_existing_world_readable_token_file_0600() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    let token_file = readme_token_line(&mut w)?;
    std::fs::write(&token_file, "stale-token-from-before\n")?;
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644))?;
    let run = interactive_auth(&w)?;
    run.expect_code(0)?;
    ensure!(
        mode_of(&token_file)? == 0o600,
        "{} has mode {:o} after auth, want 600",
        token_file.display(),
        mode_of(&token_file)?
    );
    let token = std::fs::read_to_string(&token_file)?;
    ensure!(
        !token.contains("stale-token-from-before"),
        "the token file was not rewritten"
    );
    w.tenant.sync(&[])?.expect_ok()?;
    Ok(())
}

#[test]
fn auth_in_two_steps_with_code_uses_the_url_of_the_first_step() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    let token_file = readme_token_line(&mut w)?;
    // Step 1: no terminal to paste into (stdin empty): print the URL, say how to go on.
    let first = w.tenant.command("auth", &[])?;
    println!("{}", first.describe());
    ensure!(first.code != Some(0), "{}", first.describe());
    let url = authorize_url(&output(&first), &w.emu)
        .with_context(|| format!("no authorize URL printed\n{}", first.describe()))?;
    ensure!(
        output(&first).contains("--code"),
        "step 1 must say to rerun with --code\n{}",
        first.describe()
    );
    // Step 2: the code from that URL.
    let code = code_from(&url)?;
    let second = w.tenant.command("auth", &["--code", &code])?;
    println!("{}", second.describe());
    second.expect_code(0)?;
    ensure!(
        authorize_url(&output(&second), &w.emu).is_none(),
        "step 2 printed a new authorize URL\n{}",
        second.describe()
    );
    ensure!(mode_of(&token_file)? == 0o600);
    w.tenant.sync(&[])?.expect_ok()?;
    w.assert_matches()?;
    Ok(())
}

#[test]
fn check_before_auth_exits_2_and_points_to_tributary_auth() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    readme_token_line(&mut w)?;
    let run = w.tenant.check()?;
    run.expect_code(2)?;
    ensure!(
        run.stderr.contains("tributary auth"),
        "the message does not point to `tributary auth`\n{}",
        run.describe()
    );
    Ok(())
}
