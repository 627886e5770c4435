//! Node bindings: a thin napi-rs layer over accounts-core. Every method runs its core call off the
//! JS thread and resolves with JSON text that `index.js` parses: fast operations as an `AsyncTask`
//! on the libuv pool, password-hashing ones on a small pool of their own (so a login burst cannot
//! starve resumeSession). Host callbacks travel to the JS thread through one threadsafe function
//! and come back through `reply`.

use accounts_core::callbacks::{Callbacks, HostCall, ListenerFn};
use accounts_core::{AccountsError, AccountsServer, Config, ConnectionInfo, ErrorCode, ImpersonationTarget, RevokeAllOptions, input};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

type CoreResult<T> = std::result::Result<T, AccountsError>;

/// Prefix of a native error message carrying `{code, number, message, details}` for index.js.
const ERROR_MARK: &str = "ACCOUNTS_ERROR:";

fn js_error(e: AccountsError) -> Error {
    let mut info = e.to_json();
    // A callback's own error: index.js hands back the very object the callback threw.
    if let Some(handle) = e.host.as_ref().and_then(|h| h.handle) {
        info["thrown"] = json!(handle);
    }
    Error::new(Status::GenericFailure, format!("{ERROR_MARK}{info}"))
}

type Dispatcher = ThreadsafeFunction<(String, String, u32), Unknown<'static>, (String, String, u32), Status, false, true>;

/// Routes core callbacks (on pool threads) to the JS dispatcher and waits for `reply`.
struct Bridge {
    dispatcher: Option<Dispatcher>,
    pending: Mutex<HashMap<u32, mpsc::Sender<CoreResult<Value>>>>,
    next: AtomicU32,
    js_thread: ThreadId,
    /// How long a pool thread waits for the JS thread to answer (`hostCallbackTimeout`): a callback
    /// that never settles fails its call instead of holding a thread forever.
    timeout: std::time::Duration,
}

impl Bridge {
    fn call(&self, name: &str, input: Value) -> CoreResult<Value> {
        if std::thread::current().id() == self.js_thread {
            // The JS thread is busy in a sync call: waiting for it would deadlock.
            return Err(AccountsError::new(
                ErrorCode::CallbackError,
                format!("the {name} callback cannot run during a synchronous call; use the Promise method"),
            ));
        }
        let dispatcher = self.dispatcher.as_ref().ok_or_else(|| AccountsError::new(ErrorCode::InternalError, "no dispatcher"))?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(id, tx);
        let status = dispatcher.call((name.to_string(), input.to_string(), id), ThreadsafeFunctionCallMode::Blocking);
        if status != Status::Ok {
            self.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            return Err(AccountsError::new(ErrorCode::CallbackError, format!("could not reach the JS thread: {status}")));
        }
        match rx.recv_timeout(self.timeout) {
            Ok(outcome) => outcome,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // A late reply finds no waiter and is dropped (see `reply`).
                self.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                Err(AccountsError::new(
                    ErrorCode::CallbackError,
                    format!("the {name} callback did not settle within {} ms (hostCallbackTimeout)", self.timeout.as_millis()),
                ))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(AccountsError::new(ErrorCode::CallbackError, "callback was dropped")),
        }
    }
}

fn callbacks_for(bridge: &Arc<Bridge>, names: &[String]) -> CoreResult<Callbacks> {
    let mut c = Callbacks::default();
    for name in names {
        let b = bridge.clone();
        c.set_host(name, Arc::new(move |call: &HostCall<'_>| b.call(call.name, Value::Array(call.args.to_vec())).map(Some)))?;
    }
    Ok(c)
}

/// One core call, run on the libuv pool.
pub struct Job(Option<Box<dyn FnOnce() -> CoreResult<String> + Send>>);

impl Task for Job {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        let f = self.0.take().ok_or_else(|| Error::from_reason("job ran twice"))?;
        f().map_err(js_error)
    }

    fn resolve(&mut self, _env: Env, output: String) -> Result<String> {
        Ok(output)
    }
}

/// A core result as the JSON text index.js parses.
fn to_json_text<T: serde::Serialize>(out: CoreResult<T>) -> CoreResult<String> {
    out.and_then(|v| serde_json::to_string(&v).map_err(|e| AccountsError::new(ErrorCode::InternalError, e.to_string())))
}

fn job<T: serde::Serialize>(f: impl FnOnce() -> CoreResult<T> + Send + 'static) -> AsyncTask<Job> {
    AsyncTask::new(Job(Some(Box::new(move || to_json_text(f())))))
}

/// Operations that may hash a password (tens of ms each) run here instead of on the libuv pool, so
/// a login burst never queues the fast operations (resumeSession, refreshTokens, ...) behind it.
/// As many threads as the core lets hash at once; further jobs wait in the queue, not on a thread.
struct HashingPool {
    jobs: Mutex<mpsc::Sender<Box<dyn FnOnce() + Send>>>,
}

static HASHING_POOL: std::sync::OnceLock<HashingPool> = std::sync::OnceLock::new();

fn hashing_pool() -> &'static HashingPool {
    HASHING_POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2);
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("accounts-hash-{i}")).spawn(move || {
                loop {
                    let job = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    job();
                }
            });
            // Without threads the queue is never drained; fail loudly at first use instead.
            spawned.expect("accounts-rs: cannot start the hashing threads");
        }
        HashingPool { jobs: Mutex::new(tx) }
    })
}

