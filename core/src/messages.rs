//! Error message texts: accounts-js's defaults (the error table's), replaced per key by the
//! `errors` options of the password, two-factor and magic-link services, as in accounts-js.

use crate::error::{AccountsError, ErrorCode, Result};
use std::collections::{BTreeMap, HashMap};

/// accounts-js `@accounts/password` `errors` keys.
const PASSWORD: &[(&str, ErrorCode)] = &[
    ("userNotFound", ErrorCode::UserNotFound),
    ("noPasswordSet", ErrorCode::NoPasswordSet),
    ("noEmailSet", ErrorCode::NoEmailSet),
    ("incorrectPassword", ErrorCode::IncorrectPassword),
    ("unrecognizedOptionsForLogin", ErrorCode::UnrecognizedOptionsForLogin),
    ("matchFailed", ErrorCode::MatchFailed),
    ("invalidUsername", ErrorCode::InvalidUsername),
    ("invalidEmail", ErrorCode::InvalidEmail),
    ("invalidPassword", ErrorCode::InvalidPassword),
    ("invalidNewPassword", ErrorCode::InvalidNewPassword),
    ("invalidToken", ErrorCode::InvalidToken),
    ("invalidCredentials", ErrorCode::InvalidCredentials),
    ("verifyEmailLinkExpired", ErrorCode::VerifyEmailLinkExpired),
    ("verifyEmailLinkUnknownAddress", ErrorCode::VerifyEmailLinkUnknownAddress),
    ("resetPasswordLinkExpired", ErrorCode::ResetPasswordLinkExpired),
    ("resetPasswordLinkUnknownAddress", ErrorCode::ResetPasswordLinkUnknownAddress),
    ("usernameAlreadyExists", ErrorCode::UsernameAlreadyExists),
    ("emailAlreadyExists", ErrorCode::EmailAlreadyExists),
    ("usernameOrEmailRequired", ErrorCode::UsernameOrEmailRequired),
];

/// accounts-js `@accounts/two-factor` `errors` keys.
const TWO_FACTOR: &[(&str, ErrorCode)] = &[
    ("userNotFound", ErrorCode::UserNotFound),
    ("codeDidNotMatch", ErrorCode::TwoFactorCodeDidNotMatch),
    ("userTwoFactorNotSet", ErrorCode::TwoFactorNotSet),
    ("userTwoFactorAlreadySet", ErrorCode::TwoFactorAlreadySet),
    ("codeRequired", ErrorCode::TwoFactorCodeRequired),
];

/// accounts-js `@accounts/magic-link` `errors` keys.
const MAGIC_LINK: &[(&str, ErrorCode)] = &[
    ("userNotFound", ErrorCode::UserNotFound),
    ("unrecognizedOptionsForLogin", ErrorCode::UnrecognizedOptionsForLogin),
    ("matchFailed", ErrorCode::MatchFailed),
    ("invalidEmail", ErrorCode::InvalidEmail),
    ("loginTokenExpired", ErrorCode::LoginTokenExpired),
];

/// The configured message texts, by code.
#[derive(Debug, Default)]
pub(crate) struct Messages(HashMap<ErrorCode, String>);

impl Messages {
    /// # Errors
    /// `InvalidConfig` naming an `errors` key the service does not have.
    pub(crate) fn new(
        password: &BTreeMap<String, String>,
        two_factor: &BTreeMap<String, String>,
        magic_link: &BTreeMap<String, String>,
    ) -> Result<Messages> {
        let mut map = HashMap::new();
        for (option, keys, given) in [
            ("services.password.errors", PASSWORD, password),
            ("services.password.twoFactor.errors", TWO_FACTOR, two_factor),
            ("services.magicLink.errors", MAGIC_LINK, magic_link),
        ] {
            for (key, text) in given {
                let (_, code) = keys
                    .iter()
                    .find(|(k, _)| k == key)
                    .ok_or_else(|| AccountsError::new(ErrorCode::InvalidConfig, format!("{option}: unknown key {key:?}")))?;
                map.insert(*code, text.clone());
            }
        }
        Ok(Messages(map))
    }

    /// The error with the configured text for its code, when it still carries the default text
    /// (a callback's own error and a specific message are left as they are).
    pub(crate) fn apply(&self, mut e: AccountsError) -> AccountsError {
        if e.host.is_none()
            && e.message == e.code.default_message()
            && let Some(text) = self.0.get(&e.code)
        {
            e.message = text.clone();
        }
        e
    }
}
