//! Mails the library sends: built from `emailTemplates` (accounts-js `prepareMail`) and handed to
//! the host's `sendMail` callback, or written to stderr when there is none (as accounts-js logs them).

use crate::callbacks::{Callbacks, PrepareMailFn, SendMailFn};
use crate::config::{Config, EmailTemplates, TemplateOverride};
use crate::error::Result;
use serde_json::{Value, json};
use std::sync::Arc;

/// The kinds of mail, with the path segment of their link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// Email verification link.
    VerifyEmail,
    /// Password reset link.
    ResetPassword,
    /// Enrollment link (set a first password).
    EnrollAccount,
    /// Notice that the password changed (no link).
    PasswordChanged,
    /// Magic login link.
    MagicLink,
}

impl MailKind {
    /// The name used in the mail's `type` field and in `emailTemplates`.
    pub fn name(self) -> &'static str {
        match self {
            MailKind::VerifyEmail => "verifyEmail",
            MailKind::ResetPassword => "resetPassword",
            MailKind::EnrollAccount => "enrollAccount",
            MailKind::PasswordChanged => "passwordChanged",
            MailKind::MagicLink => "magicLink",
        }
    }

    /// `${siteUrl}/<segment>/<token>`, as accounts-js builds its links.
    fn path(self) -> &'static str {
        match self {
            MailKind::VerifyEmail => "verify-email",
            MailKind::ResetPassword => "reset-password",
            MailKind::EnrollAccount => "enroll-account",
            MailKind::PasswordChanged => "",
            MailKind::MagicLink => "magiclink",
        }
    }

    /// accounts-js 0.33's default `emailTemplates` (`@accounts/server`): subject, text and HTML,
    /// `{{url}}` standing for the link.
    fn defaults(self) -> (&'static str, &'static str, &'static str) {
        match self {
            MailKind::VerifyEmail => (
                "Verify your account email",
                "To verify your account email please click on this link: {{url}}",
                "To verify your account email please <a href=\"{{url}}\">click here</a>.",
            ),
            MailKind::ResetPassword => (
                "Reset your password",
                "To reset your password please click on this link: {{url}}",
                "To reset your password please <a href=\"{{url}}\">click here</a>.",
            ),
            MailKind::EnrollAccount => (
                "Set your password",
                "To set your password please click on this link: {{url}}",
                "To set your password please <a href=\"{{url}}\">click here</a>.",
            ),
            MailKind::PasswordChanged => (
                "Your password has been changed",
                "Your account password has been successfully changed",
                "Your account password has been successfully changed.",
            ),
            MailKind::MagicLink => {
                ("Your magic link", "To log in please click on this link: {{url}}", "To log in please <a href=\"{{url}}\">click here</a>.")
            }
        }
    }

    fn template(self, t: &EmailTemplates) -> &TemplateOverride {
        match self {
            MailKind::VerifyEmail => &t.verify_email,
            MailKind::ResetPassword => &t.reset_password,
            MailKind::EnrollAccount => &t.enroll_account,
            MailKind::PasswordChanged => &t.password_changed,
            MailKind::MagicLink => &t.magic_link,
        }
    }
}

/// Not accounts-js's `accounts-js <no-reply@accounts-js.com>`: a default sender in a domain the
/// deployment does not own would be refused or marked as spoofed by receiving servers (SPF, DMARC);
/// `localhost` makes an unconfigured sender obvious (docs/differences-from-accounts-js.md).
const DEFAULT_FROM: &str = "accounts-rs <no-reply@localhost>";

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn fill(template: &str, url: &str, email: &str) -> String {
    template.replace("{{url}}", url).replace("{{email}}", email)
}

/// Builds the mail `{type, from, to, subject, text, html}` for `kind`, to `address`, carrying `token`.
fn prepare(templates: &EmailTemplates, site_url: &str, kind: MailKind, address: &str, token: Option<&str>) -> Value {
    let url = match token {
        Some(t) => format!("{}/{}/{}", site_url.trim_end_matches('/'), kind.path(), t),
        None => String::new(),
    };
    let over = kind.template(templates);
    let (subject, text, html) = kind.defaults();
    let subject = fill(over.subject.as_deref().unwrap_or(subject), &url, address);
    let custom_text = over.text.is_some();
    let text = fill(over.text.as_deref().unwrap_or(text), &url, address);
    let html = match &over.html {
        Some(h) => fill(h, &escape_html(&url), &escape_html(address)),
        // Without templates: accounts-js's own HTML.
        None if !custom_text => fill(html, &escape_html(&url), &escape_html(address)),
        // A custom text without a custom HTML: the HTML says the same text.
        None if url.is_empty() => format!("<p>{}</p>", escape_html(&text)),
        None => {
            let before = escape_html(text.trim_end_matches(&url).trim_end().trim_end_matches(':'));
            format!("<p>{before}: <a href=\"{u}\">{u}</a></p>", u = escape_html(&url))
        }
    };
    json!({
        "type": kind.name(),
        "from": templates.from.as_deref().unwrap_or(DEFAULT_FROM),
        "to": address,
        "subject": subject,
        "text": text,
        "html": html,
    })
}

