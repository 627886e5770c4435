//! Python bindings: a thin pyo3 layer over accounts-core. Converts dicts <-> JSON values, releases
//! the GIL around every core call, adapts Python callables as callbacks and maps error codes to the
//! exception classes defined in `accounts/_errors.py`.

use accounts_core::callbacks::{CALLBACK_NAMES, Callbacks, HostCall, ListenerFn};
use accounts_core::error::HostFailure;
use accounts_core::host::input;
use accounts_core::operations::{self as ops, Class, Operation};
use accounts_core::web::HttpRequest;
use accounts_core::{AccountsError, AccountsServer, Config, ErrorCode};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};
use std::sync::Arc;

/// The exception classes by code, registered by `accounts/__init__.py` at import.
static ERROR_CLASSES: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

/// Exceptions raised by callbacks, by handle, until the call they failed raises them again (the
/// very exception object). Bounded: one the core swallowed (a failing error listener) is dropped.
static RAISED: std::sync::Mutex<std::collections::BTreeMap<u64, PyErr>> = std::sync::Mutex::new(std::collections::BTreeMap::new());
static NEXT_RAISED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
const MAX_RAISED: usize = 1024;

fn remember_raised(err: PyErr) -> u64 {
    let handle = NEXT_RAISED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut raised = RAISED.lock().unwrap_or_else(|p| p.into_inner());
    raised.insert(handle, err);
    while raised.len() > MAX_RAISED {
        raised.pop_first();
    }
    handle
}

const MAX_DEPTH: usize = 64;

fn to_pyerr(py: Python<'_>, e: AccountsError) -> PyErr {
    if let Some(handle) = e.host.as_ref().and_then(|h| h.handle)
        && let Some(original) = RAISED.lock().unwrap_or_else(|p| p.into_inner()).remove(&handle)
    {
        return original; // the very exception the callback raised
    }
    let build = || -> PyResult<PyErr> {
        let classes = ERROR_CLASSES.get(py).ok_or_else(|| PyRuntimeError::new_err("accounts error classes not registered"))?;
        let cls = classes.bind(py).get_item(e.code.as_str())?.ok_or_else(|| PyRuntimeError::new_err("unknown error code"))?;
        let exc = cls.call1((e.message.clone(),))?;
        if let Some(d) = &e.details {
            exc.setattr("details", to_py(py, d)?)?;
        }
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|err| err)
}

fn invalid(what: impl Into<String>) -> AccountsError {
    AccountsError::new(ErrorCode::InvalidArgument, what)
}

/// JSON value -> Python object.
fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (_, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let list = PyList::empty(py);
            for x in a {
                list.append(to_py(py, x)?)?;
            }
            list.into_any()
        }
        Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

fn ser_to_py<'py, T: serde::Serialize>(py: Python<'py>, v: &T) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(v).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    to_py(py, &value)
}

