// The one JSON merge of the tests, included by core/tests/common/mod.rs and by core's unit tests
// (`context::testing`).

/// Merges `b` into `a`: objects key by key, recursively; anything else replaces. (Qualified
/// names: the including module may import `Value` or not.)
#[allow(unused_qualifications)]
fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}
