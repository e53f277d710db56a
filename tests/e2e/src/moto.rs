//! An S3 server for the S3 source's tests: moto in server mode (PyPI `moto[server]`, a real S3
//! implementation nobody on this project wrote), seeded and read through boto3 by
//! `tests/e2e/s3_fixture.py`.
//!
//! Two modes:
//! - [`Moto::start`]: any access key is accepted and signatures are not checked. moto's own
//!   signature check mis-computes the canonical path of keys with `+`, `%` or non-ASCII
//!   characters (boto3's own uploads of such keys are refused), so tests of awkward keys run
//!   in this mode.
//! - [`Moto::start_with_auth`]: moto checks every SigV4 signature and IAM policy; the fixture
//!   creates the users `seeder` (s3:*), `reader` (s3:ListBucket + s3:GetObject only) and
//!   `nobody` (no policy) in moto's unauthenticated-action budget, before anything else.
//!
//! `MOTO_SERVER_BIN` overrides the `moto_server` executable, `PYTHON` the interpreter.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{kill_child, repo_root, wait_for};

/// Unauthenticated actions the fixture's `users` command spends (`USERS_ACTIONS` there).
const USERS_ACTIONS: u32 = 8;

/// The region moto and the fixture use.
pub const REGION: &str = "us-east-1";

/// An access key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl AccessKey {
    fn from_json(v: &Value) -> Result<AccessKey> {
        Ok(AccessKey {
            access_key_id: v["access_key_id"]
                .as_str()
                .context("access_key_id")?
                .to_string(),
            secret_access_key: v["secret_access_key"]
                .as_str()
                .context("secret_access_key")?
                .to_string(),
        })
    }

    fn to_json(&self) -> Value {
        json!({"access_key_id": self.access_key_id, "secret_access_key": self.secret_access_key})
    }
}

/// The IAM users of a [`Moto::start_with_auth`] server.
#[derive(Debug, Clone)]
pub struct Users {
    /// s3:* — seeds buckets.
    pub seeder: AccessKey,
    /// Only s3:ListBucket and s3:GetObject: what the S3 source documents as enough.
    pub reader: AccessKey,
    /// No policy at all.
    pub nobody: AccessKey,
}

/// One object as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    /// The S3 source's document id for this object, computed by the fixture (SHA-256 of
    /// `<bucket>/<key>`), independently of the component.
    pub id: String,
    pub key: String,
    /// Without quotes.
    pub etag: String,
    pub size: u64,
    /// `YYYY-MM-DDTHH:MM:SS`, UTC.
    pub last_modified: String,
    pub storage_class: Option<String>,
}

/// A running `moto_server`; killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT` (path-style S3 endpoint).
    pub url: String,
    /// Set in [`Moto::start_with_auth`] mode.
    pub users: Option<Users>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// The `moto_server` executable.
pub fn moto_bin() -> PathBuf {
    std::env::var_os("MOTO_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("moto_server"))
}

/// The Python interpreter that has boto3.
pub fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `tests/e2e/s3_fixture.py`.
pub fn fixture_script() -> PathBuf {
    repo_root().join("tests/e2e/s3_fixture.py")
}

/// A port nothing listens on right now. moto cannot bind port 0 and report the port, so a
/// short race remains; [`Moto::spawn`] retries on another port if it loses it.
fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a probe socket")?;
    Ok(l.local_addr()?.port())
}

impl Moto {
    /// Start moto without signature checks (any key works).
    pub fn start() -> Result<Moto> {
        Self::spawn(None)
    }

    /// Start moto checking SigV4 signatures and IAM policies; creates [`Users`].
    pub fn start_with_auth() -> Result<Moto> {
        let mut moto = Self::spawn(Some(USERS_ACTIONS))?;
        let v = moto.script("users", &json!({"endpoint": moto.url}))?;
        moto.users = Some(Users {
            seeder: AccessKey::from_json(&v["seeder"])?,
            reader: AccessKey::from_json(&v["reader"])?,
            nobody: AccessKey::from_json(&v["nobody"])?,
        });
        Ok(moto)
    }

    fn spawn(no_auth_actions: Option<u32>) -> Result<Moto> {
        let mut last_err = None;
        for _ in 0..3 {
            match Self::spawn_once(no_auth_actions) {
                Ok(m) => return Ok(m),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("moto_server did not start")))
    }

