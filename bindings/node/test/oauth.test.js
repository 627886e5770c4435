'use strict'
// OAuth logins through a host provider, the linking rule, link/unlink/list (docs/oauth.md).
const test = require('node:test')
const assert = require('node:assert/strict')
const { AccountsServer, AccountsError } = require('..')

const { SECRET, FAST, rejects } = require('../test-support/helpers')
const ANSWERS = {
  alice: { id: '2001', email: 'alice@example.com', emailVerified: true },
  new: { id: 1001, profile: { name: 'New' } },
  'no-id': { email: 'x@example.com' },
  // A host passing the provider's user object through as the profile (docs/security.md, "Profiles").
  passthrough: { id: '3001', email: 'mallory@example.com', emailVerified: true,
    profile: { id: 'VICTIM', emails: [{ address: 'victim@example.com', verified: true }], username: 'victim', deactivated: false, login: 'mallory' } },
  squatter: { id: '3002', email: 'victim@example.com', emailVerified: false },
}


function setup(oauth = {}) {
  const calls = []
  const server = new AccountsServer({
    db: 'sqlite::memory:',
    tokenSecret: SECRET,
    services: { ...FAST, oauth: { providers: { github: { type: 'host' } }, ...oauth } },
    // An async provider, as one that calls the provider's API over HTTP would be.
    oauthAuthenticate: async (provider, params) => {
      calls.push(provider)
      await new Promise((resolve) => setImmediate(resolve))
      if (!(params.code in ANSWERS)) throw new AccountsError('unknown code', 'InvalidCredentials')
      return ANSWERS[params.code]
    },
  })
  return { server, calls, oauth: server.getServices().oauth }
}

const login = (server, code) => server.loginWithService('oauth', { provider: 'github', code })

async function aliceAccount(server, verified) {
  const password = server.getServices().password
  const id = await password.createUser({ username: 'alice', password: 'correct horse' })
  await password.addEmail(id, 'alice@example.com', verified)
  return id
}

test('a verified address on both sides links the identity and logs in', async () => {
  const { server, calls, oauth } = setup()
  const alice = await aliceAccount(server, true)
  assert.equal((await login(server, 'alice')).user.id, alice)
  assert.deepEqual(calls, ['github'])
  const [linked] = await oauth.listLinkedAccounts(alice)
  assert.deepEqual([linked.provider, linked.id, linked.userId, linked.email], ['github', '2001', alice, 'alice@example.com'])
})

test('an unverified address refuses the link, or creates a separate account when configured', async () => {
  const { server, oauth } = setup()
  const alice = await aliceAccount(server, false)
  await rejects(login(server, 'alice'), 'AccountLinkRefused')
  assert.deepEqual(await oauth.listLinkedAccounts(alice), [])

  const creating = setup({ unverifiedEmailMatch: 'createAccount' })
  const other = await aliceAccount(creating.server, false)
  const created = (await login(creating.server, 'alice')).user
  assert.notEqual(created.id, other)
  assert.deepEqual(created.emails, [])
})

test('explicit link and unlink round trip; the last login method stays', async () => {
  const { server, oauth } = setup()
  const alice = await aliceAccount(server, false)
  const linked = await oauth.linkAccount(alice, 'github', { code: 'alice' })
  assert.deepEqual([linked.provider, linked.id, linked.userId], ['github', '2001', alice])
  assert.equal((await login(server, 'alice')).user.id, alice)
  const created = (await login(server, 'new')).user
  assert.equal(created.name, 'New')
  await rejects(oauth.linkAccount(created.id, 'github', { code: 'alice' }), 'AccountAlreadyLinked')
  await rejects(oauth.unlinkAccount(created.id, 'github'), 'LastLoginMethod')
  await oauth.unlinkAccount(alice, 'github')
  await rejects(oauth.unlinkAccount(alice, 'github'), 'LinkedAccountNotFound')
  assert.deepEqual(await oauth.listLinkedAccounts(alice), [])
  await rejects(login(server, 'alice'), 'AccountLinkRefused')
})

test('bad input and provider answers get codes', async () => {
  const { server, oauth } = setup()
  const alice = await aliceAccount(server, true)
  await rejects(login(server, 'forged'), 'InvalidCredentials')
  await rejects(login(server, 'no-id'), 'CallbackError')
  await rejects(server.loginWithService('oauth', { provider: 'gitlab', code: 'new' }), 'ProviderNotFound')
  await rejects(server.loginWithService('oauth', { code: 'new' }), 'UnrecognizedOptionsForLogin')
  await rejects(oauth.linkAccount(alice, 42, { code: 'alice' }), 'InvalidArgument')
  await rejects(oauth.listLinkedAccounts('nobody'), 'UserNotFound')
  // Without providers there is no oauth service, as in accounts-js.
  const plain = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: FAST })
  assert.equal(plain.getServices().oauth, undefined)
  await rejects(plain.loginWithService('oauth', { provider: 'github', code: 'new' }), 'ServiceNotFound')
})

test("a provider profile cannot set the user's own fields (id, emails, username)", async () => {
  const { server } = setup()
  const result = await login(server, 'passthrough')
  assert.notEqual(result.user.id, 'VICTIM')
  assert.deepEqual(result.user.emails, [{ address: 'mallory@example.com', verified: true }])
  assert.equal(result.user.username, undefined)
  assert.equal(result.user.login, 'mallory')
  const resumed = await server.resumeSession(result.tokens.accessToken)
  assert.equal(resumed.id, result.user.id)
})

test('an unverified provider address goes on no account, so its owner can still sign up', async () => {
  const { server } = setup()
  const squatter = (await login(server, 'squatter')).user
  assert.deepEqual(squatter.emails, [])
  const victim = await server.getServices().password.createUser({ email: 'victim@example.com', password: 'correct horse' })
  assert.notEqual(victim, squatter.id)
})
