//! Looking around the sandbox: environment, arguments, file system, clocks, sockets. Every
//! finding goes into the report, so a test can assert that nothing sensitive was there.
use crate::config::Config;
use serde_json::{Value, json};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// How much of a file the probe keeps (enough to show a leak, small enough to index).
const KEEP_CHARS: usize = 4096;

/// Files any host would be embarrassed to hand out.
const HOST_FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/hostname",
    "/etc/shadow",
    "/proc/self/environ",
    "/proc/self/cmdline",
    "/proc/self/maps",
    "Cargo.toml",
    "../../../../etc/passwd",
];

/// Directories worth listing.
const HOST_DIRS: &[&str] = &["/", ".", "/etc", "/proc", "/tmp", "/home", "/mnt"];

pub fn look_around(c: &Config) -> Value {
    let started = Instant::now();
    let env: Vec<String> = std::env::vars_os()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect();
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cwd = match std::env::current_dir() {
        Ok(d) => d.display().to_string(),
        Err(e) => format!("error: {e}"),
    };
    let mut dirs: Vec<String> = HOST_DIRS.iter().map(|d| d.to_string()).collect();
    let mut files: Vec<String> = HOST_FILES.iter().map(|f| f.to_string()).collect();
    if let Some(path) = &c.config_file {
        files.push(path.clone());
    }
    if let Some(granted) = &c.granted {
        dirs.push(granted.clone());
        dirs.push(format!("{granted}/.."));
        dirs.push(format!("{granted}/up-link"));
        for name in [
            "visible.txt",
            "escape-link",
            "up-link/escape-target.txt",
            "../../etc/passwd",
            "../escape-target.txt",
        ] {
            files.push(format!("{granted}/{name}"));
        }
    }
    let listings: Vec<Value> = dirs.iter().map(|d| list(d)).collect();
    let reads: Vec<Value> = files.iter().map(|f| read(f)).collect();
    let writes: Vec<Value> = c
        .granted
        .iter()
        .map(|g| {
            let path = format!("{g}/written-by-the-component.txt");
            match std::fs::write(&path, b"the sandbox let me write") {
                Ok(()) => json!({"path": path, "written": true}),
                Err(e) => json!({"path": path, "error": e.to_string()}),
            }
        })
        .collect();
    let wall_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let tcp = match std::net::TcpStream::connect("127.0.0.1:9") {
        Ok(_) => "connected".to_string(),
        Err(e) => format!("error: {e}"),
    };
    json!({
        "env": env,
        "args": args,
        "cwd": cwd,
        "listings": listings,
        "reads": reads,
        "writes": writes,
        "clocks": {"wall_ms": wall_ms, "monotonic_ns": started.elapsed().as_nanos() as u64},
        "tcp": tcp,
    })
}

fn list(dir: &str) -> Value {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            json!({"dir": dir, "entries": names})
        }
        Err(e) => json!({"dir": dir, "error": e.to_string()}),
    }
}

fn read(path: &str) -> Value {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text: String = String::from_utf8_lossy(&bytes)
                .chars()
                .take(KEEP_CHARS)
                .collect();
            json!({"path": path, "content": text})
        }
        Err(e) => json!({"path": path, "error": e.to_string()}),
    }
}