/// Runs a password-hashing operation on the hashing pool; the promise resolves with its JSON.
fn hashing_job<'e, T: serde::Serialize>(env: &'e Env, f: impl FnOnce() -> CoreResult<T> + Send + 'static) -> Result<Object<'e>> {
    let (deferred, promise) = env.create_deferred()?;
    let job = Box::new(move || {
        let out = to_json_text(
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                .unwrap_or_else(|_| Err(AccountsError::new(ErrorCode::InternalError, "internal panic"))),
        );
        match out {
            Ok(text) => deferred.resolve(move |_env: Env| Ok(text)),
            Err(e) => deferred.reject(js_error(e)),
        }
    });
    hashing_pool()
        .jobs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .map_err(|_| Error::from_reason("accounts-rs: the hashing pool has stopped"))?;
    Ok(promise)
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> CoreResult<T> {
    input::parse_json(what, text)
}

fn parse_opt<T: serde::de::DeserializeOwned + Default>(what: &str, text: Option<String>) -> CoreResult<T> {
    match text {
        None => Ok(T::default()),
        Some(t) => parse(what, &t),
    }
}

/// The native server; the public `AccountsServer` in index.js wraps it.
#[napi]
pub struct NativeServer {
    inner: Arc<AccountsServer>,
    bridge: Arc<Bridge>,
}

#[napi]
impl NativeServer {
    /// `configJson`: the JSON config; `callbackNames`: which host callbacks exist; `dispatcher`:
    /// `(name, argsJson, replyId) => void`, which must eventually call `reply(replyId, ...)`.
    #[napi(constructor)]
    pub fn new(config_json: String, callback_names: Vec<String>, dispatcher: Option<Dispatcher>) -> Result<Self> {
        let config = Config::from_json(&config_json).map_err(js_error)?;
        let bridge = Arc::new(Bridge {
            dispatcher,
            pending: Mutex::new(HashMap::new()),
            next: AtomicU32::new(1),
            js_thread: std::thread::current().id(),
            timeout: config.host_callback_timeout,
        });
        let inner = callbacks_for(&bridge, &callback_names).and_then(|cb| AccountsServer::new(config, cb)).map_err(js_error)?;
        Ok(NativeServer { inner: Arc::new(inner), bridge })
    }

    /// Completes a callback: `resultJson` on success, else `errorJson` `{code?, message}`.
    #[napi]
    pub fn reply(&self, reply_id: u32, result_json: Option<String>, error_json: Option<String>) -> Result<()> {
        let tx = self.bridge.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&reply_id);
        let Some(tx) = tx else { return Ok(()) };
        let outcome = match (result_json, error_json) {
            (_, Some(e)) => {
                let v: Value = serde_json::from_str(&e).unwrap_or(Value::Null);
                let message = v.get("message").and_then(Value::as_str).unwrap_or("callback failed");
                Err(AccountsError::from_host(v.get("code").and_then(Value::as_str), message, v.get("thrown").and_then(Value::as_u64)))
            }
            (Some(r), None) => parse::<Value>("callback result", &r)
                .map_err(|e| AccountsError::new(ErrorCode::CallbackError, format!("callback returned {}", e.message))),
            (None, None) => Ok(Value::Null),
        };
        let _ = tx.send(outcome);
        Ok(())
    }

    #[napi]
    pub fn options_json(&self) -> Result<String> {
        serde_json::to_string(self.inner.options()).map_err(|e| Error::from_reason(e.to_string()))
    }

    #[napi]
    pub fn service_names(&self) -> Vec<String> {
        self.inner.service_names()
    }

    /// Registers a listener; the dispatcher receives name "listener" and `[key, event, payload]`.
    #[napi]
    pub fn on(&self, event: String, key: u32) -> Result<i64> {
        let b = self.bridge.clone();
        let f: Arc<ListenerFn> = Arc::new(move |event: &str, payload: &Value| b.call("listener", json!([key, event, payload])).map(|_| ()));
        Ok(self.inner.on(&event, f) as i64)
    }

    #[napi]
    pub fn off(&self, listener_id: i64) -> bool {
        self.inner.off(listener_id as u64)
    }

    /// Names of the callbacks/listeners a resumeSession may run (the sync twin refuses to run them).
    #[napi]
    pub fn resume_callbacks(&self) -> Vec<String> {
        self.inner.resume_session_hooks().into_iter().map(String::from).collect()
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn login_with_service<'e>(&self, env: &'e Env, service: String, params_json: String, infos_json: Option<String>) -> Result<Object<'e>> {
        let s = self.inner.clone();
        hashing_job(env, move || {
            let params: Value = parse("params", &params_json)?;
            let infos: ConnectionInfo = parse_opt("infos", infos_json)?;
            s.login_with_service(&service, &params, &infos)
        })
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn authenticate_with_service<'e>(&self, env: &'e Env, service: String, params_json: String, infos_json: Option<String>) -> Result<Object<'e>> {
        let s = self.inner.clone();
        hashing_job(env, move || {
            let params: Value = parse("params", &params_json)?;
            let infos: ConnectionInfo = parse_opt("infos", infos_json)?;
            s.authenticate_with_service(&service, &params, &infos)
        })
    }

    #[napi]
    pub fn login_with_user(&self, user_id: String, infos_json: Option<String>) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || {
            let infos: ConnectionInfo = parse_opt("infos", infos_json)?;
            s.login_with_user(&user_id, &infos)
        })
    }

    #[napi]
    pub fn resume_session(&self, access_token: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.resume_session(&access_token))
    }

    /// The same as `resumeSession`, on the calling (JS) thread.
    #[napi]
    pub fn resume_session_sync(&self, access_token: String) -> Result<String> {
        let user = self.inner.resume_session(&access_token).map_err(js_error)?;
        serde_json::to_string(&user).map_err(|e| Error::from_reason(e.to_string()))
    }

    #[napi]
    pub fn refresh_tokens(&self, access_token: String, refresh_token: String, infos_json: Option<String>) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || {
            let infos: ConnectionInfo = parse_opt("infos", infos_json)?;
            s.refresh_tokens(&access_token, &refresh_token, &infos)
        })
    }

    #[napi]
    pub fn logout(&self, access_token: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.logout(&access_token))
    }

    #[napi]
    pub fn impersonate(&self, access_token: String, target_json: String, infos_json: Option<String>) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || {
            let target: ImpersonationTarget = parse("impersonated", &target_json)?;
            let infos: ConnectionInfo = parse_opt("infos", infos_json)?;
            s.impersonate(&access_token, &target, &infos)
        })
    }

    #[napi]
    pub fn find_user_by_id(&self, user_id: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.find_user_by_id(&user_id))
    }

    #[napi]
    pub fn find_session_by_access_token(&self, access_token: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.find_session_by_access_token(&access_token))
    }

    #[napi]
    pub fn deactivate_user(&self, user_id: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.deactivate_user(&user_id))
    }

    #[napi]
    pub fn activate_user(&self, user_id: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.activate_user(&user_id))
    }

    #[napi]
    pub fn list_sessions(&self, user_id: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.list_sessions(&user_id))
    }

    #[napi]
    pub fn revoke_session(&self, session_id: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.revoke_session(&session_id))
    }

    /// The JWKS document of the token signing key, as JSON text.
    #[napi]
    pub fn jwks_json(&self) -> String {
        self.inner.jwks().to_string()
    }

    #[napi]
    pub fn import_users(&self, records_json: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || {
            let records: Vec<Value> = parse("records", &records_json)?;
            s.import_users(&records)
        })
    }

    #[napi]
    pub fn purge_expired(&self) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.purge_expired())
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn revoke_all_sessions(&self, user_id: String, options_json: Option<String>) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || {
            let options: RevokeAllOptions = parse_opt("options", options_json)?;
            s.revoke_all_sessions(&user_id, &options)
        })
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn password_create_user<'e>(&self, env: &'e Env, user_json: String) -> Result<Object<'e>> {
        let s = self.inner.clone();
        hashing_job(env, move || s.password().create_user(&parse::<Value>("user", &user_json)?))
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn password_authenticate<'e>(&self, env: &'e Env, params_json: String) -> Result<Object<'e>> {
        let s = self.inner.clone();
        hashing_job(env, move || s.password().authenticate(&parse::<Value>("params", &params_json)?))
    }

    #[napi]
    pub fn password_find_user_by_email(&self, email: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.password().find_user_by_email(&email))
    }

    #[napi]
    pub fn password_find_user_by_username(&self, username: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.password().find_user_by_username(&username))
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn password_set_password<'e>(&self, env: &'e Env, user_id: String, password: String) -> Result<Object<'e>> {
        let s = self.inner.clone();
        hashing_job(env, move || s.password().set_password(&user_id, &password))
    }

    #[napi]
    pub fn password_add_email(&self, user_id: String, email: String, verified: bool) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.password().add_email(&user_id, &email, verified))
    }

    #[napi]
    pub fn password_remove_email(&self, user_id: String, email: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.password().remove_email(&user_id, &email))
    }

    #[napi]
    pub fn password_send_verification_email(&self, address: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.password().send_verification_email(&address))
    }

    #[napi]
    pub fn password_verify_email(&self, token: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.password().verify_email(&token))
    }

    #[napi]
    pub fn password_send_reset_password_email(&self, address: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.password().send_reset_password_email(&address))
    }

    #[napi]
    pub fn password_send_enrollment_email(&self, address: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.password().send_enrollment_email(&address))
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn password_reset_password<'e>(
        &self,
        env: &'e Env,
        token: String,
        new_password: String,
        infos_json: Option<String>,
        code: Option<String>,
    ) -> Result<Object<'e>> {
        let s = self.inner.clone();
        hashing_job(env, move || {
            let infos: ConnectionInfo = parse_opt("infos", infos_json)?;
            s.password().reset_password(&token, &new_password, code.as_deref(), &infos)
        })
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn password_change_password<'e>(&self, env: &'e Env, user_id: String, old_password: String, new_password: String) -> Result<Object<'e>> {
        let s = self.inner.clone();
        hashing_job(env, move || s.password().change_password(&user_id, &old_password, &new_password))
    }

    /// Synchronous, as in accounts-js (rest-express uses its result directly); it only draws
    /// random bytes and formats them.
    #[napi]
    pub fn two_factor_get_new_auth_secret(&self) -> Result<String> {
        let secret = self.inner.password().two_factor().get_new_auth_secret().map_err(js_error)?;
        serde_json::to_string(&secret).map_err(|e| Error::from_reason(e.to_string()))
    }

    #[napi]
    pub fn two_factor_set(&self, user_id: String, secret_base32: String, code: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.password().two_factor().set(&user_id, &secret_base32, &code))
    }

    #[napi]
    pub fn two_factor_unset(&self, user_id: String, code: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.password().two_factor().unset(&user_id, &code))
    }

    #[napi]
    pub fn two_factor_regenerate_recovery_codes(&self, user_id: String, code: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.password().two_factor().regenerate_recovery_codes(&user_id, &code))
    }

    #[napi]
    pub fn two_factor_is_set(&self, user_id: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.password().two_factor().is_set(&user_id))
    }

    #[napi]
    pub fn magic_link_request_magic_link_email(&self, email: String) -> AsyncTask<Job> {
        let s = self.inner.clone();
        job(move || s.magic_link().request_magic_link_email(&email))
    }
}

/// `[code, number, isInputError]` for every error code, in number order.
#[napi]
pub fn error_codes() -> Vec<(String, u32, bool)> {
    ErrorCode::ALL.iter().map(|c| (c.as_str().to_string(), c.number(), c.is_input_error())).collect()
}

/// Verifies an access token without a server; resolves nothing async (no I/O): returns the
/// claims as JSON text, or throws the coded error.
#[napi]
pub fn verify_access_token(token: String, options_json: String) -> Result<String> {
    let run = || -> CoreResult<String> {
        let options: accounts_core::VerifyOptions = parse("options", &options_json)?;
        to_json_text(accounts_core::verify_access_token(&token, &options))
    };
    run().map_err(js_error)
}

/// The names of the host callbacks a server accepts (the core's list).
#[napi]
pub fn callback_names() -> Vec<String> {
    accounts_core::callbacks::CALLBACK_NAMES.iter().map(|n| n.to_string()).collect()
}

/// The largest string or JSON argument the core accepts, in bytes.
#[napi]
pub fn max_input_bytes() -> u32 {
    input::MAX_INPUT_BYTES as u32
}

#[napi]
pub fn version() -> String {
    accounts_core::VERSION.to_string()
}
