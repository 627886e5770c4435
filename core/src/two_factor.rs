//! TOTP two-factor authentication (accounts-js `@accounts/two-factor`) with recovery codes.
//!
//! RFC 6238 (SHA-1, 6 digits, 30 s steps) through `totp-rs`. The secret is stored sealed
//! (ChaCha20-Poly1305 under a key derived from `tokenSecret`); recovery codes only as digests.
//! The last accepted time step is stored, so a code is never accepted twice.

use crate::attempts::{self, Guess, Guesser};
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::secret::{ct_eq, digest, random_hex};
use crate::store::Writes;
use crate::types::User;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// The name of the service document in the store.
pub(crate) const SERVICE: &str = "two-factor";
/// How many times a code check re-reads after losing a concurrent update.
const SWAP_ATTEMPTS: usize = 4;
/// Characters in a new secret (speakeasy's `generateSecret` default length).
const SECRET_CHARS: usize = 32;
/// The characters of a new secret: speakeasy's alphanumeric set (without its symbols, which some
/// authenticator apps mangle when the secret is typed). 32 of them carry ≈ 190 bits.
const SECRET_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What `getNewAuthSecret` returns, in speakeasy's `generateSecret` shape (what accounts-js returns
/// and its GraphQL type `TwoFactorSecretKey` exposes): the secret is an ASCII string, given as
/// `ascii`, as the `hex` of its bytes and as `base32` (for `set`); show `otpauthUrl` as a QR code.
/// Serialised with the URL under both `otpauthUrl` and `otpauth_url`, the name accounts-js clients
/// read (speakeasy's), so every language and the REST transports return the same object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthSecret {
    /// The secret as ASCII text (speakeasy's `ascii`).
    #[serde(default)]
    pub ascii: String,
    /// The secret's bytes in hex (speakeasy's `hex`).
    #[serde(default)]
    pub hex: String,
    /// The secret, base32 (for `set`).
    pub base32: String,
    /// The `otpauth://` URL (for a QR code).
    #[serde(alias = "otpauth_url")]
    pub otpauth_url: String,
}

impl Serialize for AuthSecret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("AuthSecret", 5)?;
        out.serialize_field("ascii", &self.ascii)?;
        out.serialize_field("hex", &self.hex)?;
        out.serialize_field("base32", &self.base32)?;
        out.serialize_field("otpauthUrl", &self.otpauth_url)?;
        out.serialize_field("otpauth_url", &self.otpauth_url)?;
        out.end()
    }
}

/// The stored document. Field order is fixed, so equal documents serialise equally (the swap compares text).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    sealed_secret: String,
    last_step: u64,
    recovery_codes: Vec<String>,
}

fn err(c: ErrorCode) -> AccountsError {
    AccountsError::code(c)
}

/// The two-factor part of the password service; get it with [`crate::Password::two_factor`].
pub struct TwoFactor<'a> {
    ctx: &'a Context,
}

/// As accounts-js: no code at all is `TwoFactorCodeRequired` (a wrong one `TwoFactorCodeDidNotMatch`).
fn require_code(code: &str) -> Result<()> {
    if code.trim().is_empty() { Err(err(ErrorCode::TwoFactorCodeRequired)) } else { Ok(()) }
}

/// The bytes of a base32 secret (as `getNewAuthSecret` gives it, or as accounts-js stored it).
fn secret_bytes(secret_base32: &str) -> Result<Vec<u8>> {
    Secret::try_from_base32(secret_base32.trim())
        .map(|s| s.as_ref().to_vec())
        .map_err(|_| AccountsError::new(ErrorCode::InvalidArgument, "the two-factor secret must be base32"))
}

fn normalize_recovery(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase()
}

