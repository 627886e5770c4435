'use strict'
// The real accounts-js transport (@accounts/rest-express 0.33.1) mounted unchanged on an accounts-rs
// server, driven over loopback HTTP by the real @accounts/rest-client + client + client-password.
// This folder is a user project: accounts-rs comes from `file:../..`, accounts-js from npm.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const express = require('express')
const accountsExpress = require('@accounts/rest-express').default
const { AccountsJsError } = require('@accounts/server')
const { RestClient } = require('@accounts/rest-client')
const { AccountsClient } = require('@accounts/client')
const { AccountsClientPassword } = require('@accounts/client-password')
const { authenticator } = require('otplib')
const { AccountsServer, accountsJsErrorLinked } = require('accounts-rs')

const SECRET = 'compat-test-secret-0123456789abcdef-012345'
const FAST = { password: { hashing: { memoryKib: 256, iterations: 1, parallelism: 1 } } }

async function start(options = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accounts-compat-'))
  const mails = []
  const server = new AccountsServer({
    db: `sqlite:${path.join(dir, 'app.db')}`,
    tokenSecret: SECRET,
    services: FAST,
    siteUrl: 'http://app.example',
    sendMail: (mail) => {
      mails.push(mail)
    },
    ...options,
  })
  const app = express()
  app.use(express.json())
  app.use(accountsExpress(server))
  const http = await new Promise((resolve) => {
    const h = app.listen(0, '127.0.0.1', () => resolve(h))
  })
  const storage = new Map()
  const tokenStorage = {
    getItem: async (k) => (storage.has(k) ? storage.get(k) : null),
    setItem: async (k, v) => void storage.set(k, v),
    removeItem: async (k) => void storage.delete(k),
  }
  const rest = new RestClient({ apiHost: `http://127.0.0.1:${http.address().port}`, rootPath: '/accounts' })
  const client = new AccountsClient({ tokenStorage }, rest)
  const password = new AccountsClientPassword(client)
  const lastToken = (type) => {
    const mail = mails[mails.length - 1]
    assert.equal(mail.type, type)
    return /\/([0-9a-f]{64})$/.exec(mail.text)[1]
  }
  const stop = () => new Promise((resolve) => http.close(resolve))
  return { server, rest, client, password, mails, lastToken, stop }
}

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.code, code, `${e.message}`)
    return true
  })
}

test('our errors are AccountsJsError when @accounts/server is installed beside us', async () => {
  assert.equal(accountsJsErrorLinked(), true)
  const server = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: FAST })
  const err = await server.resumeSession('not a token').catch((e) => e)
  assert.ok(err instanceof AccountsJsError && err instanceof Error)
  assert.equal(err.code, 'TokenVerificationFailed')
})

