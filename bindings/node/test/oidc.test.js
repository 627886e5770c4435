'use strict'
// OpenID Connect through the Node package against a real provider (tests/oidc: npm's oidc-provider
// on 127.0.0.1): the authorization-code flow with PKCE, state and nonce; the linking rule; replays.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { AccountsServer } = require('..')

const HARNESS = path.join(__dirname, '..', '..', '..', 'tests', 'oidc')
const { SECRET, FAST, rejects } = require('../test-support/helpers')


let op
let drive
test.before(async () => {
  const { start } = await import(pathToFileURL(path.join(HARNESS, 'provider.mjs')).href)
  ;({ drive } = await import(pathToFileURL(path.join(HARNESS, 'drive.mjs')).href))
  op = await start()
})
test.after(() => op.close())

function setup(extra = {}) {
  const { issuer, clientId, clientSecret, redirectUri } = op.info
  const server = new AccountsServer({
    db: 'sqlite::memory:',
    tokenSecret: SECRET,
    services: { ...FAST, oauth: { providers: { corp: { type: 'oidc', issuer, clientId, clientSecret, redirectUri, ...extra } } } },
  })
  return { server, oauth: server.getServices().oauth, password: server.getServices().password }
}

// The browser goes to the provider as `who` and comes back with code and state; with `tamper`, the
// provider's next token response carries a forged ID token (tests/oidc/provider.mjs).
// A flow finishes only as its purpose ('login' or 'link').
async function authorize(oauth, who, tamper, purpose = 'login') {
  const { url, state } = await oauth.authorizationUrl('corp', { loginHint: who, purpose })
  const back = await drive(url, op.info.redirectUri, tamper)
  assert.equal(back.state, state)
  return back
}

test('the authorization-code flow logs in, creating the account once', async () => {
  const { server, oauth } = setup()
  const { url } = await oauth.authorizationUrl('corp')
  const query = new URL(url).searchParams
  assert.equal(query.get('code_challenge_method'), 'S256')
  assert.ok(query.get('nonce') && query.get('state'))
  const first = await server.loginWithService('oauth', { provider: 'corp', ...(await authorize(oauth, 'bob')) })
  assert.deepEqual(first.user.emails, [{ address: 'bob@example.com', verified: true }])
  assert.equal(first.user.name, 'Bob')
  assert.equal((await server.resumeSession(first.tokens.accessToken)).id, first.user.id)
  const again = await server.loginWithService('oauth', { provider: 'corp', ...(await authorize(oauth, 'bob')) })
  assert.equal(again.user.id, first.user.id)
  assert.deepEqual((await oauth.listLinkedAccounts(first.user.id)).map((a) => [a.provider, a.id]), [['corp', 'bob']])
})

test('a state works once, and only with its own code', async () => {
  const { server, oauth } = setup()
  const back = await authorize(oauth, 'bob')
  await server.loginWithService('oauth', { provider: 'corp', ...back })
  await rejects(server.loginWithService('oauth', { provider: 'corp', ...back }), 'InvalidAuthorizationState')
  await rejects(server.loginWithService('oauth', { provider: 'corp', code: back.code }), 'InvalidAuthorizationState')
  await rejects(server.loginWithService('oauth', { provider: 'corp', code: back.code, state: 'f'.repeat(64) }), 'InvalidAuthorizationState')
  // A fresh state with a code the provider already redeemed: the provider refuses it.
  const { state } = await oauth.authorizationUrl('corp')
  const e = await server.loginWithService('oauth', { provider: 'corp', code: back.code, state }).catch((err) => err)
  assert.equal(e.code, 'ProviderError')
  assert.equal(e.details.error, 'invalid_grant')
})

test('an unverified provider address never opens the account holding it; explicit linking does', async () => {
  const { server, oauth, password } = setup()
  const alice = await password.createUser({ username: 'alice', password: 'correct horse' })
  await password.addEmail(alice, 'alice@example.com', true)
  await rejects(server.loginWithService('oauth', { provider: 'corp', ...(await authorize(oauth, 'mallory')) }), 'AccountLinkRefused')
  // alice's own provider account (verified there and here) links on first login.
  assert.equal((await server.loginWithService('oauth', { provider: 'corp', ...(await authorize(oauth, 'alice')) })).user.id, alice)
  // bob, logged in with a password, links his provider identity explicitly.
  const bob = await password.createUser({ username: 'bob', password: 'correct horse' })
  await rejects(oauth.linkAccount(bob, 'corp', await authorize(oauth, 'bob')), 'InvalidAuthorizationState') // a login flow cannot link
  const linked = await oauth.linkAccount(bob, 'corp', await authorize(oauth, 'bob', undefined, 'link'))
  assert.deepEqual([linked.provider, linked.id, linked.userId], ['corp', 'bob', bob])
  assert.equal((await server.loginWithService('oauth', { provider: 'corp', ...(await authorize(oauth, 'bob')) })).user.id, bob)
  await oauth.unlinkAccount(bob, 'corp')
  assert.deepEqual(await oauth.listLinkedAccounts(bob), [])
})

test('forged ID tokens are refused: another nonce, another audience, expired, alg swapped to HS256', async () => {
  const { server, oauth } = setup()
  // The control: the same claims signed again by the harness are accepted.
  const control = await server.loginWithService('oauth', { provider: 'corp', ...(await authorize(oauth, 'bob', 'resigned')) })
  assert.deepEqual(control.user.emails, [{ address: 'bob@example.com', verified: true }])
  for (const mode of ['nonce', 'audience', 'expired', 'alg']) {
    await rejects(server.loginWithService('oauth', { provider: 'corp', ...(await authorize(oauth, 'alice', mode)) }), 'InvalidIdToken')
  }
  assert.equal(await server.getServices().password.findUserByEmail('alice@example.com'), null, 'no account was created')
})

test('the provider tokens are kept (sealed) only with storeTokens', async () => {
  const keeping = setup({ storeTokens: true })
  const user = (await keeping.server.loginWithService('oauth', { provider: 'corp', ...(await authorize(keeping.oauth, 'bob')) })).user
  const tokens = await keeping.oauth.providerTokens(user.id, 'corp')
  assert.equal(typeof tokens.accessToken, 'string')
  assert.ok(tokens.expiresAt > Date.now())
  // The access token works at the provider's userinfo endpoint.
  const discovery = await (await fetch(`${op.info.issuer}/.well-known/openid-configuration`)).json()
  const info = await (await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.accessToken}` } })).json()
  assert.equal(info.sub, 'bob')

  const plain = setup()
  const other = (await plain.server.loginWithService('oauth', { provider: 'corp', ...(await authorize(plain.oauth, 'bob')) })).user
  assert.equal(await plain.oauth.providerTokens(other.id, 'corp'), null)
  await rejects(plain.oauth.providerTokens(other.id, 'github'), 'LinkedAccountNotFound')
})
