//! Failed-attempt limits (docs/security.md, "Attempt limits").
//!
//! Wrong guesses — passwords, second-factor codes, link tokens — are counted in the store, so
//! every process on the database shares the counts. Each kind of guess has three counters: per
//! account + client IP (strict), per account (looser, so a stranger cannot lock the owner out for
//! long) and per client IP (credential stuffing). A guess is refused with `TooManyAttempts` while
//! any of its counters is full; a success clears the account + IP counter. Unknown identifiers are
//! counted exactly like known ones, so a refusal says nothing about whether an account exists.
//! Counter keys are SHA-256 digests: no identifier or IP is stored in plaintext.

use crate::callbacks::events;
use crate::config::{AttemptLimits, Limit, LimitSet};
use crate::context::Context;
use crate::error::{AccountsError, ErrorCode, Result};
use crate::secret::digest;
use crate::store::AttemptCount;
use serde_json::json;

/// A kind of guess; each has its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guess {
    Password,
    SecondFactor,
    LinkToken,
}

impl Guess {
    fn name(self) -> &'static str {
        match self {
            Guess::Password => "password",
            Guess::SecondFactor => "secondFactor",
            Guess::LinkToken => "linkToken",
        }
    }

    fn limits(self, all: &AttemptLimits) -> &LimitSet {
        match self {
            Guess::Password => &all.password,
            Guess::SecondFactor => &all.second_factor,
            Guess::LinkToken => &all.link_token,
        }
    }

    /// Whether an error means the guess was wrong (and so counts against the limits).
    fn is_wrong(self, code: ErrorCode) -> bool {
        use ErrorCode::*;
        match self {
            Guess::Password => matches!(code, InvalidCredentials | IncorrectPassword | UserNotFound | NoPasswordSet),
            // A passkey assertion that does not verify is a wrong second-factor guess too.
            Guess::SecondFactor => matches!(code, TwoFactorCodeDidNotMatch | WebAuthnVerificationFailed | PasskeyCounterRegression),
            Guess::LinkToken => matches!(code, ResetPasswordLinkExpired | VerifyEmailLinkExpired | LoginTokenExpired),
        }
    }
}

/// Who is guessing: the account the guess is about (a user id, or the identifier as given when it
/// names nobody) and the client IP (`infos.ip`), each when known.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Guesser<'a> {
    pub account: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// One counter of a guess: its scope name, store key and limit.
struct Counter {
    scope: &'static str,
    key: String,
    limit: Limit,
}

/// The subject an address is counted under: an IPv6 address by its /64 (one client usually holds a
/// whole /64, so counting single addresses would let it rotate freely), an IPv4-mapped address as the
/// IPv4 address, anything else as given.
pub(crate) fn ip_subject(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{}/64", std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_string(),
    }
}

fn counters(guess: Guess, who: &Guesser<'_>, limits: &LimitSet) -> Vec<Counter> {
    let subject = who.ip.map(ip_subject);
    let who = &Guesser { account: who.account, ip: subject.as_deref() };
    let key = |scope: &str, subject: &str| digest(&format!("{}\u{1f}{scope}\u{1f}{subject}", guess.name()));
    let mut out = Vec::with_capacity(3);
    if let (Some(account), Some(ip)) = (who.account, who.ip) {
        out.push(Counter { scope: "accountIp", key: key("accountIp", &format!("{account}\u{1f}{ip}")), limit: limits.account_ip });
    }
    if let Some(account) = who.account {
        out.push(Counter { scope: "account", key: key("account", account), limit: limits.account });
    }
    if let Some(ip) = who.ip {
        out.push(Counter { scope: "ip", key: key("ip", ip), limit: limits.ip });
    }
    out.retain(|c| c.limit.max > 0);
    out
}

