//! Core's operation table and the C exports agree: every row names an exported `accounts_*`
//! function, and every exported `accounts_*` function is a row or one of the handle, lifecycle and
//! result functions listed here (docs/architecture.md, "One table, generated copies").

use accounts_core::operations::ALL;
use std::collections::BTreeSet;

/// Exports that are not operations: handles and their lifecycle, errors, callbacks, strings, events.
const NOT_OPERATIONS: &[&str] = &[
    "accounts_server_new",
    "accounts_server_free",
    "accounts_server_get_services",
    "accounts_server_options",
    "accounts_server_on",
    "accounts_server_off",
    "accounts_callbacks_new",
    "accounts_callbacks_free",
    "accounts_callbacks_set",
    "accounts_callback_result_set_json",
    "accounts_callback_result_set_error",
    "accounts_result_name",
    "accounts_error_code",
    "accounts_error_code_name",
    "accounts_error_message",
    "accounts_error_details_json",
    "accounts_error_free",
    "accounts_string_free",
    "accounts_version",
];

/// The `accounts_*` functions ffi/src exports (`extern "C" fn accounts_...`).
fn exported() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (i, _) in text.match_indices("extern \"C\" fn accounts_") {
            let rest = &text[i + "extern \"C\" fn ".len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            names.insert(name);
        }
    }
    names
}

#[test]
fn every_row_has_its_c_function_and_every_export_has_a_row() {
    let exported = exported();
    assert!(exported.len() > 40, "read the exports: {exported:?}");
    for op in ALL {
        assert!(exported.contains(op.c), "{} ({}) has no exported {}", op.js, op.python, op.c);
    }
    let rows: BTreeSet<&str> = ALL.iter().map(|op| op.c).collect();
    for name in &exported {
        assert!(
            rows.contains(name.as_str()) || NOT_OPERATIONS.contains(&name.as_str()),
            "{name} is exported but is no row of core's operation table (core/src/operations.rs)"
        );
    }
    for name in NOT_OPERATIONS {
        assert!(exported.contains(*name), "{name} is allowed but not exported");
    }
    // The committed header declares the same functions.
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../include/accounts.h")).unwrap();
    for name in &exported {
        assert!(header.contains(&format!("{name}(")), "include/accounts.h lacks {name}");
    }
}
