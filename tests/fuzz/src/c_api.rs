//! Every `accounts_*` entry point of the C ABI, fed the fuzzer's bytes as its string and JSON
//! arguments (and, by flag, NULL for an input or for the out-pointers).
//!
//! The first byte picks the function (low 6 bits), passes NULL for the first string (bit 6) and
//! NULL out-pointers (bit 7); the rest is split at NUL into up to 4 strings.

use crate::{RUNS_PER_SERVER, config_json, parts};
use accounts::*;
use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr::{null, null_mut};
use std::sync::Mutex;

/// A server made through the C API, with one logged-in user (the C twin of [`crate::Fixture`]).
struct CFixture {
    server: *mut accounts_server,
    user_id: String,
    access: String,
    refresh: String,
    runs: u64,
}

// SAFETY: an accounts_server is Send + Sync (documented in include/accounts.h); the pointer is
// only used under the mutex below.
unsafe impl Send for CFixture {}

impl CFixture {
    fn new() -> CFixture {
        let config = CString::new(config_json()).unwrap();
        let user = CString::new(r#"{"username":"fuzz","email":"fuzz@example.com","password":"fuzz password"}"#).unwrap();
        let mut server = null_mut();
        let mut id = null_mut();
        let mut login = null_mut();
        // SAFETY: valid strings and out-pointers; results owned and freed here.
        unsafe {
            let callbacks = accounts_callbacks_new();
            for name in CALLBACK_NAMES {
                let name = CString::new(*name).unwrap();
                assert_eq!(accounts_callbacks_set(callbacks, name.as_ptr(), Some(answer), null_mut(), null_mut()), accounts_result::AccountsOk);
            }
            assert_eq!(accounts_server_new(config.as_ptr(), callbacks, &mut server, null_mut()), accounts_result::AccountsOk);
            accounts_callbacks_free(callbacks);
            assert_eq!(accounts_password_create_user(server, user.as_ptr(), &mut id, null_mut()), accounts_result::AccountsOk);
            assert_eq!(accounts_server_login_with_user(server, id, null(), &mut login, null_mut()), accounts_result::AccountsOk);
            let user_id = CStr::from_ptr(id).to_string_lossy().into_owned();
            let result: serde_json::Value = serde_json::from_slice(CStr::from_ptr(login).to_bytes()).unwrap();
            accounts_string_free(id);
            accounts_string_free(login);
            let token = |k: &str| result["tokens"][k].as_str().unwrap_or_default().to_string();
            CFixture { server, user_id, access: token("accessToken"), refresh: token("refreshToken"), runs: 0 }
        }
    }

    fn arg(&self, raw: &str) -> String {
        crate::placeholder(raw, &self.user_id, &self.access, &self.refresh)
    }
}

impl Drop for CFixture {
    fn drop(&mut self) {
        // SAFETY: created by accounts_server_new, freed once.
        unsafe { accounts_server_free(self.server) }
    }
}

static C_FIXTURE: Mutex<Option<CFixture>> = Mutex::new(None);

/// What the fixture's callbacks answer during a call of selector 44–46, or nothing (`None`): the
/// callbacks are then unanswered and the server behaves as without them.
static ANSWER: Mutex<Option<Answer>> = Mutex::new(None);

enum Answer {
    Json(CString),
    Error(CString, CString),
}

/// The fixture's callback for every name: answers what [`ANSWER`] holds.
unsafe extern "C-unwind" fn answer(_: *mut c_void, input: *const c_char, result: *mut accounts_callback_result) {
    // SAFETY: the library passes a NUL-terminated input and a live result for this call.
    unsafe {
        read(input);
        match &*ANSWER.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(Answer::Json(json)) => done(accounts_callback_result_set_json(result, json.as_ptr())),
            Some(Answer::Error(code, message)) => done(accounts_callback_result_set_error(result, code.as_ptr(), message.as_ptr())),
            None => {}
        }
    }
}

const CALLBACK_NAMES: &[&str] = &["createJwtPayload", "userObjectSanitizer", "impersonationAuthorize", "validateNewUser", "sendMail"];

/// Outputs of one call, freed (after reading every accessor of the error) when dropped.
struct Out {
    text: *mut c_char,
    error: *mut accounts_error,
    flag: bool,
    number: u64,
    null_outs: bool,
}