fn window_ms(limit: &Limit) -> i64 {
    i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Runs one guess under the limits: refuses it while a counter is full, counts it when
/// `attempt` fails with a wrong-guess error, and clears the account + IP counter on success.
///
/// The guess is counted *before* it is checked and handed back after unless it was wrong, so
/// concurrent guesses cannot all slip under a limit between a read and a write: of any number
/// of simultaneous guesses at most the limit are checked.
///
/// # Errors
/// `TooManyAttempts` (with `details.retryAfter` in seconds), `StorageError`, or `attempt`'s error.
pub(crate) fn guarded<T>(ctx: &Context, guess: Guess, who: &Guesser<'_>, attempt: impl FnOnce() -> Result<T>) -> Result<T> {
    let counters = counters(guess, who, guess.limits(&ctx.config().attempt_limits));
    if counters.is_empty() {
        return attempt();
    }
    let now = ctx.now();
    let keys: Vec<String> = counters.iter().map(|c| c.key.clone()).collect();
    // A read first: a guess at a full counter is refused without writing anything.
    let live = ctx.store().read_attempts(&keys, now)?;
    let full = |counts: &[AttemptCount], over: i64| {
        counters
            .iter()
            .filter_map(|c| {
                let count = counts.iter().find(|l| l.key == c.key)?;
                (count.failures > i64::from(c.limit.max) - over).then_some((c.scope, count.expires_at))
            })
            .max_by_key(|(_, until)| *until)
    };
    if let Some((scope, until)) = full(&live, 1) {
        return Err(too_many(ctx, guess, who, scope, until, now));
    }
    let hits: Vec<(String, i64)> = counters.iter().map(|c| (c.key.clone(), window_ms(&c.limit))).collect();
    let reserved = ctx.store().hit_attempts(&hits, now)?;
    if let Some((scope, until)) = full(&reserved, 0) {
        ctx.store().release_attempts(&keys, &[])?;
        return Err(too_many(ctx, guess, who, scope, until, now));
    }
    let result = attempt();
    match &result {
        Err(e) if guess.is_wrong(e.code) => {} // the reservation stays: a counted failure
        outcome => {
            let clear: Vec<String> = match outcome {
                Ok(_) => counters.iter().filter(|c| c.scope == "accountIp").map(|c| c.key.clone()).collect(),
                Err(_) => Vec::new(),
            };
            let release: Vec<String> = keys.iter().filter(|k| !clear.contains(k)).cloned().collect();
            // Best effort: the guess already happened (a session may exist); failing to hand the
            // reservation back only leaves a counter one too high until its window ends.
            let _ = ctx.store().release_attempts(&release, &clear);
        }
    }
    result
}

/// Counts one wrong guess against `who`'s counters without checking them first: for a failure
/// found only after the guess was judged under other counters (a passkey assertion whose signature
/// verified but whose counter went backwards or that lacked user verification, docs/passkeys.md).
///
/// # Errors
/// `StorageError`.
pub(crate) fn count_failure(ctx: &Context, guess: Guess, who: &Guesser<'_>) -> Result<()> {
    let counters = counters(guess, who, guess.limits(&ctx.config().attempt_limits));
    if counters.is_empty() {
        return Ok(());
    }
    let hits: Vec<(String, i64)> = counters.iter().map(|c| (c.key.clone(), window_ms(&c.limit))).collect();
    ctx.store().hit_attempts(&hits, ctx.now())?;
    Ok(())
}

fn too_many(ctx: &Context, guess: Guess, who: &Guesser<'_>, scope: &str, until: i64, now: i64) -> AccountsError {
    let retry_after = ((until - now).max(0) + 999) / 1000;
    let _ = ctx.events().emit(
        events::TOO_MANY_ATTEMPTS,
        || json!({ "attempt": guess.name(), "limit": scope, "retryAfter": retry_after, "account": who.account, "ip": who.ip }),
    );
    AccountsError::new(ErrorCode::TooManyAttempts, "Too many attempts, try again later")
        .with_details(json!({ "retryAfter": retry_after, "limit": scope }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::testing;

    fn wrong() -> Result<()> {
        Err(AccountsError::code(ErrorCode::IncorrectPassword))
    }

    #[test]
    fn wrong_guesses_fill_the_counter_and_a_success_clears_account_and_ip() {
        let limits = serde_json::json!({"attemptLimits": {"password": {
            "accountIp": {"max": 3, "window": "60s"}, "account": {"max": 0, "window": "60s"}, "ip": {"max": 0, "window": "60s"}}}});
        let (ctx, clock) = testing::context(limits, Default::default());
        let who = Guesser { account: Some("u1"), ip: Some("10.0.0.1") };
        for _ in 0..2 {
            assert_eq!(guarded(&ctx, Guess::Password, &who, wrong).unwrap_err().code, ErrorCode::IncorrectPassword);
        }
        guarded(&ctx, Guess::Password, &who, || Ok(())).unwrap();
        for _ in 0..3 {
            assert_eq!(guarded(&ctx, Guess::Password, &who, wrong).unwrap_err().code, ErrorCode::IncorrectPassword);
        }
        let refused = guarded(&ctx, Guess::Password, &who, || Ok(())).unwrap_err();
        assert_eq!(refused.code, ErrorCode::TooManyAttempts, "even a right guess waits");
        assert_eq!(refused.details.as_ref().unwrap()["limit"], "accountIp");
        let other_ip = Guesser { account: Some("u1"), ip: Some("10.0.0.2") };
        guarded(&ctx, Guess::Password, &other_ip, || Ok(())).unwrap();
        clock.advance_secs(61);
        guarded(&ctx, Guess::Password, &who, || Ok(())).unwrap();
    }

    #[test]
    fn errors_that_are_not_wrong_guesses_are_not_counted() {
        let limits = serde_json::json!({"attemptLimits": {"secondFactor": {
            "accountIp": {"max": 0, "window": "60s"}, "account": {"max": 1, "window": "60s"}, "ip": {"max": 0, "window": "60s"}}}});
        let (ctx, _) = testing::context(limits, Default::default());
        let who = Guesser { account: Some("u1"), ip: None };
        for _ in 0..3 {
            let storage = guarded(&ctx, Guess::SecondFactor, &who, || -> Result<()> { Err(AccountsError::code(ErrorCode::StorageError)) });
            assert_eq!(storage.unwrap_err().code, ErrorCode::StorageError);
        }
        let wrong_code = || -> Result<()> { Err(AccountsError::code(ErrorCode::TwoFactorCodeDidNotMatch)) };
        assert_eq!(guarded(&ctx, Guess::SecondFactor, &who, wrong_code).unwrap_err().code, ErrorCode::TwoFactorCodeDidNotMatch);
        assert_eq!(guarded(&ctx, Guess::SecondFactor, &who, wrong_code).unwrap_err().code, ErrorCode::TooManyAttempts);
    }
}
