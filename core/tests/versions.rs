//! One version everywhere (docs/distribution.md): the workspace version is the single source;
//! every manifest that states a version follows it, the others take it from Cargo, and the
//! changelog has its section.

use std::fs;
use std::path::Path;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(path: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json_version(path: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&read(path)).unwrap();
    v["version"].as_str().unwrap_or_default().to_string()
}

#[test]
fn every_manifest_follows_the_workspace_version() {
    assert!(read("Cargo.toml").contains(&format!("[workspace.package]\nversion = \"{VERSION}\"")));
    for krate in ["core", "ffi", "bindings/python", "bindings/node", "bindings/codegen"] {
        assert!(read(&format!("{krate}/Cargo.toml")).contains("version.workspace = true"), "{krate} states its own version");
    }
    // maturin takes the wheel's and sdist's version from the crate.
    assert!(read("bindings/python/pyproject.toml").contains("dynamic = [\"version\"]"));
    assert_eq!(json_version("bindings/node/package.json"), VERSION);
    assert_eq!(json_version("bindings/node/npm/linux-x64-gnu/package.json"), VERSION);
    // the pkg-config file is filled in from Cargo.toml by make install / make dist
    assert!(read("ffi/accounts.pc.in").contains("Version: @VERSION@"));
    assert!(read("CHANGELOG.md").contains(&format!("## [{VERSION}]")), "CHANGELOG.md has no section for {VERSION}");
}

#[test]
fn the_library_reports_it() {
    assert_eq!(accounts_core::VERSION, VERSION);
}
