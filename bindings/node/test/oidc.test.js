'use strict'
// OpenID Connect through the Node package against a real provider (tests/oidc: npm's oidc-provider
// on 127.0.0.1): the authorization-code flow with PKCE, state and nonce; the linking rule; replays;
// RFC 9207's iss; checkProviders. Every test runs with both claim placements: the provider's
// default (email only from UserInfo) and the claims in the ID token.
const test = require('node:test')
const { describe, before, after } = test
const assert = require('node:assert/strict')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { AccountsServer } = require('..')

const HARNESS = path.join(__dirname, '..', '..', '..', 'tests', 'oidc')
const { SECRET, FAST, rejects } = require('../test-support/helpers')


let op
let drive

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

for (const claims of ['userinfo', 'id_token']) describe(`claims from ${claims}`, () => {
  before(async () => {
    const { start } = await import(pathToFileURL(path.join(HARNESS, 'provider.mjs')).href)
    ;({ drive } = await import(pathToFileURL(path.join(HARNESS, 'drive.mjs')).href))
    op = await start({ claims })
  })
  after(() => op.close())

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
    const e = await server.loginWithService('oauth', { provider: 'corp', code: back.code, state, iss: back.iss }).catch((err) => err)
    assert.equal(e.code, 'ProviderError')
    assert.equal(e.details.error, 'invalid_grant')
  })

  test('an unverified provider address never opens the account holding it; explicit linking does', async () => {
    const { server, oauth, password } = setup()
    const alice = await password.createUser({ username: 'alice', password: 'correct horse' })
    await password.addEmail(alice, 'alice@example.com', true)
    // mallory's address is unverified at the provider: an account of its own, without the address.
    const mallory = (await server.loginWithService('oauth', { provider: 'corp', ...(await authorize(oauth, 'mallory')) })).user
    assert.notEqual(mallory.id, alice)
    assert.deepEqual(mallory.emails, [])
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

  test('RFC 9207: the authorization response names the provider; another issuer or none is refused', async () => {
    const { server, oauth } = setup()
    const back = await authorize(oauth, 'bob')
    assert.equal(back.iss, op.info.issuer, 'oidc-provider sends iss')
    // A mix-up: the code never reaches the token endpoint and the flow is over.
    await rejects(server.loginWithService('oauth', { provider: 'corp', ...back, iss: 'https://evil.example' }), 'InvalidAuthorizationState')
    await rejects(server.loginWithService('oauth', { provider: 'corp', ...back }), 'InvalidAuthorizationState')
    // Its discovery promises iss: a response without it is refused.
    const { iss, ...without } = await authorize(oauth, 'bob')
    await rejects(server.loginWithService('oauth', { provider: 'corp', ...without }), 'InvalidAuthorizationState')
  })

  test('UserInfo: the address comes from it when the ID token has none, and always with userinfo: true', async () => {
    for (const extra of [{}, { userinfo: true }]) {
      const { server, oauth } = setup(extra)
      const login = await server.loginWithService('oauth', { provider: 'corp', ...(await authorize(oauth, 'alice')) })
      assert.deepEqual(login.user.emails, [{ address: 'alice@example.com', verified: true }], JSON.stringify(extra))
      assert.equal(login.user.name, 'Alice')
    }
  })

  test('authorizationUrl refuses unknown options; a missing code is InvalidArgument', async () => {
    const { server, oauth } = setup()
    await rejects(oauth.authorizationUrl('corp', { foo: 1 }), 'InvalidArgument')
    await rejects(oauth.authorizationUrl('corp', { login_hint: 'bob' }), 'InvalidArgument')
    const { state } = await oauth.authorizationUrl('corp', { loginHint: 'bob', prompt: 'login' })
    await rejects(server.loginWithService('oauth', { provider: 'corp', state }), 'InvalidArgument')
  })

  test('a client keeps its newest 20 pending flows (its address from infos)', async () => {
    const { server, oauth } = setup()
    const infos = { ip: '203.0.113.77', userAgent: 'burst' }
    const starts = []
    for (let i = 0; i < 21; i++) starts.push((await oauth.authorizationUrl('corp', {}, infos)).state)
    const finish = (state) => server.loginWithService('oauth', { provider: 'corp', code: 'never-issued', state, iss: op.info.issuer })
    await rejects(finish(starts[0]), 'InvalidAuthorizationState')
    // The newest is still pending: it reaches the provider, which refuses the made-up code.
    await rejects(finish(starts[20]), 'ProviderError')
    await rejects(oauth.authorizationUrl('corp', {}, { ip: 7 }), 'InvalidArgument')
  })

  test('checkProviders fetches each provider\'s discovery and fails on a bad issuer', async () => {
    await setup().oauth.checkProviders()
    const { clientId, clientSecret, redirectUri } = op.info
    const wrong = new AccountsServer({
      db: 'sqlite::memory:', tokenSecret: SECRET,
      services: { ...FAST, oauth: { providers: { typo: { type: 'oidc', issuer: `${op.info.issuer}/typo`, clientId, clientSecret, redirectUri } } } },
    })
    await assert.rejects(wrong.getServices().oauth.checkProviders(), (e) => {
      assert.equal(e.code, 'ProviderError')
      assert.equal(e.details.provider, 'typo')
      return true
    })
  })
})
