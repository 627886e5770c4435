'use strict'
// Account flows through the Node package: mail captured by sendMail, TOTP codes from otplib.
const test = require('node:test')
const assert = require('node:assert/strict')
const { authenticator } = require('otplib')
const { AccountsServer } = require('..')

const { SECRET, FAST, rejects } = require('../test-support/helpers')


function setup(extra = {}) {
  const mails = []
  const s = new AccountsServer({
    db: 'sqlite::memory:',
    tokenSecret: SECRET,
    services: FAST,
    siteUrl: 'https://app.example',
    sendMail: async (mail) => {
      mails.push(mail)
    },
    ...extra,
  })
  const token = (type) => {
    const mail = mails[mails.length - 1]
    assert.equal(mail.type, type)
    const m = /\/([0-9a-f]{64})$/.exec(mail.text)
    assert.ok(m, mail.text)
    return m[1]
  }
  return { s, p: s.getServices().password, mails, token }
}

test('emails', async () => {
  const { s, p } = setup()
  const id = await p.createUser({ email: 'dana@example.com', password: 'first password' })
  await p.addEmail(id, 'Second@Example.com')
  await p.addEmail(id, 'third@example.com', true)
  const user = await s.findUserById(id)
  assert.deepEqual(user.emails, [
    { address: 'dana@example.com', verified: false },
    { address: 'second@example.com', verified: false },
    { address: 'third@example.com', verified: true },
  ])
  await rejects(p.addEmail(id, 'SECOND@example.com'), 'EmailAlreadyExists')
  await rejects(p.addEmail(id, 'nope'), 'InvalidEmail')
  await rejects(p.addEmail('missing', 'x@y.co'), 'UserNotFound')
  await rejects(p.addEmail(id, 42), 'InvalidArgument')
  await p.removeEmail(id, 'second@example.com')
  await rejects(p.removeEmail(id, 'second@example.com'), 'EmailNotFound')
  await p.removeEmail(id, 'third@example.com')
  await rejects(p.removeEmail(id, 'dana@example.com'), 'NoEmailSet')
})

