//! Node bindings: a thin napi-rs layer over accounts-core. Every method runs its core call off the
//! JS thread and resolves with JSON text that `index.js` parses, or rejects with a JS `Error`
//! carrying `code`, `number` and `details`: each method runs where its row in core's operation table
//! (`accounts_core::operations`) says — class `Hashing` on a small pool of its own (so a login burst
//! cannot starve resumeSession), `Inline` on the JS thread when core allows, `Pool` as async work on
//! the libuv pool. Every job catches panics. Host callbacks travel to the JS
//! thread through one threadsafe function and come back through `reply`.

use accounts_core::callbacks::{Callbacks, HostCall, ListenerFn};
use accounts_core::error::HostFailure;
use accounts_core::host::input;
use accounts_core::operations::{self as ops, Class, Operation};
use accounts_core::web::HttpRequest;
use accounts_core::{AccountsError, AccountsServer, Config, ErrorCode, ImpersonationTarget, RevokeAllOptions};
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

/// The JS error of a core error: an `Error` with the message, `code` (the code string callers
/// see), `number` and `details`, plus `thrown` for a host callback's own error (index.js hands
/// back that very object). Built on the JS thread; the promise rejects with it as is.
fn coded(env: &Env, e: AccountsError) -> Error {
    let build = || -> Result<Error> {
        let mut obj = env.create_error(Error::new(Status::GenericFailure, e.message.clone()))?;
        obj.set("code", e.code_name())?;
        obj.set("number", e.code.number())?;
        if let Some(details) = &e.details {
            obj.set("details", details.clone())?;
        }
        if let Some(handle) = e.host.as_ref().and_then(|h| h.handle) {
            obj.set("thrown", handle as f64)?;
        }
        Ok(Error::from(obj.to_unknown()))
    };
    build().unwrap_or_else(|err| err)
}

/// A core call with panics caught: a panic anywhere below becomes `InternalError`, never an abort.
fn caught<T>(f: impl FnOnce() -> CoreResult<T>) -> CoreResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| Err(AccountsError::new(ErrorCode::InternalError, "internal panic")))
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

type CoreJob = Box<dyn FnOnce() -> CoreResult<String> + Send>;

/// One core call, run on the libuv pool.
struct Job(Option<CoreJob>);

impl Task for Job {
    type Output = CoreResult<String>;
    type JsValue = String;

    fn compute(&mut self) -> Result<CoreResult<String>> {
        let f = self.0.take().ok_or_else(|| Error::from_reason("job ran twice"))?;
        Ok(caught(f))
    }

    fn resolve(&mut self, env: Env, output: CoreResult<String>) -> Result<String> {
        output.map_err(|e| coded(&env, e))
    }
}

/// A core result as the JSON text index.js parses.
fn to_json_text<T: serde::Serialize>(out: CoreResult<T>) -> CoreResult<String> {
    out.and_then(|v| serde_json::to_string(&v).map_err(|e| AccountsError::new(ErrorCode::InternalError, e.to_string())))
}

/// Operations of class `Hashing` in core's table (tens of ms each) run here instead of on the
/// libuv pool, so a login burst never queues the fast operations (resumeSession, refreshTokens, ...)
/// behind it. As many threads as core's `hashing_threads` for the servers created so far (the
/// largest): more than the hashes core lets run at once, since a login also waits with no hashing
/// permit held (the timing floor, I/O, callbacks); further jobs wait in the queue, not on a thread.
type PoolJob = Box<dyn FnOnce() + Send>;

struct HashingPool {
    jobs: Mutex<mpsc::Sender<PoolJob>>,
    queue: Arc<Mutex<mpsc::Receiver<PoolJob>>>,
    threads: Mutex<usize>,
}

/// The name of the hashing pool's threads, numbered.
const HASHING_THREAD: &str = "accounts-hash-";

static HASHING_POOL: std::sync::OnceLock<HashingPool> = std::sync::OnceLock::new();

fn hashing_pool() -> &'static HashingPool {
    HASHING_POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<PoolJob>();
        HashingPool { jobs: Mutex::new(tx), queue: Arc::new(Mutex::new(rx)), threads: Mutex::new(0) }
    })
}