/// Builds mails from the templates and hands them to the host (built once per server).
pub(crate) struct Mailer {
    templates: EmailTemplates,
    site_url: String,
    prepare_mail: Option<Arc<PrepareMailFn>>,
    send_mail: Option<Arc<SendMailFn>>,
}

impl Mailer {
    pub(crate) fn new(config: &Config, callbacks: &Callbacks) -> Mailer {
        Mailer {
            templates: config.email_templates.clone(),
            site_url: config.site_url.clone(),
            prepare_mail: callbacks.prepare_mail.clone(),
            send_mail: callbacks.send_mail.clone(),
        }
    }

    /// The mail of `kind` from the templates alone (no callback runs).
    pub(crate) fn prepare(&self, kind: MailKind, address: &str, token: Option<&str>) -> Value {
        prepare(&self.templates, &self.site_url, kind, address, token)
    }

    /// Prepares (the host's `prepareMail`, else the templates) and delivers one mail; `user` gives
    /// the recipient as `prepareMail` sees it, computed only when there is one.
    ///
    /// # Errors
    /// `user`'s, `prepareMail`'s or `sendMail`'s error.
    pub(crate) fn send(&self, kind: MailKind, user: impl FnOnce() -> Result<Value>, address: &str, token: Option<&str>) -> Result<()> {
        let mut mail = self.prepare(kind, address, token);
        if let Some(prepare_mail) = &self.prepare_mail {
            let template = json!({ "from": mail["from"], "subject": mail["subject"], "text": mail["text"], "html": mail["html"] });
            let args =
                [json!(address), json!(token.unwrap_or_default()), user()?, json!(kind.path()), template, mail["from"].clone(), json!(kind.name())];
            mail = prepare_mail(&args)?;
            if mail.get("type").is_none() {
                mail["type"] = json!(kind.name());
            }
        }
        match &self.send_mail {
            Some(send) => send(&mail),
            None => {
                // accounts-js logs undelivered mail; development setups read the link from here.
                eprintln!("accounts-rs: no sendMail callback; mail not sent: {mail}");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_overrides() {
        let mut t = EmailTemplates::default();
        let m = prepare(&t, "https://app.example/", MailKind::ResetPassword, "a@b.co", Some("tok"));
        assert_eq!(m["to"], "a@b.co");
        assert_eq!(m["type"], "resetPassword");
        assert!(m["text"].as_str().unwrap().ends_with("https://app.example/reset-password/tok"));
        assert!(m["html"].as_str().unwrap().contains("href=\"https://app.example/reset-password/tok\""));
        t.from = Some("Team <team@app.example>".into());
        t.verify_email.subject = Some("Hi {{email}}".into());
        t.verify_email.html = Some("<b>{{email}}</b> {{url}}".into());
        let m = prepare(&t, "http://x", MailKind::VerifyEmail, "<evil>@b.co", Some("t2"));
        assert_eq!(m["from"], "Team <team@app.example>");
        assert_eq!(m["subject"], "Hi <evil>@b.co");
        assert_eq!(m["html"], "<b>&lt;evil&gt;@b.co</b> http://x/verify-email/t2");
        assert_eq!(m["text"], "To verify your account email please click on this link: http://x/verify-email/t2");
        let m = prepare(&t, "http://x", MailKind::PasswordChanged, "a@b.co", None);
        assert_eq!(m["subject"], "Your password has been changed");
        t.reset_password.text = Some("Reset: {{url}}".into());
        let m = prepare(&t, "http://x", MailKind::ResetPassword, "a@b.co", Some("t3"));
        assert_eq!(m["html"], "<p>Reset: <a href=\"http://x/reset-password/t3\">http://x/reset-password/t3</a></p>", "HTML from a custom text");
    }

    /// Without `emailTemplates`, exactly accounts-js 0.33's default mails (`@accounts/server`'s
    /// `emailTemplates`, magic links included); only the sender is ours (DEFAULT_FROM).
    #[test]
    fn the_defaults_are_accounts_js_mails() {
        let t = EmailTemplates::default();
        let url = |path: &str| format!("https://app.example/{path}/tok");
        let cases = [
            (MailKind::VerifyEmail, "Verify your account email", "To verify your account email please", "verify-email"),
            (MailKind::ResetPassword, "Reset your password", "To reset your password please", "reset-password"),
            (MailKind::EnrollAccount, "Set your password", "To set your password please", "enroll-account"),
            (MailKind::MagicLink, "Your magic link", "To log in please", "magiclink"),
        ];
        for (kind, subject, lead, path) in cases {
            let m = prepare(&t, "https://app.example", kind, "a@b.co", Some("tok"));
            assert_eq!(m["subject"], subject);
            assert_eq!(m["text"], format!("{lead} click on this link: {}", url(path)));
            assert_eq!(m["html"], format!("{lead} <a href=\"{}\">click here</a>.", url(path)));
            assert_eq!(m["from"], DEFAULT_FROM);
        }
        let m = prepare(&t, "https://app.example", MailKind::PasswordChanged, "a@b.co", None);
        assert_eq!(m["subject"], "Your password has been changed");
        assert_eq!(m["text"], "Your account password has been successfully changed");
        assert_eq!(m["html"], "Your account password has been successfully changed.");
    }
}