impl<'a> TwoFactor<'a> {
    pub(crate) fn new(ctx: &'a Context) -> TwoFactor<'a> {
        TwoFactor { ctx }
    }

    fn totp(&self, secret: Vec<u8>) -> Result<Totp> {
        let cfg = &self.ctx.config().services.password.two_factor;
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_step_duration(30)
            .with_skew(cfg.window)
            .with_secret(secret)
            .with_issuer(Some(cfg.app_name.as_str()))
            .with_account_name(cfg.app_name.as_str())
            .build()
            .map_err(|e| AccountsError::new(ErrorCode::InvalidArgument, format!("two-factor secret: {e}")))
    }

    fn now_secs(&self) -> u64 {
        u64::try_from(self.ctx.now() / 1000).unwrap_or(0)
    }

    fn recovery_codes(&self) -> Result<(Vec<String>, Vec<String>)> {
        let n = self.ctx.config().services.password.two_factor.recovery_codes;
        let mut shown = Vec::with_capacity(n);
        let mut stored = Vec::with_capacity(n);
        for _ in 0..n {
            let raw = random_hex(8)?; // 64 bits each, shown as xxxxxxxx-xxxxxxxx
            stored.push(digest(&raw));
            shown.push(format!("{}-{}", &raw[..8], &raw[8..]));
        }
        Ok((shown, stored))
    }

    fn load(&self, user_id: &str) -> Result<Option<(String, Stored)>> {
        match self.ctx.store().find_service(user_id, SERVICE)? {
            None => Ok(None),
            Some(text) => {
                let doc =
                    serde_json::from_str(&text).map_err(|e| AccountsError::new(ErrorCode::StorageError, format!("two-factor document: {e}")))?;
                Ok(Some((text, doc)))
            }
        }
    }

    /// A new random secret for the user to scan (accounts-js `getNewAuthSecret`): 32 characters
    /// drawn uniformly from speakeasy's alphanumeric set (≈ 190 bits), whose ASCII bytes are the
    /// TOTP key, as speakeasy's `generateSecret` makes them.
    ///
    /// # Errors
    /// `InternalError` if the OS has no randomness.
    pub fn get_new_auth_secret(&self) -> Result<AuthSecret> {
        let mut ascii = String::with_capacity(SECRET_CHARS);
        while ascii.len() < SECRET_CHARS {
            let mut buf = [0u8; 64];
            getrandom::fill(&mut buf).map_err(|e| AccountsError::new(ErrorCode::InternalError, format!("getrandom: {e}")))?;
            // Rejection sampling: only bytes below the largest multiple of the alphabet's size, so
            // every character is equally likely.
            let limit = 256 - 256 % SECRET_ALPHABET.len();
            for b in buf.iter().filter(|b| usize::from(**b) < limit).take(SECRET_CHARS - ascii.len()) {
                ascii.push(char::from(SECRET_ALPHABET[usize::from(*b) % SECRET_ALPHABET.len()]));
            }
        }
        let totp = self.totp(ascii.as_bytes().to_vec())?;
        let otpauth_url = totp.to_url().map_err(|e| AccountsError::new(ErrorCode::InternalError, format!("otpauth url: {e}")))?;
        Ok(AuthSecret { hex: hex::encode(ascii.as_bytes()), base32: totp.secret().to_base32(), ascii, otpauth_url })
    }

    /// Turns two-factor on with a secret from [`TwoFactor::get_new_auth_secret`] once the user
    /// proves it with a current `code`; returns the recovery codes (shown once, stored as digests).
    ///
    /// # Errors
    /// `UserNotFound`, `TwoFactorAlreadySet`, `InvalidArgument` (not a base32 secret of ≥ 128 bits),
    /// `TwoFactorCodeDidNotMatch`.
    pub fn set(&self, user_id: &str, secret_base32: &str, code: &str) -> Result<Vec<String>> {
        self.ctx.localize((|| {
            require_code(code)?;
            self.ctx.user_or_not_found(user_id)?;
            if self.load(user_id)?.is_some() {
                return Err(err(ErrorCode::TwoFactorAlreadySet));
            }
            let bytes = secret_bytes(secret_base32)?;
            let step = self.totp(bytes.clone())?.check(code.trim(), self.now_secs()).ok_or_else(|| err(ErrorCode::TwoFactorCodeDidNotMatch))?;
            let (shown, stored) = self.recovery_codes()?;
            let doc = self.document(user_id, &bytes, step, stored)?;
            if !self.ctx.store().swap_service(user_id, SERVICE, None, Some(&doc), self.ctx.now())? {
                return Err(err(ErrorCode::TwoFactorAlreadySet));
            }
            Ok(shown)
        })())
    }

    /// Turns two-factor off; needs a current code or a recovery code (accounts-js `unset`).
    /// Wrong codes count against the second-factor attempt limits.
    ///
    /// # Errors
    /// `TwoFactorCodeRequired` (empty), `UserNotFound`, `TwoFactorNotSet`, `TwoFactorCodeDidNotMatch`, `TooManyAttempts`.
    pub fn unset(&self, user_id: &str, code: &str) -> Result<()> {
        self.ctx.localize((|| {
            require_code(code)?;
            self.ctx.user_or_not_found(user_id)?;
            self.guarded_consume(user_id, None, code, |_| None)
        })())
    }

    /// Replaces the recovery codes; needs a current code or a recovery code. Wrong codes count
    /// against the second-factor attempt limits.
    ///
    /// # Errors
    /// `TwoFactorCodeRequired` (empty), `UserNotFound`, `TwoFactorNotSet`, `TwoFactorCodeDidNotMatch`, `TooManyAttempts`.
    pub fn regenerate_recovery_codes(&self, user_id: &str, code: &str) -> Result<Vec<String>> {
        self.ctx.localize((|| {
            require_code(code)?;
            self.ctx.user_or_not_found(user_id)?;
            let (shown, stored) = self.recovery_codes()?;
            self.guarded_consume(user_id, None, code, move |mut doc| {
                doc.recovery_codes = stored.clone();
                Some(doc)
            })?;
            Ok(shown)
        })())
    }

    /// The stored document for a secret set elsewhere (an imported accounts-js user): the secret
    /// sealed to `user_id`, no step used yet, no recovery codes (the user can generate them).
    ///
    /// # Errors
    /// `InvalidArgument` when `secret_base32` is not base32 of at least 128 bits.
    pub(crate) fn imported_document(&self, user_id: &str, secret_base32: &str) -> Result<String> {
        let bytes = secret_bytes(secret_base32)?;
        self.totp(bytes.clone())?; // the same checks as `set` (length)
        self.document(user_id, &bytes, 0, Vec::new())
    }

    /// The stored document of a secret: sealed to its user, with the last step used and the
    /// recovery code digests.
    fn document(&self, user_id: &str, secret: &[u8], last_step: u64, recovery_codes: Vec<String>) -> Result<String> {
        let sealed_secret = self.ctx.sealer().seal(secret, user_id.as_bytes())?;
        Ok(serde_json::to_string(&Stored { sealed_secret, last_step, recovery_codes })?)
    }

    /// Whether the user has two-factor on.
    ///
    /// # Errors
    /// `StorageError`.
    pub fn is_set(&self, user_id: &str) -> Result<bool> {
        Ok(self.ctx.store().find_service(user_id, SERVICE)?.is_some())
    }

    /// The second step of a login: with two-factor on, `params.code` must be a fresh TOTP code or
    /// an unused recovery code. Wrong codes count against the second-factor limits (per account,
    /// per `ip`, per both). The code is used up only when the caller applies the returned
    /// [`SecondFactorUse`] in its own transaction (with the session, or with a reset: all or
    /// nothing, docs/reliability.md). `None`: two-factor is off.
    pub(crate) fn plan_login(&self, user: &User, params: &Value, ip: Option<&str>) -> Result<Option<SecondFactorUse>> {
        let Some((text, doc)) = self.load(&user.id)? else { return Ok(None) };
        let code = login_code(params)?;
        let who = Guesser { account: Some(&user.id), ip };
        let new = attempts::guarded(self.ctx, Guess::SecondFactor, &who, || self.used_up(&user.id, code, doc.clone(), &Some))?;
        Ok(Some(SecondFactorUse { user_id: user.id.clone(), expected: text, new, now: self.ctx.now() }))
    }

    /// [`TwoFactor::consume`] under the second-factor attempt limits.
    fn guarded_consume(&self, user_id: &str, ip: Option<&str>, code: &str, next: impl Fn(Stored) -> Option<Stored>) -> Result<()> {
        let who = Guesser { account: Some(user_id), ip };
        attempts::guarded(self.ctx, Guess::SecondFactor, &who, || self.consume(user_id, code, &next))
    }

    /// Checks `code` against the stored document and writes `next(doc with the code used up)`
    /// atomically (`None` deletes the document).
    fn consume(&self, user_id: &str, code: &str, next: &impl Fn(Stored) -> Option<Stored>) -> Result<()> {
        for _ in 0..SWAP_ATTEMPTS {
            let (text, doc) = self.load(user_id)?.ok_or_else(|| err(ErrorCode::TwoFactorNotSet))?;
            let new_text = self.used_up(user_id, code, doc, next)?;
            if self.ctx.store().swap_service(user_id, SERVICE, Some(&text), new_text.as_deref(), self.ctx.now())? {
                return Ok(());
            }
            // Someone else used a code meanwhile: re-read, so the same code cannot pass twice.
        }
        Err(err(ErrorCode::TwoFactorCodeDidNotMatch))
    }

    /// Checks `code` against `doc` without writing; returns `next(doc with the code used up)` as
    /// the text to store (`None`: delete the document).
    fn used_up(&self, user_id: &str, code: &str, mut doc: Stored, next: &impl Fn(Stored) -> Option<Stored>) -> Result<Option<String>> {
        let code = code.trim();
        if code.is_empty() || code.len() > 64 {
            return Err(err(ErrorCode::TwoFactorCodeDidNotMatch));
        }
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            let secret = self.ctx.sealer().open(&doc.sealed_secret, user_id.as_bytes())?;
            match self.totp(secret)?.check(code, self.now_secs()) {
                Some(step) if step > doc.last_step => doc.last_step = step,
                _ => return Err(err(ErrorCode::TwoFactorCodeDidNotMatch)),
            }
        } else {
            let presented = digest(&normalize_recovery(code));
            let mut found = None;
            for (i, d) in doc.recovery_codes.iter().enumerate() {
                if ct_eq(d, &presented) {
                    found = Some(i);
                }
            }
            let Some(i) = found else { return Err(err(ErrorCode::TwoFactorCodeDidNotMatch)) };
            doc.recovery_codes.remove(i);
        }
        self.resealed(user_id, &mut doc)?;
        Ok(next(doc).map(|d| serde_json::to_string(&d)).transpose()?)
    }