impl HashingPool {
    /// Starts threads until there are `wanted` (core's answer for a server).
    fn grow(&self, wanted: usize) -> Result<()> {
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        while *threads < wanted {
            let rx = self.queue.clone();
            std::thread::Builder::new()
                .name(format!("{HASHING_THREAD}{threads}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                            Ok(job) => job,
                            Err(_) => return,
                        };
                        job();
                    }
                })
                .map_err(|e| Error::from_reason(format!("accounts-rs: cannot start a hashing thread: {e}")))?;
            *threads += 1;
        }
        Ok(())
    }
}

/// Runs the core call of `op` off the JS thread — on the hashing pool for an operation of class
/// `Hashing` in core's table, else on the libuv pool — and returns the promise of its JSON.
fn run<'e, T: serde::Serialize>(
    env: &'e Env,
    op: &'static Operation,
    f: impl FnOnce() -> CoreResult<T> + Send + 'static,
) -> Result<PromiseRaw<'e, String>> {
    run_job(env, op, Box::new(move || to_json_text(f())))
}

/// [`run`] for a call already answering JSON text.
fn run_job<'e>(env: &'e Env, op: &'static Operation, f: CoreJob) -> Result<PromiseRaw<'e, String>> {
    if op.class != Class::Hashing {
        return Ok(env.spawn(Job(Some(f)))?.promise_object());
    }
    let (deferred, promise) = env.create_deferred::<String, _>()?;
    let job = Box::new(move || {
        let out = caught(f);
        deferred.resolve(move |env: Env| out.map_err(|e| coded(&env, e)));
    });
    hashing_pool()
        .jobs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .map_err(|_| Error::from_reason("accounts-rs: the hashing pool has stopped"))?;
    Ok(PromiseRaw::new(env.raw(), promise.raw()))
}

/// Runs the core call of `op` where its row in core's table says: class `Synchronous` on the
/// calling (JS) thread; `Inline` there too when the core says this server may run it there and
/// nothing it needed was busy — the answer comes without a thread-pool round trip
/// (docs/architecture.md, "Inline calls") —, else on the pool like any call (a call abandoned
/// because it would have waited changed nothing, so running it again is safe); `Hashing` on the
/// hashing pool; `Pool` on the libuv pool. The JS side gets the JSON text or its promise.
fn schedule<'e, T: serde::Serialize + 'static>(
    env: &'e Env,
    server: &Arc<AccountsServer>,
    op: &'static Operation,
    f: impl Fn() -> CoreResult<T> + Send + Sync + 'static,
) -> Result<Either<String, PromiseRaw<'e, String>>> {
    #[cfg(feature = "self-test")]
    let f = move || {
        probe::record(op);
        f()
    };
    let here = |out: CoreResult<String>| out.map(Either::A).map_err(|e| coded(env, e));
    match op.class {
        Class::Synchronous => here(caught(|| to_json_text(f()))),
        Class::Inline if server.may_run_inline(op.js) => {
            let f: SharedJob = Arc::new(move || to_json_text(f()));
            match inline_attempt(env, server, &f)? {
                Some(out) => here(out),
                // Refused: wait on the pool for the store, then once more here (`Retry`).
                None => Ok(Either::B(PromiseRaw::new(env.raw(), Retry::spawn(env, server.clone(), op, f, RETRIES - 1)?))),
            }
        }
        _ => {
            if op.class == Class::Hashing {
                // Core's answer may have grown since (bcrypt hashes imported: the timing floor).
                hashing_pool().grow(server.hashing_threads())?;
            }
            Ok(Either::B(run(env, op, f)?))
        }
    }
}

/// A core call answering JSON text, runnable more than once (an inline attempt, then its retry).
type SharedJob = Arc<dyn Fn() -> CoreResult<String> + Send + Sync>;

/// One inline attempt of `f` on the JS thread: `None` when it would have waited (it changed nothing).
fn inline_attempt(env: &Env, server: &Arc<AccountsServer>, f: &SharedJob) -> Result<Option<CoreResult<String>>> {
    let out = accounts_core::host::inline::without_waiting(|| caught(|| f()));
    // The upkeep inline writes left due (a WAL checkpoint) goes to the pool.
    if out.is_some() && server.maintenance_due() {
        run_maintenance(env, server)?;
    }
    Ok(out)
}