impl Out {
    fn text(&mut self) -> *mut *mut c_char {
        if self.null_outs { null_mut() } else { &mut self.text }
    }
    fn error(&mut self) -> *mut *mut accounts_error {
        if self.null_outs { null_mut() } else { &mut self.error }
    }
    fn flag(&mut self) -> *mut bool {
        if self.null_outs { null_mut() } else { &mut self.flag }
    }
    fn number(&mut self) -> *mut u64 {
        if self.null_outs { null_mut() } else { &mut self.number }
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        // SAFETY: both are NULL or owned results of this library, freed once here.
        unsafe {
            if !self.error.is_null() {
                accounts_error_code(self.error);
                read(accounts_error_code_name(self.error));
                read(accounts_error_message(self.error));
                read(accounts_error_details_json(self.error));
                accounts_error_free(self.error);
            }
            accounts_string_free(self.text);
        }
    }
}

/// Reads a returned C string to its end (so a bad pointer shows under the sanitizer).
unsafe fn read(s: *const c_char) {
    if !s.is_null() {
        // SAFETY: the library returns NUL-terminated strings.
        let _ = unsafe { std::ffi::CStr::from_ptr(s) }.to_bytes().len();
    }
}

unsafe extern "C-unwind" fn ignore(_: *mut c_void, _: *const c_char, _: *mut accounts_callback_result) {}