    /// Seals the document's secret again under the current sealing key when an earlier key sealed
    /// it (the document is being written anyway). Returns whether it did.
    fn resealed(&self, user_id: &str, doc: &mut Stored) -> Result<bool> {
        let sealer = self.ctx.sealer();
        if sealer.is_current(&doc.sealed_secret) {
            return Ok(false);
        }
        let secret = sealer.open(&doc.sealed_secret, user_id.as_bytes())?;
        doc.sealed_secret = sealer.seal(&secret, user_id.as_bytes())?;
        Ok(true)
    }

    /// Seals every stored two-factor secret that an earlier sealing key sealed under the current
    /// one (after a `sealingSecret` rotation; docs/security.md, "Key rotation"); returns how many.
    /// Safe to run while the server works: each document is swapped only if unchanged meanwhile
    /// (a document used since was resealed by that use).
    ///
    /// # Errors
    /// `InternalError` for a secret no known key opens, `StorageError`.
    pub fn reseal_all(&self) -> Result<u64> {
        const PAGE: u32 = 500;
        let store = self.ctx.store();
        let (mut after, mut resealed) = (String::new(), 0u64);
        loop {
            let page = store.list_services(SERVICE, &after, PAGE)?;
            for (user_id, text) in &page {
                let mut doc: Stored =
                    serde_json::from_str(text).map_err(|e| AccountsError::new(ErrorCode::StorageError, format!("two-factor document: {e}")))?;
                if self.resealed(user_id, &mut doc)?
                    && store.swap_service(user_id, SERVICE, Some(text), Some(&serde_json::to_string(&doc)?), self.ctx.now())?
                {
                    resealed += 1;
                }
            }
            match page.last() {
                Some((last, _)) if page.len() == PAGE as usize => after = last.clone(),
                _ => return Ok(resealed),
            }
        }
    }
}