/// A call refused inline (docs/architecture.md, "Inline calls"): it waits on the libuv pool until
/// the store is probably free (`AccountsServer::wait_for_inline`), then runs inline once more on the
/// JS thread; refused [`RETRIES`] more times, it runs on the pool like any call. Running the refused call on the
/// pool straight away made that pool write hold the writer and refuse the next inline calls, so
/// under many calls in flight most of them ended up on the pool.
struct Retry {
    server: Arc<AccountsServer>,
    op: &'static Operation,
    f: SharedJob,
    /// Further waits and attempts after this one's, before the pool runs the call.
    left: u8,
}

/// How many times a refused call waits and tries inline again before it runs on the pool.
const RETRIES: u8 = 2;

impl Retry {
    /// Queues the wait; the promise of the call's JSON text.
    fn spawn(env: &Env, server: Arc<AccountsServer>, op: &'static Operation, f: SharedJob, left: u8) -> Result<sys::napi_value> {
        Ok(env.spawn(Retry { server, op, f, left })?.promise_object().raw())
    }
}

/// A JS value made on the JS thread (the answer's text, or the promise of the pool's run).
struct Made(sys::napi_value);

impl TypeName for Made {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ToNapiValue for Made {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        Ok(val.0)
    }
}

impl Task for Retry {
    type Output = ();
    type JsValue = Made;

    fn compute(&mut self) -> Result<()> {
        let server = self.server.clone();
        let _ = caught(move || server.wait_for_inline()); // a failure only means the pool runs it
        Ok(())
    }

    fn resolve(&mut self, env: Env, _: ()) -> Result<Made> {
        match inline_attempt(&env, &self.server, &self.f)? {
            // SAFETY: `env` is the live env of this JS-thread callback.
            Some(out) => Ok(Made(unsafe { String::to_napi_value(env.raw(), out.map_err(|e| coded(&env, e))?)? })),
            None if self.left > 0 => Ok(Made(Retry::spawn(&env, self.server.clone(), self.op, self.f.clone(), self.left - 1)?)),
            None => {
                let f = self.f.clone();
                Ok(Made(run_job(&env, self.op, Box::new(move || f()))?.raw()))
            }
        }
    }
}

/// Where each core call ran (`self-test` builds only): the thread that ran it, told by what it is —
/// the JS thread, a thread of the hashing pool, or another (a libuv pool thread) — for the test
/// that every method runs where core's table says (bindings/node/test/scheduling.test.js).
#[cfg(feature = "self-test")]
mod probe {
    use super::Operation;
    use std::sync::{Mutex, OnceLock};
    use std::thread::ThreadId;

    pub(crate) static JS_THREAD: OnceLock<ThreadId> = OnceLock::new();
    static RUNS: Mutex<Vec<(&'static str, &'static str)>> = Mutex::new(Vec::new());

    pub(crate) fn record(op: &Operation) {
        let thread = std::thread::current();
        let place = if Some(&thread.id()) == JS_THREAD.get() {
            "js"
        } else if thread.name().is_some_and(|n| n.starts_with(super::HASHING_THREAD)) {
            "hashing"
        } else {
            "libuv"
        };
        RUNS.lock().unwrap_or_else(|p| p.into_inner()).push((op.js, place));
    }