/// Python object -> JSON value; anything that is not JSON-shaped is an `InvalidArgument`.
fn from_py(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, AccountsError> {
    if depth > MAX_DEPTH {
        return Err(invalid("value is nested too deeply"));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(invalid("integer out of range"));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value()).map(Value::Number).ok_or_else(|| invalid("float must be finite"));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_cow().map_err(|_| invalid("string is not valid UTF-8"))?;
        input::check_size("string", &s)?;
        return Ok(Value::String(s.to_string()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::new();
        for (k, v) in d.iter() {
            let key = k.cast::<PyString>().map_err(|_| invalid("dict keys must be strings"))?;
            m.insert(key.to_cow().map_err(|_| invalid("key is not valid UTF-8"))?.to_string(), from_py(&v, depth + 1)?);
        }
        return Ok(Value::Object(m));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for item in obj.try_iter().map_err(|_| invalid("not iterable"))? {
            out.push(from_py(&item.map_err(|_| invalid("iteration failed"))?, depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    Err(invalid(format!("unsupported type {}", obj.get_type().name().map(|n| n.to_string()).unwrap_or_default())))
}

fn arg_str(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    match obj.cast::<PyString>() {
        Ok(s) => {
            let s = s.to_cow().map_err(|_| to_pyerr(py, invalid(format!("{what} is not valid UTF-8"))))?;
            input::check_size(what, &s).map_err(|e| to_pyerr(py, e))?;
            Ok(s.to_string())
        }
        Err(_) => Err(to_pyerr(py, invalid(format!("{what} must be a str")))),
    }
}

/// A token argument: `None` is the empty token, which the core reports as accounts-js does for a
/// missing token (`InvalidToken`, or `InvalidTokens` in refresh_tokens).
fn arg_token(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    if obj.is_none() { Ok(String::new()) } else { arg_str(py, obj, what) }
}

fn arg_json(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    from_py(obj, 0).map_err(|e| to_pyerr(py, e))
}

fn arg_typed<T: serde::de::DeserializeOwned + Default>(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<T> {
    match obj {
        None => Ok(T::default()),
        Some(o) if o.is_none() => Ok(T::default()),
        Some(o) => serde_json::from_value(arg_json(py, o)?).map_err(|e| to_pyerr(py, invalid(format!("{what}: {e}")))),
    }
}

/// The argument conversions of the operation methods (`py_operations!`): each takes the argument
/// as given (`None` when left out or passed as None) and its Python name.
mod arg {
    use super::*;

    type Given<'a, 'py> = Option<&'a Bound<'py, PyAny>>;

    /// A string (None is refused as any other non-string).
    pub(crate) fn str(py: Python<'_>, obj: Given<'_, '_>, what: &str) -> PyResult<String> {
        match obj {
            Some(o) => arg_str(py, o, what),
            None => Err(to_pyerr(py, invalid(format!("{what} must be a str")))),
        }
    }

    /// A string or None.
    pub(crate) fn opt_str(py: Python<'_>, obj: Given<'_, '_>, what: &str) -> PyResult<Option<String>> {
        obj.filter(|o| !o.is_none()).map(|o| arg_str(py, o, what)).transpose()
    }

    /// A token: None is the empty token (see `arg_token`).
    pub(crate) fn token(py: Python<'_>, obj: Given<'_, '_>, what: &str) -> PyResult<String> {
        obj.map_or(Ok(String::new()), |o| arg_token(py, o, what))
    }

    /// Any JSON value (None is null).
    pub(crate) fn json(py: Python<'_>, obj: Given<'_, '_>, _what: &str) -> PyResult<Value> {
        obj.map_or(Ok(Value::Null), |o| arg_json(py, o))
    }

    /// A list of JSON values.
    pub(crate) fn list(py: Python<'_>, obj: Given<'_, '_>, what: &str) -> PyResult<Vec<Value>> {
        match json(py, obj, what)? {
            Value::Array(items) => Ok(items),
            _ => Err(to_pyerr(py, invalid(format!("{what} must be a list")))),
        }
    }

    /// A core options type (`ConnectionInfo`, ...): None is its default.
    pub(crate) fn typed<T: serde::de::DeserializeOwned + Default>(py: Python<'_>, obj: Given<'_, '_>, what: &str) -> PyResult<T> {
        arg_typed(py, obj, what)
    }
}

/// Calls a Python callable from a core thread (taking the GIL). An exception it raises travels
/// through the core by handle (with its `code` attribute as the code string, when it has one), so
/// the call raises that very exception.
fn call_py(func: &Py<PyAny>, args: &[Value]) -> Result<Value, AccountsError> {
    Python::attach(|py| {
        let mut py_args = Vec::with_capacity(args.len());
        for a in args {
            py_args.push(to_py(py, a).map_err(|e| AccountsError::new(ErrorCode::InternalError, e.to_string()))?);
        }
        let tuple = PyTuple::new(py, py_args).map_err(|e| AccountsError::new(ErrorCode::InternalError, e.to_string()))?;
        match func.bind(py).call1(tuple) {
            Ok(ret) => from_py(&ret, 0).map_err(|e| AccountsError::new(ErrorCode::CallbackError, format!("callback returned {}", e.message))),
            Err(err) => {
                // What the exception carries; core decides what the error is (from_host_failure).
                let value = err.value(py);
                let code = value.getattr("code").ok().and_then(|c| from_py(&c, 0).ok());
                let message = value.str().ok().map(|m| Value::String(m.to_string()));
                let text = value.repr().map(|r| r.to_string()).unwrap_or_else(|_| "an exception".into());
                let failure = HostFailure { code: code.as_ref(), message: message.as_ref(), text: Some(&text), handle: None };
                let handle = remember_raised(err);
                Err(AccountsError::from_host_failure(HostFailure { handle: Some(handle), ..failure }))
            }
        }
    })
}

/// Builds core callbacks from Python callables, keyed by their camelCase names.
fn callbacks_from(py: Python<'_>, given: &[(String, Py<PyAny>)]) -> PyResult<Callbacks> {
    let mut c = Callbacks::default();
    for (name, f) in given {
        if !f.bind(py).is_callable() {
            return Err(to_pyerr(py, AccountsError::new(ErrorCode::InvalidConfig, format!("{name} must be callable"))));
        }
        let f = f.clone_ref(py);
        c.set_host(name, Arc::new(move |call: &HostCall<'_>| call_py(&f, call.args).map(Some))).map_err(|e| to_pyerr(py, e))?;
    }
    Ok(c)
}

/// snake_case option names -> the camelCase JSON keys of the config.
fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for ch in key.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// The accounts-js server. Every method releases the GIL while core works.
#[pyclass(module = "accounts", name = "AccountsServer", frozen)]
struct PyServer {
    inner: Arc<AccountsServer>,
}

/// `server.password`: the password service.
#[pyclass(module = "accounts", name = "PasswordService", frozen)]
struct PyPassword {
    inner: Arc<AccountsServer>,
}

/// `server.password.two_factor`: TOTP two-factor authentication.
#[pyclass(module = "accounts", name = "TwoFactor", frozen)]
struct PyTwoFactor {
    inner: Arc<AccountsServer>,
}

/// `server.magic_link`: the magic link service.
#[pyclass(module = "accounts", name = "MagicLinkService", frozen)]
struct PyMagicLink {
    inner: Arc<AccountsServer>,
}

/// `server.oauth`: links between provider identities and users (docs/oauth.md).
#[pyclass(module = "accounts", name = "OAuthService", frozen)]
struct PyOAuth {
    inner: Arc<AccountsServer>,
}

/// Runs a core call without the GIL; a panic below becomes `InternalError` (never a
/// `PanicException` escaping into the host, never an abort).
macro_rules! core_call {
    ($py:expr, $body:expr) => {
        $py.detach(|| caught(|| $body)).map_err(|e| to_pyerr($py, e))
    };
}

fn caught<T>(f: impl FnOnce() -> Result<T, AccountsError>) -> Result<T, AccountsError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| Err(AccountsError::new(ErrorCode::InternalError, "internal panic")))
}

/// Runs the core call of `op` as its row's class says: without the GIL (and off the event loop in
/// `accounts.aio`), but for class `Synchronous` (no I/O, no hashing) on the calling thread.
fn call<T: Send>(py: Python<'_>, op: &Operation, f: impl FnOnce() -> Result<T, AccountsError> + Send) -> PyResult<T> {
    let out = if op.class == Class::Synchronous { caught(f) } else { py.detach(|| caught(f)) };
    out.map_err(|e| to_pyerr(py, e))
}

/// The `#[pymethods]` of a class: its hand-written methods, then one method per row of core's
/// operation table — its Python name, its arguments with their conversion (`arg::*`) and
/// defaults, the row, and the core call — returning the core result as Python values.
macro_rules! py_operations {
    ($class:ty { $($extra:item)* } $($(#[$meta:meta])* $name:ident($($arg:ident: $conv:ident $(= $default:tt)?),*) = $row:ident => |$s:ident| $body:expr;)*) => {
        #[pymethods]
        impl $class {
            $($extra)*
            $(
                $(#[$meta])*
                #[pyo3(signature = ($($arg $(= $default)?),*))]
                fn $name<'py>(&self, py: Python<'py>, $($arg: Option<&Bound<'py, PyAny>>),*) -> PyResult<Bound<'py, PyAny>> {
                    $(let $arg = arg::$conv(py, $arg, stringify!($arg))?;)*
                    let $s = &self.inner;
                    let out = call(py, &ops::$row, || $body)?;
                    ser_to_py(py, &out)
                }
            )*
        }
    };
}

/// `(status, headers, body)` of `handle_http`.
type HttpAnswer<'py> = (u16, Vec<(String, String)>, Bound<'py, pyo3::types::PyBytes>);

py_operations! {
    PyServer {
        /// `AccountsServer(config=None, *, db=..., token_secret=..., <option>=..., <callback>=...)`.
        /// Options use snake_case (`token_secret`) or the camelCase config keys; callbacks are callables.
        #[new]
        #[pyo3(signature = (config=None, **kwargs))]
        fn new(py: Python<'_>, config: Option<&Bound<'_, PyAny>>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
            let mut cfg = match config {
                None => Map::new(),
                Some(c) => match arg_json(py, c)? {
                    Value::Object(m) => m,
                    _ => return Err(to_pyerr(py, AccountsError::new(ErrorCode::InvalidConfig, "config must be a dict"))),
                },
            };
            let mut given: Vec<(String, Py<PyAny>)> = Vec::new();
            if let Some(kw) = kwargs {
                for (k, v) in kw.iter() {
                    let key = camel(&k.extract::<String>()?);
                    if CALLBACK_NAMES.contains(&key.as_str()) {
                        if !v.is_none() {
                            given.push((key, v.unbind()));
                        }
                        continue;
                    }
                    cfg.insert(key, arg_json(py, &v)?);
                }
            }
            let config = Config::from_value(Value::Object(cfg)).map_err(|e| to_pyerr(py, e))?;
            let callbacks = callbacks_from(py, &given)?;
            let inner = core_call!(py, AccountsServer::new(config, callbacks))?;
            Ok(PyServer { inner: Arc::new(inner) })
        }

        /// Builds a server from a camelCase config dict (the JSON config of the other languages);
        /// callbacks are given as keyword arguments.
        #[staticmethod]
        #[pyo3(signature = (config, **callbacks))]
        fn from_config(py: Python<'_>, config: &Bound<'_, PyAny>, callbacks: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
            if let Some(cb) = callbacks {
                for k in cb.keys() {
                    let key: String = k.extract()?;
                    if !CALLBACK_NAMES.contains(&camel(&key).as_str()) {
                        return Err(to_pyerr(py, AccountsError::new(ErrorCode::InvalidConfig, format!("{key} is not a callback"))));
                    }
                }
            }
            PyServer::new(py, Some(config), callbacks)
        }

        /// The effective options as a dict (camelCase keys; the secret shows as "[redacted]").
        #[getter]
        fn options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            ser_to_py(py, self.inner.options())
        }

        /// The password service.
        #[getter]
        fn password(&self) -> PyPassword {
            PyPassword { inner: self.inner.clone() }
        }

        /// The magic link service.
        #[getter]
        fn magic_link(&self) -> PyMagicLink {
            PyMagicLink { inner: self.inner.clone() }
        }

        /// The OAuth service (links between provider identities and users).
        #[getter]
        fn oauth(&self) -> PyOAuth {
            PyOAuth { inner: self.inner.clone() }
        }

        /// The passkey service (docs/passkeys.md); its methods raise `ServiceNotFound` unless
        /// `services.webauthn` is configured.
        #[getter]
        fn webauthn(&self) -> PyWebAuthn {
            PyWebAuthn { inner: self.inner.clone() }
        }

        /// Names of the registered services.
        fn get_services(&self) -> Vec<String> {
            self.inner.service_names()
        }

        /// Adds an event listener `fn(payload: dict)`; returns its id for `off`.
        fn on(&self, py: Python<'_>, event: &Bound<'_, PyAny>, listener: Py<PyAny>) -> PyResult<u64> {
            let event = arg_str(py, event, "event")?;
            if !listener.bind(py).is_callable() {
                return Err(to_pyerr(py, invalid("listener must be callable")));
            }
            let f: Arc<ListenerFn> = Arc::new(move |_event: &str, payload: &Value| call_py(&listener, std::slice::from_ref(payload)).map(|_| ()));
            Ok(self.inner.on(&event, f))
        }

        /// Removes a listener; returns whether it was registered.
        fn off(&self, listener_id: u64) -> bool {
            self.inner.off(listener_id)
        }

        /// Serves one request of the accounts-js REST API (docs/web.md): `(status, headers, body)`.
        /// `headers`: `(name, value)` pairs; `peer`: the connection's address (not an IP address: unknown).
        #[pyo3(signature = (method, path, headers, body, peer=None, query=None))]
        #[allow(clippy::too_many_arguments)] // the Python signature, one argument per request part
        fn handle_http<'py>(
            &self,
            py: Python<'py>,
            method: String,
            path: String,
            headers: Vec<(String, String)>,
            body: Vec<u8>,
            peer: Option<String>,
            query: Option<String>,
        ) -> PyResult<HttpAnswer<'py>> {
            let request = HttpRequest { method, path, query, headers, body, peer: HttpRequest::peer_from(peer.as_deref()) };
            let response = py.detach(|| self.inner.handle_http(&request));
            Ok((response.status, response.headers, pyo3::types::PyBytes::new(py, &response.body)))
        }

        /// The user of a request to one of the app's own routes and the access token that resumed their
        /// session, or None: the bearer token, else in cookie mode the access cookie with the CSRF
        /// checks. Raises `CsrfRefused` / `MalformedRequest` (`details["status"]`: 403 / 400).
        #[pyo3(signature = (method, path, headers, peer=None))]
        fn http_user<'py>(
            &self,
            py: Python<'py>,
            method: String,
            path: String,
            headers: Vec<(String, String)>,
            peer: Option<String>,
        ) -> PyResult<Option<(Bound<'py, PyAny>, String)>> {
            let request = HttpRequest { method, path, query: None, headers, body: Vec::new(), peer: HttpRequest::peer_from(peer.as_deref()) };
            match core_call!(py, self.inner.http_user(&request))? {
                Some((user, token)) => Ok(Some((ser_to_py(py, &user)?, token))),
                None => Ok(None),
            }
        }
    }
    login_with_service(service: str, params: json, infos: typed = None) = LOGIN_WITH_SERVICE =>
        |s| s.login_with_service(&service, &params, &infos);
    authenticate_with_service(service: str, params: json, infos: typed = None) = AUTHENTICATE_WITH_SERVICE =>
        |s| s.authenticate_with_service(&service, &params, &infos);
    /// Logs in a user (a user dict with an `id`, or an id) without credentials.
    login_with_user(user: json, infos: typed = None) = LOGIN_WITH_USER =>
        |s| s.login_with_user(&input::user_id_argument(&user)?, &infos);
    resume_session(access_token: token) = RESUME_SESSION => |s| s.resume_session(&access_token);
    refresh_tokens(access_token: token, refresh_token: token, infos: typed = None) = REFRESH_TOKENS =>
        |s| s.refresh_tokens(&access_token, &refresh_token, &infos);
    logout(access_token: token) = LOGOUT => |s| s.logout(&access_token);
    impersonate(access_token: token, impersonated: typed, infos: typed = None) = IMPERSONATE =>
        |s| s.impersonate(&access_token, &impersonated, &infos);
    find_user_by_id(user_id: str) = FIND_USER_BY_ID => |s| s.find_user_by_id(&user_id);
    find_session_by_access_token(access_token: token) = FIND_SESSION_BY_ACCESS_TOKEN => |s| s.find_session_by_access_token(&access_token);
    deactivate_user(user_id: str) = DEACTIVATE_USER => |s| s.deactivate_user(&user_id);
    activate_user(user_id: str) = ACTIVATE_USER => |s| s.activate_user(&user_id);
    list_sessions(user_id: str) = LIST_SESSIONS => |s| s.list_sessions(&user_id);
    revoke_session(session_id: str) = REVOKE_SESSION => |s| s.revoke_session(&session_id);
    revoke_all_sessions(user_id: str, options: typed = None) = REVOKE_ALL_SESSIONS =>
        |s| s.revoke_all_sessions(&user_id, &options);
    /// Imports users stored by accounts-js (a list of mongo documents or typeorm rows); returns
    /// `{"imported", "skipped", "failed": [{"index", "code", "message"}]}`.
    import_users(records: list) = IMPORT_USERS => |s| s.import_users(&records);
    /// The JWKS document of the token signing key (`{"keys": [...]}`; empty for an HMAC secret).
    get_jwks() = GET_JWKS => |s| Ok(s.jwks());
    /// Deletes expired link tokens and failed-attempt counters; returns `{"tokens", "attempts"}`.
    purge_expired() = PURGE_EXPIRED => |s| s.purge_expired();
    /// Replaces the JWT key ring without a restart (`token_keys`: `{"current": kid, "keys": [...]}`).
    set_keys(token_keys: json) = SET_KEYS => |s| s.set_keys(&token_keys);
    /// Seals every two-factor secret still under an earlier sealing key with the current one; returns how many.
    reseal_all() = RESEAL_ALL => |s| s.reseal_all();
}

py_operations! {
    PyPassword {
        /// The two-factor part of the service.
        #[getter]
        fn two_factor(&self) -> PyTwoFactor {
            PyTwoFactor { inner: self.inner.clone() }
        }

        /// Hand-written: `verified` defaults to `False`, which a signature of the macro cannot say.
        #[pyo3(signature = (user_id, email, verified=false))]
        fn add_email<'py>(&self, py: Python<'py>, user_id: &Bound<'py, PyAny>, email: &Bound<'py, PyAny>, verified: bool) -> PyResult<()> {
            let (id, email) = (arg_str(py, user_id, "user_id")?, arg_str(py, email, "email")?);
            call(py, &ops::ADD_EMAIL, || self.inner.password().add_email(&id, &email, verified))
        }
    }
    /// Creates a user from `{"username"?, "email"?, "password"?, ...profile}`; returns the id.
    create_user(user: json) = CREATE_USER => |s| s.password().create_user(&user);
    authenticate(params: json) = AUTHENTICATE => |s| s.password().authenticate(&params);
    find_user_by_email(email: str) = FIND_USER_BY_EMAIL => |s| s.password().find_user_by_email(&email);
    find_user_by_username(username: str) = FIND_USER_BY_USERNAME => |s| s.password().find_user_by_username(&username);
    set_password(user_id: str, password: str) = SET_PASSWORD => |s| s.password().set_password(&user_id, &password);
    remove_email(user_id: str, email: str) = REMOVE_EMAIL => |s| s.password().remove_email(&user_id, &email);
    send_verification_email(address: str) = SEND_VERIFICATION_EMAIL => |s| s.password().send_verification_email(&address);
    verify_email(token: str) = VERIFY_EMAIL => |s| s.password().verify_email(&token);
    send_reset_password_email(address: str) = SEND_RESET_PASSWORD_EMAIL => |s| s.password().send_reset_password_email(&address);
    send_enrollment_email(address: str) = SEND_ENROLLMENT_EMAIL => |s| s.password().send_enrollment_email(&address);
    /// Returns a LoginResult with `returnTokensAfterResetPassword` (for a user with two-factor on,
    /// only when `code` is valid), else None.
    reset_password(token: str, new_password: str, infos: typed = None, code: opt_str = None) = RESET_PASSWORD =>
        |s| s.password().reset_password(&token, &new_password, code.as_deref(), &infos);
    change_password(user_id: str, old_password: str, new_password: str) = CHANGE_PASSWORD =>
        |s| s.password().change_password(&user_id, &old_password, &new_password);
}

py_operations! {
    PyTwoFactor {}
    /// A new secret in speakeasy's shape: `{"ascii", "hex", "base32", "otpauthUrl", "otpauth_url"}` (the same URL; accounts-js reads `otpauth_url`).
    get_new_auth_secret() = GET_NEW_AUTH_SECRET => |s| s.password().two_factor().get_new_auth_secret();
    /// Turns two-factor on; `secret` is the base32 string or the dict from `get_new_auth_secret`.
    /// Returns the recovery codes.
    set(user_id: str, secret: json, code: str) = SET_TWO_FACTOR =>
        |s| s.password().two_factor().set(&user_id, &input::base32_secret_argument(&secret)?, &code);
    unset(user_id: str, code: str) = UNSET_TWO_FACTOR => |s| s.password().two_factor().unset(&user_id, &code);
    regenerate_recovery_codes(user_id: str, code: str) = REGENERATE_RECOVERY_CODES =>
        |s| s.password().two_factor().regenerate_recovery_codes(&user_id, &code);
    is_set(user_id: str) = IS_TWO_FACTOR_SET => |s| s.password().two_factor().is_set(&user_id);
}

py_operations! {
    PyMagicLink {}
    /// Mails a login link; log in with `login_with_service("magicLink", {"token": ...})`.
    request_magic_link_email(email: str) = REQUEST_MAGIC_LINK_EMAIL => |s| s.magic_link().request_magic_link_email(&email);
}

/// Python spells the options of `authorization_url` in snake_case (`login_hint`), as its other
/// options; core takes the camelCase keys and refuses unknown ones.
fn camel_keys(options: Value) -> Value {
    match options {
        Value::Object(given) => Value::Object(given.into_iter().map(|(k, v)| (camel(&k), v)).collect()),
        other => other,
    }
}

py_operations! {
    PyOAuth {}
    /// Starts an OpenID Connect login: `{"url", "state"}` (redirect the browser to `url`).
    /// `options`: `{"login_hint"?, "prompt"?}` (the camelCase spelling works too; others are refused).
    /// `infos`: the client's `{"ip", "userAgent"}` (its address bounds its pending flows).
    authorization_url(provider: str, options: json = None, infos: typed = None) = AUTHORIZATION_URL =>
        |s| s.oauth().authorization_url(&provider, &camel_keys(options), &infos);
    /// Fetches every OpenID provider's discovery document and keys (call it at startup); raises
    /// `ProviderError` (`details["provider"]` names it) on the first that fails.
    check_providers() = CHECK_PROVIDERS => |s| s.oauth().check_providers();
    /// Links the identity `params` prove at `provider` to the logged-in user; returns the link.
    link_account(user_id: str, provider: str, params: json) = LINK_ACCOUNT => |s| s.oauth().link_account(&user_id, &provider, &params);
    /// Removes the user's identity of `provider` (never their last way to log in).
    unlink_account(user_id: str, provider: str) = UNLINK_ACCOUNT => |s| s.oauth().unlink_account(&user_id, &provider);
    /// The provider's own tokens from the user's last login or link (with `storeTokens`), else None.
    provider_tokens(user_id: str, provider: str) = PROVIDER_TOKENS => |s| s.oauth().provider_tokens(&user_id, &provider);
    /// The user's linked identities, by provider name.
    list_linked_accounts(user_id: str) = LIST_LINKED_ACCOUNTS => |s| s.oauth().list_linked_accounts(&user_id);
}

/// `server.webauthn`: passkeys (docs/passkeys.md). Every method raises `ServiceNotFound` when
/// `services.webauthn` is not configured.
#[pyclass(module = "accounts", name = "WebAuthnService", frozen)]
struct PyWebAuthn {
    inner: Arc<AccountsServer>,
}

py_operations! {
    PyWebAuthn {}
    /// The PublicKeyCredentialCreationOptionsJSON for `navigator.credentials.create` (adding a
    /// passkey to the user).
    registration_options(user_id: str) = REGISTRATION_OPTIONS => |s| s.webauthn().registration_options(&user_id);
    /// Verifies the browser's RegistrationResponseJSON (`credential.toJSON()`) and stores the
    /// passkey; `options`: `{"name"?}`. Returns the passkey.
    register(user_id: str, response: json, options: json = None) = REGISTER => |s| s.webauthn().register(&user_id, &response, &options);
    /// The PublicKeyCredentialRequestOptionsJSON for `navigator.credentials.get`; `options`:
    /// `{"userId"? | "username"? | "email"?}`, none for a usernameless sign-in. Sign in with
    /// `login_with_service("webauthn", {"response": credential_json})`.
    authentication_options(options: json = None, infos: typed = None) = AUTHENTICATION_OPTIONS =>
        |s| s.webauthn().authentication_options(&options, &infos);
    /// The user's passkeys.
    list_passkeys(user_id: str) = LIST_PASSKEYS => |s| s.webauthn().list_passkeys(&user_id);
    /// Renames one of the user's passkeys; returns it.
    rename_passkey(user_id: str, passkey_id: str, name: str) = RENAME_PASSKEY => |s| s.webauthn().rename_passkey(&user_id, &passkey_id, &name);
    /// Removes one of the user's passkeys; raises `LastLoginMethod` when it is their only way in.
    remove_passkey(user_id: str, passkey_id: str) = REMOVE_PASSKEY => |s| s.webauthn().remove_passkey(&user_id, &passkey_id);
}

/// Verifies an access token without a server (for other services); returns its claims.
#[pyfunction]
#[pyo3(signature = (token, *, jwks = None, public_key = None, secret = None, algorithm = None, issuer = None, audience = None))]
#[allow(clippy::too_many_arguments)]
fn verify_access_token<'py>(
    py: Python<'py>,
    token: &Bound<'py, PyAny>,
    jwks: Option<&Bound<'py, PyAny>>,
    public_key: Option<String>,
    secret: Option<String>,
    algorithm: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let token = arg_token(py, token, "token")?;
    let jwks = jwks.map(|j| arg_json(py, j)).transpose()?;
    let options = accounts_core::VerifyOptions { jwks, public_key, secret, algorithm, issuer, audience };
    let claims = core_call!(py, accounts_core::verify_access_token(&token, &options))?;
    to_py(py, &Value::Object(claims))
}

/// The server behind `owner` (an `AccountsServer` or one of its services).
fn server_of(owner: &Bound<'_, PyAny>) -> Option<Arc<AccountsServer>> {
    if let Ok(s) = owner.extract::<PyRef<'_, PyServer>>() {
        return Some(s.inner.clone());
    }
    if let Ok(s) = owner.extract::<PyRef<'_, PyPassword>>() {
        return Some(s.inner.clone());
    }
    None
}

/// For `accounts.aio`: calls `method(*args)` (a sync method of `owner` running core's `operation`)
/// right here, on the event loop's thread, when core's table makes it an inline operation, the
/// server allows it (`may_run_inline`: an embedded SQLite database, no callback or listener it
/// would run) and nothing it needs is busy (`inline::without_waiting`, as the Node binding does;
/// docs/architecture.md, "Inline calls"). Returns `(True, result, upkeep)` — or raises the call's
/// error —, `(False, None, False)` when it would have waited: then it changed nothing, and the
/// caller waits (`_wait_for_inline`) and tries again or runs it on the executor; or `(None, None,
/// False)` when it may not run here at all: straight to the executor. `upkeep`: whether `_run_maintenance(owner)` is due (inline writes
/// leave the WAL checkpoint to the executor); asked only after a call that ran here, with the GIL
/// released (it never waits nor reopens the store of a forked child: core's `maintenance_due`).
#[pyfunction]
fn _run_inline<'py>(
    py: Python<'py>,
    owner: &Bound<'py, PyAny>,
    operation: &str,
    method: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
) -> PyResult<(Option<bool>, Bound<'py, PyAny>, bool)> {
    use accounts_core::operations::{Class, class_of};
    let inline = class_of(operation) == Some(Class::Inline);
    let Some(server) = server_of(owner).filter(|s| inline && s.may_run_inline(operation)) else {
        return Ok((None, py.None().into_bound(py), false));
    };
    let mut answer = None;
    let ran = accounts_core::host::inline::without_waiting(|| {
        answer = Some(method.call1(args));
        Ok(())
    });
    // Only after a call that ran here (an abandoned one wrote nothing), and without the GIL.
    let upkeep = || py.detach(|| caught(|| Ok(server.maintenance_due())).unwrap_or(false));
    match (ran, answer) {
        (Some(_), Some(Ok(value))) => Ok((Some(true), value, upkeep())),
        (Some(_), Some(Err(e))) => Err(e),
        _ => Ok((Some(false), py.None().into_bound(py), false)),
    }
}

/// For `accounts.aio`, on the executor: the upkeep inline calls left due (a WAL checkpoint on a
/// connection of its own). Its failure only delays it (the next write that may wait checkpoints).
#[pyfunction]
fn _run_maintenance(py: Python<'_>, owner: &Bound<'_, PyAny>) {
    if let Some(server) = server_of(owner) {
        let _ = py.detach(|| caught(|| server.run_maintenance()));
    }
}

/// For `accounts.aio`, on the executor, after `_run_inline` was refused: waits until the store is
/// probably free (core's `wait_for_inline`: no pool write under way, no checkpoint holding the
/// writer; bounded), so the call can be tried on the loop's thread again instead of running on the
/// executor, where its write would refuse the next inline calls in turn (docs/architecture.md,
/// "Inline calls").
#[pyfunction]
fn _wait_for_inline(py: Python<'_>, owner: &Bound<'_, PyAny>) {
    if let Some(server) = server_of(owner) {
        let _ = py.detach(|| caught(|| server.wait_for_inline()));
    }
}

/// The names of the events a listener can subscribe to, from the core.
#[pyfunction]
fn event_names() -> Vec<&'static str> {
    accounts_core::events::ALL.to_vec()
}