/// A checked second factor not yet used up: the two-factor document to swap in.
pub(crate) struct SecondFactorUse {
    user_id: String,
    expected: String,
    new: Option<String>,
    now: i64,
}

impl SecondFactorUse {
    /// Uses the code up within the caller's transaction.
    ///
    /// # Errors
    /// `TwoFactorCodeDidNotMatch` when another request used a code of this user since the check
    /// (the transaction then rolls back), `StorageError`.
    pub(crate) fn apply(&self, w: &mut dyn Writes) -> Result<()> {
        if w.swap_service(&self.user_id, SERVICE, Some(&self.expected), self.new.as_deref(), self.now)? {
            Ok(())
        } else {
            Err(err(ErrorCode::TwoFactorCodeDidNotMatch))
        }
    }
}

/// The code of a login's `params` (accounts-js: none is `TwoFactorCodeRequired`, a non-string `TwoFactorCodeDidNotMatch`).
fn login_code(params: &Value) -> Result<&str> {
    match params.get("code") {
        None | Some(Value::Null) => Err(err(ErrorCode::TwoFactorCodeRequired)),
        Some(Value::String(c)) if !c.trim().is_empty() => Ok(c),
        Some(Value::String(_)) => Err(err(ErrorCode::TwoFactorCodeRequired)),
        Some(_) => Err(err(ErrorCode::TwoFactorCodeDidNotMatch)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::testing;
    use crate::store::transaction;
    use serde_json::json;

    fn code_now(ctx: &Context, base32: &str) -> String {
        let tf = TwoFactor::new(ctx);
        tf.totp(secret_bytes(base32).unwrap()).unwrap().generate(tf.now_secs()).to_string()
    }

    #[test]
    fn a_new_secret_has_speakeasys_shape() {
        let (ctx, _clock) = testing::context(json!({}), Default::default());
        let a = TwoFactor::new(&ctx).get_new_auth_secret().unwrap();
        let b = TwoFactor::new(&ctx).get_new_auth_secret().unwrap();
        assert_ne!(a.ascii, b.ascii);
        assert_eq!(a.ascii.len(), SECRET_CHARS);
        assert!(a.ascii.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(hex::decode(&a.hex).unwrap(), a.ascii.as_bytes());
        assert_eq!(secret_bytes(&a.base32).unwrap(), a.ascii.as_bytes());
        let shown = serde_json::to_value(&a).unwrap();
        for key in ["ascii", "hex", "base32", "otpauthUrl", "otpauth_url"] {
            assert!(shown[key].as_str().is_some_and(|v| !v.is_empty()), "{key}");
        }
    }

    #[test]
    fn the_secret_is_sealed_and_a_code_is_accepted_once() {
        let (ctx, clock) = testing::context(json!({}), Default::default());
        let tf = TwoFactor::new(&ctx);
        let user = testing::stored_user(&ctx, "u1", Some("u1"), &[]);
        let secret = tf.get_new_auth_secret().unwrap();
        let wrong = if code_now(&ctx, &secret.base32) == "000000" { "111111" } else { "000000" };
        assert_eq!(tf.set(&user.id, &secret.base32, wrong).unwrap_err().code, ErrorCode::TwoFactorCodeDidNotMatch);
        let recovery = tf.set(&user.id, &secret.base32, &code_now(&ctx, &secret.base32)).unwrap();
        assert_eq!(recovery.len(), ctx.config().services.password.two_factor.recovery_codes);
        let stored = ctx.store().find_service(&user.id, SERVICE).unwrap().unwrap();
        assert!(!stored.contains(&secret.base32), "no plaintext secret at rest");
        assert!(recovery.iter().all(|c| !stored.contains(c.as_str())), "recovery codes only as digests");
        // The code that turned it on cannot log in: its step is used.
        let reused = tf.plan_login(&user, &json!({"code": code_now(&ctx, &secret.base32)}), None).err().map(|e| e.code);
        assert_eq!(reused, Some(ErrorCode::TwoFactorCodeDidNotMatch));
        clock.advance_secs(30);
        let fresh = code_now(&ctx, &secret.base32);
        let planned = tf.plan_login(&user, &json!({"code": fresh}), None).unwrap().expect("two-factor is on");
        transaction(ctx.store(), |w| planned.apply(w)).unwrap();
        assert_eq!(tf.plan_login(&user, &json!({"code": fresh}), None).err().map(|e| e.code), Some(ErrorCode::TwoFactorCodeDidNotMatch));
        assert_eq!(tf.plan_login(&user, &json!({}), None).err().map(|e| e.code), Some(ErrorCode::TwoFactorCodeRequired));
    }

    #[test]
    fn a_planned_use_applies_only_once_when_raced() {
        let ctx = testing::plain();
        let tf = TwoFactor::new(&ctx);
        let user = testing::stored_user(&ctx, "u1", Some("u1"), &[]);
        let secret = tf.get_new_auth_secret().unwrap();
        let recovery = tf.set(&user.id, &secret.base32, &code_now(&ctx, &secret.base32)).unwrap();
        let first = tf.plan_login(&user, &json!({"code": recovery[0]}), None).unwrap().unwrap();
        let second = tf.plan_login(&user, &json!({"code": recovery[1]}), None).unwrap().unwrap();
        transaction(ctx.store(), |w| first.apply(w)).unwrap();
        let lost = transaction(ctx.store(), |w| second.apply(w)).unwrap_err();
        assert_eq!(lost.code, ErrorCode::TwoFactorCodeDidNotMatch, "planned against a document that changed");
        assert!(tf.plan_login(&user, &json!({"code": recovery[1]}), None).unwrap().is_some(), "the losing code stays unused");
    }

    #[test]
    fn unset_and_import() {
        let ctx = testing::plain();
        let tf = TwoFactor::new(&ctx);
        let user = testing::stored_user(&ctx, "u1", Some("u1"), &[]);
        assert_eq!(tf.unset(&user.id, "123456").unwrap_err().code, ErrorCode::TwoFactorNotSet);
        assert_eq!(tf.unset(&user.id, " ").unwrap_err().code, ErrorCode::TwoFactorCodeRequired);
        let secret = tf.get_new_auth_secret().unwrap();
        let recovery = tf.set(&user.id, &secret.base32, &code_now(&ctx, &secret.base32)).unwrap();
        assert_eq!(tf.set(&user.id, &secret.base32, "123456").unwrap_err().code, ErrorCode::TwoFactorAlreadySet);
        tf.unset(&user.id, &recovery[0].to_uppercase()).unwrap();
        assert!(!tf.is_set(&user.id).unwrap());
        assert_eq!(tf.imported_document(&user.id, "not base32!").unwrap_err().code, ErrorCode::InvalidArgument);
        assert!(tf.imported_document(&user.id, &secret.base32).unwrap().contains("sealedSecret"));
    }
}