    /// The runs recorded since the last call, oldest first.
    pub(crate) fn take() -> Vec<(&'static str, &'static str)> {
        std::mem::take(&mut *RUNS.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// `[accountsJsName, place]` of every core call since the last call (`place`: js, hashing or
/// libuv); only in builds with the `self-test` feature.
#[cfg(feature = "self-test")]
#[napi]
pub fn self_test_runs() -> Vec<(String, String)> {
    probe::take().into_iter().map(|(op, place)| (op.to_string(), place.to_string())).collect()
}

/// Runs the upkeep inline writes left due (a WAL checkpoint) on the libuv pool; nobody waits for
/// it, and its failure only delays it (the next pool write checkpoints).
fn run_maintenance(env: &Env, server: &Arc<AccountsServer>) -> Result<()> {
    let server = server.clone();
    let f: CoreJob = Box::new(move || {
        let _ = caught(|| server.run_maintenance());
        Ok("null".to_string())
    });
    env.spawn(Job(Some(f)))?;
    Ok(())
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> CoreResult<T> {
    input::parse_json(what, text)
}

fn parse_opt<T: serde::de::DeserializeOwned + Default>(what: &str, text: &Option<String>) -> CoreResult<T> {
    match text {
        None => Ok(T::default()),
        Some(t) => parse(what, t),
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
    pub fn new(env: Env, config_json: String, callback_names: Vec<String>, dispatcher: Option<Dispatcher>) -> Result<Self> {
        let config = Config::from_json(&config_json).map_err(|e| coded(&env, e))?;
        #[cfg(feature = "self-test")]
        let _ = probe::JS_THREAD.set(std::thread::current().id());
        let bridge = Arc::new(Bridge {
            dispatcher,
            pending: Mutex::new(HashMap::new()),
            next: AtomicU32::new(1),
            js_thread: std::thread::current().id(),
            timeout: config.host_callback_timeout,
        });
        let inner = callbacks_for(&bridge, &callback_names).and_then(|cb| AccountsServer::new(config, cb)).map_err(|e| coded(&env, e))?;
        hashing_pool().grow(inner.hashing_threads())?;
        Ok(NativeServer { inner: Arc::new(inner), bridge })
    }

    /// Completes a callback: `resultJson` on success, else `errorJson` `{code?, message?, text?,
    /// thrown?}`: what the callback failed with, read by core's rules (`AccountsError::from_host_failure`).
    #[napi]
    pub fn reply(&self, reply_id: u32, result_json: Option<String>, error_json: Option<String>) -> Result<()> {
        let tx = self.bridge.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&reply_id);
        let Some(tx) = tx else { return Ok(()) };
        let outcome = match (result_json, error_json) {
            (_, Some(e)) => {
                let v: Value = serde_json::from_str(&e).unwrap_or(Value::Null);
                Err(AccountsError::from_host_failure(HostFailure {
                    code: v.get("code"),
                    message: v.get("message"),
                    text: v.get("text").and_then(Value::as_str),
                    handle: v.get("thrown").and_then(Value::as_u64),
                }))
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

    /// The same as `resumeSession`, on the calling (JS) thread.
    #[napi]
    pub fn resume_session_sync(&self, env: Env, access_token: String) -> Result<String> {
        caught(|| to_json_text(self.inner.resume_session(&access_token))).map_err(|e| coded(&env, e))
    }
}

/// The native method of each operation of core's table, named as index.js calls it (the row's
/// service prefix and name: `password_create_user` is `passwordCreateUser`): its arguments as
/// index.js sends them (strings, JSON text), the core call, and the row that schedules it
/// (`schedule`). A call may run twice when an inline attempt is abandoned, so the body only reads
/// its arguments.
macro_rules! operations {
    ($($name:ident($($arg:ident: $ty:ty),*) = $row:ident => |$s:ident| $body:expr;)*) => {
        #[napi]
        impl NativeServer {
            $(
                #[napi(ts_return_type = "string | Promise<string>")]
                pub fn $name<'e>(&self, env: &'e Env, $($arg: $ty),*) -> Result<Either<String, PromiseRaw<'e, String>>> {
                    let $s = self.inner.clone();
                    schedule(env, &self.inner, &ops::$row, move || $body)
                }
            )*
        }
    };
}

type Json = String;
type OptJson = Option<String>;

operations! {
    login_with_service(service: String, params: Json, infos: OptJson) = LOGIN_WITH_SERVICE =>
        |s| s.login_with_service(&service, &parse::<Value>("params", &params)?, &parse_opt("infos", &infos)?);
    authenticate_with_service(service: String, params: Json, infos: OptJson) = AUTHENTICATE_WITH_SERVICE =>
        |s| s.authenticate_with_service(&service, &parse::<Value>("params", &params)?, &parse_opt("infos", &infos)?);
    login_with_user(user: Json, infos: OptJson) = LOGIN_WITH_USER =>
        |s| s.login_with_user(&input::user_id_argument(&parse::<Value>("user", &user)?)?, &parse_opt("infos", &infos)?);
    resume_session(access_token: String) = RESUME_SESSION => |s| s.resume_session(&access_token);
    refresh_tokens(access_token: String, refresh_token: String, infos: OptJson) = REFRESH_TOKENS =>
        |s| s.refresh_tokens(&access_token, &refresh_token, &parse_opt("infos", &infos)?);
    logout(access_token: String) = LOGOUT => |s| s.logout(&access_token);
    impersonate(access_token: String, impersonated: Json, infos: OptJson) = IMPERSONATE =>
        |s| s.impersonate(&access_token, &parse::<ImpersonationTarget>("impersonated", &impersonated)?, &parse_opt("infos", &infos)?);
    find_user_by_id(user_id: String) = FIND_USER_BY_ID => |s| s.find_user_by_id(&user_id);
    find_session_by_access_token(access_token: String) = FIND_SESSION_BY_ACCESS_TOKEN => |s| s.find_session_by_access_token(&access_token);
    deactivate_user(user_id: String) = DEACTIVATE_USER => |s| s.deactivate_user(&user_id);
    activate_user(user_id: String) = ACTIVATE_USER => |s| s.activate_user(&user_id);
    list_sessions(user_id: String) = LIST_SESSIONS => |s| s.list_sessions(&user_id);
    revoke_session(session_id: String) = REVOKE_SESSION => |s| s.revoke_session(&session_id);
    revoke_all_sessions(user_id: String, options: OptJson) = REVOKE_ALL_SESSIONS =>
        |s| s.revoke_all_sessions(&user_id, &parse_opt::<RevokeAllOptions>("options", &options)?);
    import_users(records: Json) = IMPORT_USERS => |s| s.import_users(&parse::<Vec<Value>>("records", &records)?);
    purge_expired() = PURGE_EXPIRED => |s| s.purge_expired();
    reseal_all() = RESEAL_ALL => |s| s.reseal_all();
    get_jwks() = GET_JWKS => |s| Ok(s.jwks());
    set_keys(token_keys: Json) = SET_KEYS => |s| s.set_keys(&parse::<Value>("tokenKeys", &token_keys)?);
    handle_http(request: Json) = HANDLE_HTTP => |s| Ok(s.handle_http(&parse::<HttpRequest>("request", &request)?));
    http_user(request: Json) = HTTP_USER =>
        |s| Ok(s.http_user(&parse::<HttpRequest>("request", &request)?)?.map(|(user, token)| json!({ "user": user, "accessToken": token })));

    password_create_user(user: Json) = CREATE_USER => |s| s.password().create_user(&parse::<Value>("user", &user)?);
    password_authenticate(params: Json) = AUTHENTICATE => |s| s.password().authenticate(&parse::<Value>("params", &params)?);
    password_find_user_by_email(email: String) = FIND_USER_BY_EMAIL => |s| s.password().find_user_by_email(&email);
    password_find_user_by_username(username: String) = FIND_USER_BY_USERNAME => |s| s.password().find_user_by_username(&username);
    password_set_password(user_id: String, password: String) = SET_PASSWORD => |s| s.password().set_password(&user_id, &password);
    password_add_email(user_id: String, email: String, verified: bool) = ADD_EMAIL => |s| s.password().add_email(&user_id, &email, verified);
    password_remove_email(user_id: String, email: String) = REMOVE_EMAIL => |s| s.password().remove_email(&user_id, &email);
    password_send_verification_email(address: String) = SEND_VERIFICATION_EMAIL => |s| s.password().send_verification_email(&address);
    password_verify_email(token: String) = VERIFY_EMAIL => |s| s.password().verify_email(&token);
    password_send_reset_password_email(address: String) = SEND_RESET_PASSWORD_EMAIL => |s| s.password().send_reset_password_email(&address);
    password_send_enrollment_email(address: String) = SEND_ENROLLMENT_EMAIL => |s| s.password().send_enrollment_email(&address);
    password_reset_password(token: String, new_password: String, infos: OptJson, code: Option<String>) = RESET_PASSWORD =>
        |s| s.password().reset_password(&token, &new_password, code.as_deref(), &parse_opt("infos", &infos)?);
    password_change_password(user_id: String, old_password: String, new_password: String) = CHANGE_PASSWORD =>
        |s| s.password().change_password(&user_id, &old_password, &new_password);

    two_factor_get_new_auth_secret() = GET_NEW_AUTH_SECRET => |s| s.password().two_factor().get_new_auth_secret();
    two_factor_set(user_id: String, secret: Json, code: String) = SET_TWO_FACTOR =>
        |s| s.password().two_factor().set(&user_id, &input::base32_secret_argument(&parse::<Value>("secret", &secret)?)?, &code);
    two_factor_unset(user_id: String, code: String) = UNSET_TWO_FACTOR => |s| s.password().two_factor().unset(&user_id, &code);
    two_factor_regenerate_recovery_codes(user_id: String, code: String) = REGENERATE_RECOVERY_CODES =>
        |s| s.password().two_factor().regenerate_recovery_codes(&user_id, &code);
    two_factor_is_set(user_id: String) = IS_TWO_FACTOR_SET => |s| s.password().two_factor().is_set(&user_id);

    magic_link_request_magic_link_email(email: String) = REQUEST_MAGIC_LINK_EMAIL => |s| s.magic_link().request_magic_link_email(&email);

    oauth_authorization_url(provider: String, options: OptJson, infos: OptJson) = AUTHORIZATION_URL =>
        |s| s.oauth().authorization_url(&provider, &parse_opt::<Value>("options", &options)?, &parse_opt("infos", &infos)?);
    oauth_check_providers() = CHECK_PROVIDERS => |s| s.oauth().check_providers();
    oauth_link_account(user_id: String, provider: String, params: Json) = LINK_ACCOUNT =>
        |s| s.oauth().link_account(&user_id, &provider, &parse::<Value>("params", &params)?);
    oauth_unlink_account(user_id: String, provider: String) = UNLINK_ACCOUNT => |s| s.oauth().unlink_account(&user_id, &provider);
    oauth_list_linked_accounts(user_id: String) = LIST_LINKED_ACCOUNTS => |s| s.oauth().list_linked_accounts(&user_id);
    oauth_provider_tokens(user_id: String, provider: String) = PROVIDER_TOKENS => |s| s.oauth().provider_tokens(&user_id, &provider);

    webauthn_registration_options(user_id: String) = REGISTRATION_OPTIONS => |s| s.webauthn().registration_options(&user_id);
    webauthn_register(user_id: String, response: Json, options: OptJson) = REGISTER =>
        |s| s.webauthn().register(&user_id, &parse::<Value>("response", &response)?, &parse_opt::<Value>("options", &options)?);
    webauthn_authentication_options(options: OptJson, infos: OptJson) = AUTHENTICATION_OPTIONS =>
        |s| s.webauthn().authentication_options(&parse_opt::<Value>("options", &options)?, &parse_opt("infos", &infos)?);
    webauthn_list_passkeys(user_id: String) = LIST_PASSKEYS => |s| s.webauthn().list_passkeys(&user_id);
    webauthn_rename_passkey(user_id: String, passkey_id: String, name: String) = RENAME_PASSKEY =>
        |s| s.webauthn().rename_passkey(&user_id, &passkey_id, &name);
    webauthn_remove_passkey(user_id: String, passkey_id: String) = REMOVE_PASSKEY => |s| s.webauthn().remove_passkey(&user_id, &passkey_id);
}

/// Runs a job that panics, scheduled as the operation named `operation` (its accounts-js name) is
/// by core's table: the promise rejects with `InternalError` and Node keeps running. For the tests
/// that prove every job catches panics; only in builds with the `self-test` feature (`make
/// node-build`), never in a release.
#[cfg(feature = "self-test")]
#[napi(ts_return_type = "Promise<string>")]
pub fn self_test_panic<'e>(env: &'e Env, operation: String) -> Result<PromiseRaw<'e, String>> {
    let op = ops::ALL.iter().find(|op| op.js == operation).ok_or_else(|| Error::from_reason(format!("no operation {operation}")))?;
    hashing_pool().grow(1)?;
    run(env, op, move || -> CoreResult<()> { panic!("self-test panic in {operation}") })
}

/// `[accountsJsName, class]` for every operation of core's table (`class`: hashing, inline, pool
/// or synchronous), so tests can check each method runs where the table says.
#[napi]
pub fn operation_classes() -> Vec<(String, String)> {
    ops::ALL.iter().map(|op| (op.js.to_string(), op.class.name().to_string())).collect()
}

/// `[code, number, isInputError]` for every error code, in number order.
#[napi]
pub fn error_codes() -> Vec<(String, u32, bool)> {
    ErrorCode::ALL.iter().map(|c| (c.as_str().to_string(), c.number(), c.is_input_error())).collect()
}

/// Verifies an access token without a server; resolves nothing async (no I/O): returns the
/// claims as JSON text, or throws the coded error.
#[napi]
pub fn verify_access_token(env: Env, token: String, options_json: String) -> Result<String> {
    #[cfg(feature = "self-test")]
    probe::record(&ops::VERIFY_ACCESS_TOKEN);
    caught(|| {
        let options: accounts_core::VerifyOptions = parse("options", &options_json)?;
        to_json_text(accounts_core::verify_access_token(&token, &options))
    })
    .map_err(|e| coded(&env, e))
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