/// `(class, method, operation class)` for every row of core's operation table a Python class
/// carries (`operation class`: hashing, inline, pool or synchronous), so tests can check each row
/// has its method.
#[pyfunction]
fn operation_classes() -> Vec<(&'static str, &'static str, &'static str)> {
    ops::ALL.iter().filter(|op| !op.service.python_class().is_empty()).map(|op| (op.service.python_class(), op.python, op.class.name())).collect()
}

/// Runs a core call that panics, the way every method runs its call: it raises `InternalError`
/// and the interpreter goes on. For the test that proves panics are caught; only in builds with the
/// `self-test` feature (`make python-install`), never in a release.
#[cfg(feature = "self-test")]
#[pyfunction]
fn _self_test_panic(py: Python<'_>) -> PyResult<()> {
    let boom = |what: &str| -> Result<(), AccountsError> { panic!("self-test panic: {what}") };
    core_call!(py, boom("python"))
}

/// `(code, number, is_input_error)` for every error code, in number order.
#[pyfunction]
fn error_codes() -> Vec<(&'static str, u32, bool)> {
    ErrorCode::ALL.iter().map(|c| (c.as_str(), c.number(), c.is_input_error())).collect()
}

/// Called once by `accounts/__init__.py` with `{code: exception class}`.
#[pyfunction]
fn _register_errors(py: Python<'_>, classes: Bound<'_, PyDict>) -> PyResult<()> {
    let _ = ERROR_CLASSES.set(py, classes.unbind());
    Ok(())
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", accounts_core::VERSION)?;
    m.add_class::<PyServer>()?;
    m.add_class::<PyPassword>()?;
    m.add_class::<PyTwoFactor>()?;
    m.add_class::<PyMagicLink>()?;
    m.add_class::<PyOAuth>()?;
    m.add_class::<PyWebAuthn>()?;
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    #[cfg(feature = "self-test")]
    m.add_function(wrap_pyfunction!(_self_test_panic, m)?)?;
    m.add_function(wrap_pyfunction!(event_names, m)?)?;
    m.add_function(wrap_pyfunction!(operation_classes, m)?)?;
    m.add_function(wrap_pyfunction!(verify_access_token, m)?)?;
    m.add_function(wrap_pyfunction!(_register_errors, m)?)?;
    m.add_function(wrap_pyfunction!(_run_inline, m)?)?;
    m.add_function(wrap_pyfunction!(_run_maintenance, m)?)?;
    m.add_function(wrap_pyfunction!(_wait_for_inline, m)?)?;
    Ok(())
}