    fn spawn_once(no_auth_actions: Option<u32>) -> Result<Moto> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("moto.log");
        let port = free_port()?;
        let mut cmd = Command::new(moto_bin());
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(dir.path().join("moto.err"))?)
            .env_remove("INITIAL_NO_AUTH_ACTION_COUNT");
        if let Some(n) = no_auth_actions {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
        }
        let mut child = cmd.spawn().with_context(|| {
            format!(
                "starting {} (pip install \"moto[server]\" boto3, or set MOTO_SERVER_BIN)",
                moto_bin().display()
            )
        })?;
        let addr = format!("127.0.0.1:{port}");
        // A TCP connect, not an HTTP request: any S3 request would spend moto's budget of
        // unauthenticated actions.
        let up = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(Err(status));
            }
            TcpStream::connect(&addr).ok().map(|_| Ok(()))
        });
        let err = std::fs::read_to_string(dir.path().join("moto.err")).unwrap_or_default();
        match up {
            Some(Ok(())) => Ok(Moto {
                child,
                url: format!("http://{addr}"),
                users: None,
                log,
                _dir: dir,
            }),
            Some(Err(status)) => bail!("moto_server exited ({status}) on port {port}: {err}"),
            None => {
                kill_child(&mut child);
                bail!("moto_server did not listen on {addr} within 30 s: {err}")
            }
        }
    }

    /// moto's request log so far (for failure messages).
    pub fn log(&self) -> String {
        let mut s = std::fs::read_to_string(&self.log).unwrap_or_default();
        if let Some(dir) = self.log.parent() {
            s.push_str(&std::fs::read_to_string(dir.join("moto.err")).unwrap_or_default());
        }
        s
    }

    /// The key that may write (the `seeder` user, or any key without auth).
    pub fn writer_key(&self) -> AccessKey {
        match &self.users {
            Some(u) => u.seeder.clone(),
            None => AccessKey {
                access_key_id: "AKIAMOTOTESTWRITER01".into(),
                secret_access_key: "moto-test-writer-secret".into(),
            },
        }
    }

    /// Run a fixture command with a JSON request; returns its JSON answer.
    pub fn script(&self, command: &str, request: &Value) -> Result<Value> {
        use std::io::Write;
        let mut child = Command::new(python())
            .arg(fixture_script())
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {} {command}", fixture_script().display()))?;
        child
            .stdin
            .take()
            .context("fixture stdin")?
            .write_all(request.to_string().as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "s3_fixture.py {command} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "s3_fixture.py {command} printed no JSON: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Apply `buckets` (the fixture's `apply` list) with the writer key.
    pub fn apply(&self, buckets: Value) -> Result<Value> {
        self.script(
            "apply",
            &json!({"endpoint": self.url, "credentials": self.writer_key().to_json(), "buckets": buckets}),
        )
    }

    pub fn create_bucket(&self, bucket: &str) -> Result<()> {
        self.apply(json!([{"name": bucket, "create": true}]))
            .map(drop)
    }

    /// Put objects (`{"key", "content" | "content_base64", "content_type"?, "metadata"?}`).
    pub fn put(&self, bucket: &str, objects: Value) -> Result<()> {
        self.apply(json!([{"name": bucket, "put": objects}]))
            .map(drop)
    }

    pub fn delete(&self, bucket: &str, keys: &[&str]) -> Result<()> {
        self.apply(json!([{"name": bucket, "delete": keys}]))
            .map(drop)
    }

    /// Put `count` small text objects `<prefix><NNNNNN>.txt` (from `start`); returns seconds.
    pub fn generate(&self, bucket: &str, prefix: &str, start: u64, count: u64) -> Result<f64> {
        let v = self.apply(json!([{
            "name": bucket,
            "generate": {"prefix": prefix, "start": start, "count": count}
        }]))?;
        Ok(v["seconds"].as_f64().unwrap_or_default())
    }

    /// The floor a benchmark compares with: boto3 lists `bucket`, then GETs every object with
    /// 16 threads. Returns (seconds to list, seconds to list and fetch everything).
    pub fn fetch_all(&self, bucket: &str) -> Result<(f64, f64)> {
        let v = self.script(
            "fetch",
            &json!({"endpoint": self.url, "credentials": self.writer_key().to_json(), "bucket": bucket}),
        )?;
        Ok((
            v["list_seconds"].as_f64().context("list_seconds")?,
            v["seconds"].as_f64().context("seconds")?,
        ))
    }

    /// Every object of `bucket` under `prefix`, as the server lists it.
    pub fn truth(&self, bucket: &str, prefix: &str) -> Result<Vec<S3Object>> {
        let v = self.script(
            "truth",
            &json!({"endpoint": self.url, "credentials": self.writer_key().to_json(), "bucket": bucket, "prefix": prefix}),
        )?;
        let objects = v["objects"].as_array().context("truth.objects")?;
        objects
            .iter()
            .map(|o| {
                Ok(S3Object {
                    id: o["id"].as_str().context("id")?.to_string(),
                    key: o["key"].as_str().context("key")?.to_string(),
                    etag: o["etag"].as_str().context("etag")?.to_string(),
                    size: o["size"].as_u64().context("size")?,
                    last_modified: o["last_modified"]
                        .as_str()
                        .context("last_modified")?
                        .to_string(),
                    storage_class: o["storage_class"].as_str().map(str::to_string),
                })
            })
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}
