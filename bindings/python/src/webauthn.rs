//! `server.webauthn`: passkeys (docs/passkeys.md). Thin like the rest of the module: dicts <-> JSON,
//! the GIL released around each core call, core's error codes as the exception classes.

use super::{arg_json, arg_str, arg_typed, caught, ser_to_py, to_pyerr};
use accounts_core::{AccountsServer, ConnectionInfo};
use pyo3::prelude::*;
use serde_json::Value;
use std::sync::Arc;

/// `server.webauthn`: passkeys (docs/passkeys.md). Every method raises `ServiceNotFound` when
/// `services.webauthn` is not configured.
#[pyclass(module = "accounts", name = "WebAuthnService", frozen)]
pub(crate) struct PyWebAuthn {
    pub(crate) inner: Arc<AccountsServer>,
}

/// An optional JSON argument: absent or None is JSON null.
fn opt_json(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Value> {
    obj.map(|o| arg_json(py, o)).transpose().map(Option::unwrap_or_default)
}

#[pymethods]
impl PyWebAuthn {
    /// The PublicKeyCredentialCreationOptionsJSON for `navigator.credentials.create` (adding a
    /// passkey to the user).
    fn registration_options<'py>(&self, py: Python<'py>, user_id: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let id = arg_str(py, user_id, "user_id")?;
        let options = core_call!(py, self.inner.webauthn().registration_options(&id))?;
        ser_to_py(py, &options)
    }

    /// Verifies the browser's RegistrationResponseJSON (`credential.toJSON()`) and stores the
    /// passkey; `options`: `{"name"?}`. Returns the passkey.
    #[pyo3(signature = (user_id, response, options=None))]
    fn register<'py>(
        &self,
        py: Python<'py>,
        user_id: &Bound<'py, PyAny>,
        response: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (id, response, options) = (arg_str(py, user_id, "user_id")?, arg_json(py, response)?, opt_json(py, options)?);
        let passkey = core_call!(py, self.inner.webauthn().register(&id, &response, &options))?;
        ser_to_py(py, &passkey)
    }

    /// The PublicKeyCredentialRequestOptionsJSON for `navigator.credentials.get`; `options`:
    /// `{"userId"? | "username"? | "email"?}`, none for a usernameless sign-in. Sign in with
    /// `login_with_service("webauthn", {"response": credential_json})`.
    #[pyo3(signature = (options=None, infos=None))]
    fn authentication_options<'py>(
        &self,
        py: Python<'py>,
        options: Option<&Bound<'py, PyAny>>,
        infos: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = opt_json(py, options)?;
        let infos: ConnectionInfo = arg_typed(py, infos, "infos")?;
        let request = core_call!(py, self.inner.webauthn().authentication_options(&options, &infos))?;
        ser_to_py(py, &request)
    }

    /// The user's passkeys.
    fn list_passkeys<'py>(&self, py: Python<'py>, user_id: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let id = arg_str(py, user_id, "user_id")?;
        let list = core_call!(py, self.inner.webauthn().list_passkeys(&id))?;
        ser_to_py(py, &list)
    }

    /// Renames one of the user's passkeys; returns it.
    fn rename_passkey<'py>(
        &self,
        py: Python<'py>,
        user_id: &Bound<'py, PyAny>,
        passkey_id: &Bound<'py, PyAny>,
        name: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (id, passkey, name) = (arg_str(py, user_id, "user_id")?, arg_str(py, passkey_id, "passkey_id")?, arg_str(py, name, "name")?);
        let renamed = core_call!(py, self.inner.webauthn().rename_passkey(&id, &passkey, &name))?;
        ser_to_py(py, &renamed)
    }

    /// Removes one of the user's passkeys; raises `LastLoginMethod` when it is their only way in.
    fn remove_passkey(&self, py: Python<'_>, user_id: &Bound<'_, PyAny>, passkey_id: &Bound<'_, PyAny>) -> PyResult<()> {
        let (id, passkey) = (arg_str(py, user_id, "user_id")?, arg_str(py, passkey_id, "passkey_id")?);
        core_call!(py, self.inner.webauthn().remove_passkey(&id, &passkey))
    }
}
