//! Replays every input of the kept corpus (tests/fuzz/corpus/<target>/) through its target on
//! stable Rust: what once found a crash, or new coverage, keeps being run by `make test`.
use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        run(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n > 0, "{target}: the corpus is empty");
    eprintln!("{target}: {n} inputs replayed");
}

#[test]
fn c_api() {
    replay("c_api", accounts_fuzz::c_api);
}

#[test]
fn config() {
    replay("config", accounts_fuzz::config);
}

#[test]
fn tokens() {
    replay("tokens", accounts_fuzz::tokens);
}

#[test]
fn links_and_identifiers() {
    replay("links_and_identifiers", accounts_fuzz::links_and_identifiers);
}

#[test]
fn import() {
    replay("import", accounts_fuzz::import);
}

#[test]
fn web() {
    replay("web", accounts_fuzz::web);
}
