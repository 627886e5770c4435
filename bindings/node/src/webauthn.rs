//! `getServices().webauthn`: passkeys (docs/passkeys.md). Thin like the rest of the addon: JSON text
//! in and out, each call scheduled by its row in core's operation table, errors coded by `run`.

use super::{NativeServer, parse, parse_opt, run};
use accounts_core::ConnectionInfo;
use accounts_core::operations as ops;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

#[napi]
impl NativeServer {
    #[napi(ts_return_type = "Promise<string>")]
    pub fn webauthn_registration_options<'e>(&self, env: &'e Env, user_id: String) -> Result<PromiseRaw<'e, String>> {
        let s = self.inner.clone();
        run(env, &ops::REGISTRATION_OPTIONS, move || s.webauthn().registration_options(&user_id))
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn webauthn_register<'e>(
        &self,
        env: &'e Env,
        user_id: String,
        response_json: String,
        options_json: Option<String>,
    ) -> Result<PromiseRaw<'e, String>> {
        let s = self.inner.clone();
        run(env, &ops::REGISTER, move || {
            let response: Value = parse("response", &response_json)?;
            let options: Value = parse_opt("options", options_json)?;
            s.webauthn().register(&user_id, &response, &options)
        })
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn webauthn_authentication_options<'e>(
        &self,
        env: &'e Env,
        options_json: Option<String>,
        infos_json: Option<String>,
    ) -> Result<PromiseRaw<'e, String>> {
        let s = self.inner.clone();
        run(env, &ops::AUTHENTICATION_OPTIONS, move || {
            let options: Value = parse_opt("options", options_json)?;
            let infos: ConnectionInfo = parse_opt("infos", infos_json)?;
            s.webauthn().authentication_options(&options, &infos)
        })
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn webauthn_list_passkeys<'e>(&self, env: &'e Env, user_id: String) -> Result<PromiseRaw<'e, String>> {
        let s = self.inner.clone();
        run(env, &ops::LIST_PASSKEYS, move || s.webauthn().list_passkeys(&user_id))
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn webauthn_rename_passkey<'e>(&self, env: &'e Env, user_id: String, passkey_id: String, name: String) -> Result<PromiseRaw<'e, String>> {
        let s = self.inner.clone();
        run(env, &ops::RENAME_PASSKEY, move || s.webauthn().rename_passkey(&user_id, &passkey_id, &name))
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn webauthn_remove_passkey<'e>(&self, env: &'e Env, user_id: String, passkey_id: String) -> Result<PromiseRaw<'e, String>> {
        let s = self.inner.clone();
        run(env, &ops::REMOVE_PASSKEY, move || s.webauthn().remove_passkey(&user_id, &passkey_id))
    }
}
