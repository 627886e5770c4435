'use strict'
// The main flow once against PostgreSQL (`make test` starts a server and sets ACCOUNTS_TEST_PG_URL).
const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { AccountsServer } = require('..')

const PG_URL = process.env.ACCOUNTS_TEST_PG_URL
const required = process.env.ACCOUNTS_REQUIRE_PG === '1'

test('main flow on PostgreSQL', { skip: !PG_URL && !required && 'no PostgreSQL server (set ACCOUNTS_TEST_PG_URL)' }, async () => {
  assert.ok(PG_URL, 'ACCOUNTS_REQUIRE_PG=1 but ACCOUNTS_TEST_PG_URL is not set')
  const s = new AccountsServer({
    db: PG_URL,
    dbPoolSize: 4,
    tokenSecret: 'node-test-secret-0123456789abcdef-0123456',
    services: { password: { hashing: { memoryKib: 256, iterations: 1, parallelism: 1 } } },
  })
  const name = `node${crypto.randomUUID().replaceAll('-', '')}`
  const p = s.getServices().password
  const id = await p.createUser({ username: name, email: `${name}@example.com`, password: 'first password' })
  await assert.rejects(p.createUser({ username: name }), (e) => e.code === 'UsernameAlreadyExists')
  await assert.rejects(s.loginWithService('password', { user: name, password: 'wrong password' }), (e) => e.code === 'InvalidCredentials')
  const login = await s.loginWithService('password', { user: name, password: 'first password' })
  assert.equal((await s.resumeSession(login.tokens.accessToken)).id, id)
  assert.equal(s.resumeSessionSync(login.tokens.accessToken).id, id)
  const refreshed = await s.refreshTokens(login.tokens.accessToken, login.tokens.refreshToken)
  assert.equal((await s.listSessions(id))[0].refreshCount, 1)
  await s.logout(refreshed.tokens.accessToken)
  await assert.rejects(s.resumeSession(refreshed.tokens.accessToken), (e) => e.code === 'InvalidSession')
})