/// The fuzz target.
pub fn c_api(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let mut guard = C_FIXTURE.lock().unwrap_or_else(|p| p.into_inner());
    if guard.as_ref().is_none_or(|f| f.runs >= RUNS_PER_SERVER) {
        *guard = None; // the old server is freed before the new one opens
        *guard = Some(CFixture::new());
    }
    let Some(f) = guard.as_mut() else { return };
    f.runs += 1;
    let server = f.server.cast_const();
    let p = parts(rest, 4);
    let owned: Vec<CString> = p.iter().map(|s| CString::new(f.arg(s)).unwrap_or_default()).collect();
    let null_first = selector & 0x40 != 0;
    let s0 = if null_first { null() } else { owned[0].as_ptr() };
    let (s1, s2, s3) = (owned[1].as_ptr(), owned[2].as_ptr(), owned[3].as_ptr());
    let mut o = Out { text: null_mut(), error: null_mut(), flag: false, number: 0, null_outs: selector & 0x80 != 0 };
    // SAFETY: every pointer is NULL, a live NUL-terminated string above, the fixture's server or an
    // out-pointer of `o`; the calls are the library's documented contract.
    unsafe {
        match selector & 0x3f {
            0 => done(accounts_password_create_user(server, s0, o.text(), o.error())),
            1 => done(accounts_password_authenticate(server, s0, o.text(), o.error())),
            2 => done(accounts_password_find_user_by_email(server, s0, o.text(), o.error())),
            3 => done(accounts_password_find_user_by_username(server, s0, o.text(), o.error())),
            4 => done(accounts_password_set_password(server, s0, s1, o.error())),
            5 => done(accounts_password_add_email(server, s0, s1, !p[2].is_empty(), o.error())),
            6 => done(accounts_password_remove_email(server, s0, s1, o.error())),
            7 => done(accounts_password_send_verification_email(server, s0, o.error())),
            8 => done(accounts_password_verify_email(server, s0, o.error())),
            9 => done(accounts_password_send_reset_password_email(server, s0, o.error())),
            10 => done(accounts_password_send_enrollment_email(server, s0, o.error())),
            11 => {
                let code = if p[2].is_empty() { null() } else { s2 };
                done(accounts_password_reset_password(server, s0, s1, code, s3, o.text(), o.error()))
            }
            12 => done(accounts_password_change_password(server, s0, s1, s2, o.error())),
            13 => done(accounts_password_two_factor_get_new_auth_secret(server, o.text(), o.error())),
            14 => done(accounts_password_two_factor_set(server, s0, s1, s2, o.text(), o.error())),
            15 => done(accounts_password_two_factor_unset(server, s0, s1, o.error())),
            16 => done(accounts_password_two_factor_regenerate_recovery_codes(server, s0, s1, o.text(), o.error())),
            17 => done(accounts_password_two_factor_is_set(server, s0, o.flag(), o.error())),
            18 => done(accounts_magic_link_request_magic_link_email(server, s0, o.error())),
            19 => done(accounts_server_login_with_service(server, s0, s1, s2, o.text(), o.error())),
            20 => done(accounts_server_authenticate_with_service(server, s0, s1, s2, o.flag(), o.error())),
            21 => done(accounts_server_login_with_user(server, s0, s1, o.text(), o.error())),
            22 => done(accounts_server_resume_session(server, s0, o.text(), o.error())),
            23 => done(accounts_server_refresh_tokens(server, s0, s1, s2, o.text(), o.error())),
            24 => done(accounts_server_logout(server, s0, o.error())),
            25 => done(accounts_server_impersonate(server, s0, s1, s2, o.text(), o.error())),
            26 => done(accounts_server_find_user_by_id(server, s0, o.text(), o.error())),
            27 => done(accounts_server_find_session_by_access_token(server, s0, o.text(), o.error())),
            28 => done(accounts_server_deactivate_user(server, s0, o.error())),
            29 => done(accounts_server_activate_user(server, s0, o.error())),
            30 => done(accounts_server_list_sessions(server, s0, o.text(), o.error())),
            31 => done(accounts_server_revoke_session(server, s0, o.flag(), o.error())),
            32 => done(accounts_server_revoke_all_sessions(server, s0, s1, o.number(), o.error())),
            33 => done(accounts_server_import_users(server, s0, o.text(), o.error())),
            34 => done(accounts_server_jwks(server, o.text(), o.error())),
            35 => done(accounts_verify_access_token(s0, s1, o.text(), o.error())),
            36 => done(accounts_server_purge_expired(server, o.text(), o.error())),
            37 => done(accounts_server_get_services(server, o.text(), o.error())),
            38 => done(accounts_server_options(server, o.text(), o.error())),
            39 => {
                let mut id = 0u64;
                let r = accounts_server_on(server, s0, Some(ignore), null_mut(), if o.null_outs { null_mut() } else { &mut id }, o.error());
                if r == accounts_result::AccountsOk {
                    accounts_server_off(server, id, o.flag(), null_mut());
                }
            }
            40 => done(accounts_server_off(server, p[0].len() as u64, o.flag(), o.error())),
            41 => {
                // A fuzzed config (its database forced to memory: the fuzzer must not write files
                // or dial servers) with a fuzzed callback name.
                let config = match serde_json::from_str::<serde_json::Value>(&p[0]) {
                    Ok(serde_json::Value::Object(mut m)) => {
                        m.insert("db".into(), "sqlite::memory:".into());
                        CString::new(serde_json::Value::Object(m).to_string()).unwrap_or_default()
                    }
                    _ => owned[0].clone(),
                };
                let callbacks = accounts_callbacks_new();
                accounts_callbacks_set(callbacks, s1, Some(ignore), null_mut(), null_mut());
                let mut created: *mut accounts_server = null_mut();
                let config = if null_first { null() } else { config.as_ptr() };
                accounts_server_new(config, callbacks, if o.null_outs { null_mut() } else { &mut created }, o.error());
                accounts_server_free(created);
                accounts_callbacks_free(callbacks);
            }
            42 => {
                let callbacks = accounts_callbacks_new();
                accounts_callbacks_set(callbacks, s0, if p[1].is_empty() { None } else { Some(ignore) }, null_mut(), o.error());
                accounts_callbacks_free(callbacks);
            }
            // Host callbacks answering with fuzzed JSON or a fuzzed error, during calls that run them.
            44..=46 => {
                let answer = match selector & 0x3f {
                    44 => Answer::Json(owned[2].clone()),
                    _ => Answer::Error(owned[2].clone(), owned[3].clone()),
                };
                *ANSWER.lock().unwrap_or_else(|p| p.into_inner()) = Some(answer);
                match selector & 0x3f {
                    44 => done(accounts_password_create_user(server, s0, o.text(), o.error())),
                    45 => done(accounts_password_send_reset_password_email(server, s0, o.error())),
                    _ => done(accounts_server_impersonate(server, s0, s1, null(), o.text(), o.error())),
                }
                *ANSWER.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
            43 => {
                let n = i32::from_le_bytes([rest.first().copied().unwrap_or(0), rest.get(1).copied().unwrap_or(0), 0, 0]) - 1000;
                read(accounts_result_name(n));
                read(accounts_version());
            }
            _ => {}
        }
    }
}

/// A call's result is not checked: any code is fine, only crashes and leaks are findings.
fn done(_: accounts_result) {}
