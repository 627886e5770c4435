//! Requests and answers of the web edge for the tests that drive `handle_http` (web.rs, passkeys_web.rs).
#![allow(dead_code)]
use accounts_core::web::{HttpRequest, HttpResponse};
use serde_json::Value;

/// A request from 192.0.2.1; a body is JSON unless a content-type header says otherwise.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> HttpRequest {
    let mut h: Vec<(String, String)> = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    if !body.is_empty() && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
        h.push(("content-type".into(), "application/json".into()));
    }
    HttpRequest {
        method: method.into(),
        path: path.into(),
        query: None,
        headers: h,
        body: body.as_bytes().to_vec(),
        peer: Some("192.0.2.1".parse().unwrap()),
    }
}

/// The answer's JSON body.
pub fn body(r: &HttpResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// The error code of an error answer ("" for another body).
pub fn code_of(r: &HttpResponse) -> String {
    body(r)["code"].as_str().unwrap_or_default().to_string()
}
