//! Architecture rules as a test: engines never see sockets, threads, files or the wall clock, and no lock ever
//! guards broker state.

mod common;

use common::files_with_extension;
use std::path::Path;

/// What `shards/` (the engines) must never use.
const FORBIDDEN_IN_ENGINES: &[&str] = &[
    "std::net",
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "std::thread",
    "thread::spawn",
    "SystemTime",
    "Instant::now",
    "std::fs",
    "glommio",
    "tokio",
];

/// Shared-state locks that must not guard engine state anywhere in the server or the engines.
const FORBIDDEN_LOCKS: &[&str] = &["Mutex", "RwLock", "DashMap"];

/// Source lines without comments, so docs may name what the code avoids.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).expect("read source file");
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let code = line.split("//").next().unwrap_or_default().trim().to_owned();
            (!code.is_empty()).then_some((index + 1, code))
        })
        .collect()
}

fn violations(dirs: &[&str], forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in dirs {
        for file in files_with_extension(&root.join(dir), "rs") {
            for (line_number, code) in code_lines(&file) {
                for word in forbidden.iter().filter(|word| code.contains(*word)) {
                    found.push(format!("{}:{line_number}: `{word}` in `{code}`", file.display()));
                }
            }
        }
    }
    found
}

#[test]
fn engines_use_no_sockets_threads_files_or_clock() {
    let found = violations(&["shards/src"], FORBIDDEN_IN_ENGINES);
    assert!(found.is_empty(), "engines must stay pure:\n{}", found.join("\n"));
}

#[test]
fn no_lock_guards_broker_state() {
    let found = violations(&["shards/src", "src"], FORBIDDEN_LOCKS);
    assert!(found.is_empty(), "broker state must not sit behind locks:\n{}", found.join("\n"));
}
