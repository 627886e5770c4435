//! docs/configuration.md names every option: each key path of the serialised default config (and
//! the options that serialise only when set) must appear on the page, so a new option cannot ship
//! undocumented.

use accounts_core::Config;
use serde_json::{Value, json};

fn key_paths(prefix: &str, value: &Value, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (key, inner) in map {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            out.push(path.clone());
            key_paths(&path, inner, out);
        }
    }
}

#[test]
fn every_option_is_in_the_reference() {
    let config = Config::from_value(json!({
        "db": "sqlite::memory:",
        "tokenSecret": "reference-test-secret-0123456789abcdef",
        "sealingSecret": "reference-test-sealing-0123456789abcdef",
        "tokenConfigs": {"accessToken": {"issuer": "i", "audience": "a"}, "refreshToken": {"algorithm": "HS256", "issuer": "i", "audience": "a"}},
    }))
    .unwrap();
    // The options that exclude the ones above, or serialise only when set.
    let ringed = Config::from_value(json!({
        "db": "sqlite::memory:",
        "tokenKeys": {"current": "k", "keys": [{"kid": "k", "algorithm": "HS256", "secret": "reference-test-secret-0123456789abcdef"}]},
        "sealingSecret": "reference-test-sealing-0123456789abcdef",
        "previousSealingSecrets": ["reference-test-previous-0123456789abcdef"],
    }))
    .unwrap();
    let mut paths = Vec::new();
    key_paths("", &serde_json::to_value(&config).unwrap(), &mut paths);
    key_paths("", &serde_json::to_value(&ringed).unwrap(), &mut paths);
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md")).unwrap();
    assert!(paths.len() > 40, "the walk found the options: {paths:?}");
    let missing: Vec<&String> = paths
        .iter()
        // Inside a documented object the page names the last segment (`memoryKib` in `hashing.memoryKib`,
        // the template fields once for all mails, the three limits once for all kinds).
        .filter(|p| {
            let tail = p.rsplit('.').next().unwrap();
            let last_two = p.rsplitn(3, '.').take(2).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(".");
            // An object is documented through its keys (`accessToken.expiresIn` documents `accessToken`).
            let named = |name: &str| page.contains(&format!("`{name}`")) || page.contains(&format!("`{name}."));
            !named(p) && !named(&last_two) && !named(tail)
        })
        .collect();
    assert!(missing.is_empty(), "options missing from docs/configuration.md: {missing:?}");
}