test('verify email, reset and change password', async () => {
  const { s, p, mails, token } = setup()
  const id = await p.createUser({ email: 'dana@example.com', password: 'first password' })
  const session = await s.loginWithService('password', { user: 'dana@example.com', password: 'first password' })
  await p.sendVerificationEmail('Dana@Example.com')
  assert.equal(mails.at(-1).to, 'dana@example.com')
  assert.match(mails.at(-1).text, /https:\/\/app\.example\/verify-email\//)
  assert.match(mails.at(-1).html, /<a href="https:\/\/app\.example\/verify-email\//)
  const verify = token('verifyEmail')
  await p.verifyEmail(verify)
  assert.equal((await s.findUserById(id)).emails[0].verified, true)
  await rejects(p.verifyEmail(verify), 'VerifyEmailLinkExpired')
  await rejects(p.verifyEmail(''), 'InvalidToken')

  await p.sendResetPasswordEmail('dana@example.com')
  const old = token('resetPassword')
  await p.sendResetPasswordEmail('dana@example.com')
  const reset = token('resetPassword')
  await rejects(p.resetPassword(old, 'second password'), 'ResetPasswordLinkExpired')
  await rejects(p.resetPassword(reset, 'short'), 'InvalidNewPassword')
  assert.equal(await p.resetPassword(reset, 'second password'), null)
  assert.equal(mails.at(-1).type, 'passwordChanged')
  await rejects(p.resetPassword(reset, 'third password'), 'ResetPasswordLinkExpired')
  await rejects(s.resumeSession(session.tokens.accessToken), 'InvalidSession')

  await rejects(p.changePassword(id, 'first password', 'third password'), 'InvalidCredentials')
  await rejects(p.changePassword(id, 'second password', 'short'), 'InvalidPassword') // accounts-js's code here
  await p.changePassword(id, 'second password', 'third password')
  await s.loginWithService('password', { user: 'dana@example.com', password: 'third password' })

  const before = mails.length
  await p.sendResetPasswordEmail('ghost@example.com')
  await p.sendVerificationEmail('ghost@example.com')
  assert.equal(mails.length, before, 'no mail and no error for unknown addresses')
  await rejects(p.sendEnrollmentEmail('ghost@example.com'), 'UserNotFound')
})

test('enrollment with returnTokensAfterResetPassword', async () => {
  const { s, p, token } = setup({ services: { password: { ...FAST.password, returnTokensAfterResetPassword: true } } })
  const id = await p.createUser({ email: 'new@example.com' })
  await p.sendEnrollmentEmail('new@example.com')
  const result = await p.resetPassword(token('enrollAccount'), 'my first password', { ip: '10.0.0.1' })
  assert.equal(result.user.id, id)
  assert.equal((await s.resumeSession(result.tokens.accessToken)).id, id)
})

test('a rejecting sendMail rejects the request with the very error', async () => {
  const smtpDown = new Error('smtp down')
  const s = new AccountsServer({
    db: 'sqlite::memory:',
    tokenSecret: SECRET,
    services: FAST,
    sendMail: async () => {
      throw smtpDown
    },
  })
  await s.getServices().password.createUser({ email: 'dana@example.com' })
  await assert.rejects(s.getServices().password.sendResetPasswordEmail('dana@example.com'), (e) => e === smtpDown)
})

test('two-factor with otplib codes', async () => {
  const { s, p } = setup()
  const tf = p.twoFactor
  const id = await p.createUser({ email: 'dana@example.com', password: 'first password' })
  const secret = tf.getNewAuthSecret()
  assert.match(secret.otpauthUrl, /^otpauth:\/\/totp\//)
  assert.equal(secret.otpauth_url, secret.otpauthUrl)
  // speakeasy's shape, as accounts-js returns it: the ASCII secret is the key, also in hex
  assert.match(secret.ascii, /^[0-9A-Za-z]{32}$/)
  assert.equal(Buffer.from(secret.hex, 'hex').toString('ascii'), secret.ascii)
  await rejects(tf.unset(id, authenticator.generate(secret.base32)), 'TwoFactorNotSet')
  await rejects(tf.set(id, secret, 'abcdef'), 'TwoFactorCodeDidNotMatch')
  const code = authenticator.generate(secret.base32)
  const recovery = await tf.set(id, secret, code)
  assert.equal(recovery.length, 10)
  assert.equal(await tf.isSet(id), true)
  await rejects(tf.set(id, secret.base32, code), 'TwoFactorAlreadySet')

  const params = { user: 'dana@example.com', password: 'first password' }
  await rejects(s.loginWithService('password', params), 'TwoFactorCodeRequired')
  await rejects(s.loginWithService('password', { ...params, code }), 'TwoFactorCodeDidNotMatch') // used by set
  await s.loginWithService('password', { ...params, code: recovery[0] })
  await rejects(s.loginWithService('password', { ...params, code: recovery[0] }), 'TwoFactorCodeDidNotMatch')
  const fresh = await tf.regenerateRecoveryCodes(id, recovery[1])
  await rejects(tf.unset(id, recovery[2]), 'TwoFactorCodeDidNotMatch')
  const user = await s.findUserById(id)
  assert.ok(!JSON.stringify(user).includes(secret.base32))
  await tf.unset(id, fresh[0])
  assert.equal(await tf.isSet(id), false)
  await s.loginWithService('password', params)
})

test('magic link', async () => {
  const { s, mails, token } = setup()
  const ml = s.getServices().magicLink
  const id = await s.getServices().password.createUser({ email: 'erin@example.com' })
  await ml.requestMagicLinkEmail('Erin@example.com')
  assert.match(mails.at(-1).text, /https:\/\/app\.example\/magiclink\//)
  const t = token('magicLink')
  const r = await s.loginWithService('magicLink', { token: t })
  assert.equal(r.user.id, id)
  assert.equal(r.user.emails[0].verified, true)
  await rejects(s.loginWithService('magicLink', { token: t }), 'LoginTokenExpired')
  await rejects(s.loginWithService('magicLink', {}), 'UnrecognizedOptionsForLogin') // accounts-js's code
  await rejects(s.loginWithService('magicLink', { token: 5 }), 'MatchFailed')
  await ml.requestMagicLinkEmail('ghost@example.com')
  const strict = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, ambiguousErrorMessages: false })
  await rejects(strict.getServices().magicLink.requestMagicLinkEmail('ghost@example.com'), 'UserNotFound')
})

test('accounts-js options: lifetimes in ms, reset links die on a password change, revokeAllSessions except a list', async () => {
  const { s, p, token } = setup({ services: { password: { ...FAST.password, passwordResetTokenExpiration: 3_600_000 } } })
  assert.equal(s.getOptions().services.password.passwordResetTokenExpiration, 3_600_000, 'milliseconds, as accounts-js')
  const id = await p.createUser({ email: 'dana@example.com', password: 'first password' })
  await p.sendResetPasswordEmail('dana@example.com')
  const link = token('resetPassword')
  await p.changePassword(id, 'first password', 'second password')
  await rejects(p.resetPassword(link, 'third password'), 'ResetPasswordLinkExpired') // removeAllResetPasswordTokensAfterPasswordChanged
  const logins = []
  for (let i = 0; i < 3; i++) logins.push(await s.loginWithService('password', { user: 'dana@example.com', password: 'second password' }))
  assert.equal(await s.revokeAllSessions(id, { except: [logins[0].sessionId, logins[1].sessionId] }), 1)
  assert.equal(await s.revokeAllSessions(id, { except: logins[0].sessionId }), 1)
  assert.equal((await s.resumeSession(logins[0].tokens.accessToken)).id, id)
})
