'use strict'
// Every native job catches panics (docs/architecture.md, "Bindings"): a core panic on the libuv
// pool or the hashing pool rejects that one call with InternalError, as a real Error carrying its
// code and number, and the process keeps serving.
const test = require('node:test')
const assert = require('node:assert/strict')
const native = require('../accounts.node')
const { AccountsServer } = require('..')

const { SECRET, FAST } = require('../test-support/helpers')

test('a panic in a job rejects with a coded Error on both pools, and the process goes on', async () => {
  for (const operation of ['resumeSession', 'createUser']) {
    await assert.rejects(native.selfTestPanic(operation), (e) => {
      assert.ok(e instanceof Error)
      assert.equal(e.code, 'InternalError')
      assert.equal(e.number, 3)
      return true
    })
  }
  const s = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: FAST })
  const id = await s.getServices().password.createUser({ username: 'after', password: 'correct horse' })
  assert.equal(typeof id, 'string')
})

test('native errors are Errors with code, number and details from the rejection itself', async () => {
  const s = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: FAST })
  const raw = await s._native.passwordAuthenticate(JSON.stringify({ user: 'nobody', password: 'x' })).catch((e) => e)
  assert.ok(raw instanceof Error)
  assert.equal(raw.code, 'InvalidCredentials')
  assert.equal(raw.number, 25)
  assert.ok(!raw.message.includes('ACCOUNTS_ERROR'), 'no smuggled JSON in the message')
  const limited = new AccountsServer({
    db: 'sqlite::memory:',
    tokenSecret: SECRET,
    services: FAST,
    attemptLimits: { password: { accountIp: { max: 1, window: '1m' }, account: { max: 0, window: '1m' }, ip: { max: 0, window: '1m' } } },
  })
  const params = JSON.stringify({ user: 'nobody', password: 'x' })
  await limited._native.loginWithService('password', params, JSON.stringify({ ip: '10.0.0.1' })).catch(() => {})
  const refused = await limited._native.loginWithService('password', params, JSON.stringify({ ip: '10.0.0.1' })).catch((e) => e)
  assert.equal(refused.code, 'TooManyAttempts')
  assert.equal(typeof refused.details.retryAfter, 'number', 'details arrive as an object')
})

test('argument shapes are the core rules: user or id, secret or {base32}', async () => {
  const s = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: FAST })
  const id = await s.getServices().password.createUser({ username: 'shape', password: 'correct horse' })
  assert.equal((await s.loginWithUser(id)).user.id, id)
  assert.equal((await s.loginWithUser({ id })).user.id, id)
  for (const bad of [{}, { id: 5 }, 5, null]) {
    await assert.rejects(s.loginWithUser(bad), (e) => e.code === 'InvalidArgument')
  }
  for (const bad of [{}, { base32: 1 }, true]) {
    await assert.rejects(s.getServices().password.twoFactor.set(id, bad, '123456'), (e) => e.code === 'InvalidArgument')
  }
})