test('register, verify email, log in, fetch the user, refresh, reset the password, log out', async (t) => {
  const h = await start()
  t.after(h.stop)
  const { server, client, password, rest, mails, lastToken } = h

  assert.deepEqual(await password.createUser({ email: 'dana@example.com', password: 'first password' }), {})
  // Ambiguous mode: registering a taken email looks exactly like a success (no enumeration).
  assert.deepEqual(await password.createUser({ email: 'DANA@example.com', password: 'other password' }), {})
  const stored = await server.getServices().password.findUserByEmail('dana@example.com')
  assert.ok(stored)

  await password.requestVerificationEmail('dana@example.com')
  await password.verifyEmail(lastToken('verifyEmail'))
  assert.equal((await server.findUserById(stored.id)).emails[0].verified, true)
  await rejectsWith(password.verifyEmail('f'.repeat(64)), 'VerifyEmailLinkExpired')

  await rejectsWith(password.login({ user: { email: 'dana@example.com' }, password: 'wrong password' }), 'InvalidCredentials')
  const login = await password.login({ user: { email: 'dana@example.com' }, password: 'first password' })
  assert.equal(login.user.id, stored.id)
  assert.ok(login.tokens.accessToken && login.tokens.refreshToken)

  const me = await client.getUser()
  assert.equal(me.id, stored.id)
  await password.addEmail('second@example.com')
  assert.deepEqual((await client.getUser()).emails.map((e) => e.address), ['dana@example.com', 'second@example.com'])
  assert.ok(!JSON.stringify(me).includes('argon2'))

  const before = await client.getTokens()
  const refreshed = await client.refreshSession(true)
  assert.notEqual(refreshed.refreshToken, before.refreshToken)
  assert.equal((await client.getUser()).id, stored.id)

  await password.changePassword('first password', 'second password')
  await rejectsWith(password.changePassword('first password', 'third password'), 'InvalidCredentials')

  const mailsBefore = mails.length
  await password.requestPasswordReset('nobody@example.com') // silent in ambiguous mode
  assert.equal(mails.length, mailsBefore)
  await password.requestPasswordReset('dana@example.com')
  await rejectsWith(password.resetPassword(lastToken('resetPassword'), 'short'), 'InvalidNewPassword')
  await password.resetPassword(lastToken('resetPassword'), 'third password')
  assert.equal(await client.getUser(), null) // the reset revoked the session: rest-express loads no user
  await rejectsWith(server.resumeSession((await client.getTokens()).accessToken), 'InvalidSession')
  await rejectsWith(password.login({ user: { email: 'dana@example.com' }, password: 'second password' }), 'InvalidCredentials')

  const again = await password.login({ user: { email: 'dana@example.com' }, password: 'third password' })
  const access = again.tokens.accessToken
  await client.logout()
  await rejectsWith(server.resumeSession(access), 'InvalidSession')
  assert.equal(await client.getTokens(), null)

  // Authenticated routes: two-factor through rest-express, then a login needing the code.
  await password.login({ user: { email: 'dana@example.com' }, password: 'third password' })
  const { secret } = await rest.getTwoFactorSecret()
  assert.equal(typeof secret.base32, 'string')
  await rest.twoFactorSet(secret, authenticator.generate(secret.base32))
  await rejectsWith(password.login({ user: { email: 'dana@example.com' }, password: 'third password' }), 'TwoFactorCodeRequired')
})

test('magic link through rest-express', async (t) => {
  const h = await start()
  t.after(h.stop)
  const { server, client, rest, lastToken } = h
  const id = await server.getServices().password.createUser({ email: 'erin@example.com' })
  await rest.requestMagicLinkEmail('erin@example.com')
  const result = await client.loginWithService('magicLink', { token: lastToken('magicLink') })
  assert.equal(result.user.id, id)
  assert.equal((await client.getUser()).id, id)
})

test('not ambiguous: the transport reports a taken email', async (t) => {
  const h = await start({ ambiguousErrorMessages: false })
  t.after(h.stop)
  const created = await h.password.createUser({ email: 'dana@example.com', password: 'first password' })
  assert.equal(typeof created.userId, 'string')
  await rejectsWith(h.password.createUser({ email: 'dana@example.com', password: 'first password' }), 'EmailAlreadyExists')
})

test('the link is what keeps ambiguous register quiet', async (t) => {
  const { AccountsError, useAccountsJsError } = require('accounts-rs')
  const h = await start()
  t.after(async () => {
    useAccountsJsError(AccountsJsError)
    await h.stop()
  })
  await h.password.createUser({ email: 'dana@example.com', password: 'first password' })
  Object.setPrototypeOf(AccountsError.prototype, Error.prototype) // as if @accounts/server were absent
  await rejectsWith(h.password.createUser({ email: 'dana@example.com', password: 'first password' }), 'EmailAlreadyExists')
  useAccountsJsError(AccountsJsError)
  assert.deepEqual(await h.password.createUser({ email: 'dana@example.com', password: 'first password' }), {})
  assert.throws(() => useAccountsJsError(class NotAnError {}), TypeError)
})
