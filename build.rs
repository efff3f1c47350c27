//! Embeds every file under `dashboard-static/` into the binary: writes `$OUT_DIR/dashboard_assets.rs`, a table of
//! (path relative to `dashboard-static/`, `include_bytes!` of the file) sorted by path, which the dashboard serves.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const STATIC_DIR: &str = "dashboard-static";
const TABLE_FILE: &str = "dashboard_assets.rs";

fn main() -> io::Result<()> {
    println!("cargo:rerun-if-changed={STATIC_DIR}");
    let root = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join(STATIC_DIR);
    let mut files = Vec::new();
    if root.is_dir() {
        collect_files(&root, &mut files)?;
    }
    files.sort();
    let mut table =
        String::from("/// Every file of `dashboard-static/`: (path relative to it, contents), sorted by path.\n");
    table.push_str("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for file in &files {
        let relative = file.strip_prefix(&root).expect("collected below the root");
        let relative = relative.components().map(|part| part.as_os_str().to_string_lossy()).collect::<Vec<_>>();
        table.push_str(&format!("    ({:?}, include_bytes!({:?})),\n", relative.join("/"), file.display().to_string()));
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join(TABLE_FILE);
    fs::write(out, table)
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}
