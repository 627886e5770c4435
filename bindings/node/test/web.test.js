'use strict'
// server.handleHttp / server.httpUser: core's web edge as the Node binding exposes it (the routes and
// attacks are core/tests/web.rs; here the conversion both ways: header shapes, binary bodies).
const test = require('node:test')
const assert = require('node:assert/strict')
const { AccountsServer } = require('..')

const { SECRET, FAST } = require('../test-support/helpers')
const CREDS = JSON.stringify({ user: { email: 'dana@example.com' }, password: 'first password' })

test('handleHttp in bearer mode: pairs, objects and rawHeaders; the peer is the client', async () => {
  const server = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: FAST })
  const id = await server.getServices().password.createUser({ email: 'dana@example.com', password: 'first password' })
  const r = await server.handleHttp({
    method: 'POST',
    path: '/password/authenticate',
    headers: ['Content-Type', 'application/json', 'X-Forwarded-For', '6.6.6.6'],
    body: Buffer.from(CREDS),
    peer: '::ffff:192.0.2.4',
  })
  assert.equal(r.status, 200)
  const login = JSON.parse(r.body)
  assert.equal(login.user.id, id)
  const session = await server.findSessionByAccessToken(login.tokens.accessToken)
  assert.equal(session.ip, '192.0.2.4', 'the peer, not the forged header')
  const user = await server.handleHttp({ method: 'GET', path: '/user', headers: { authorization: `Bearer ${login.tokens.accessToken}` } })
  assert.equal(JSON.parse(user.body).id, id)
  const binary = await server.handleHttp({ method: 'POST', path: '/password/register', headers: [['content-type', 'application/json']], body: Buffer.from([0x22, 0xff, 0x22]) })
  assert.deepEqual([binary.status, JSON.parse(binary.body).code], [400, 'MalformedRequest'])
  await assert.rejects(server.handleHttp({ method: 'GET' }), (e) => e.code === 'InvalidArgument')
  await assert.rejects(server.handleHttp({ method: 'GET', path: '/', body: 5 }), (e) => e.code === 'InvalidArgument')
})

test('cookie mode and httpUser', async () => {
  const server = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: SECRET, services: FAST, siteUrl: 'https://app.example', web: { cookies: true } })
  const id = await server.getServices().password.createUser({ email: 'dana@example.com', password: 'first password' })
  const r = await server.handleHttp({ method: 'POST', path: '/password/authenticate', headers: [['content-type', 'application/json'], ['origin', 'https://app.example']], body: CREDS })
  assert.equal(JSON.parse(r.body).tokens, undefined)
  const cookies = Object.fromEntries(r.headers.filter(([n]) => n === 'set-cookie').map(([, v]) => v.split(';')[0].split('=')))
  const cookie = Object.entries(cookies).map(([k, v]) => `${k}=${v}`).join('; ')
  const found = await server.httpUser({ method: 'GET', path: '/api/me', headers: { cookie } })
  assert.equal(found.user.id, id)
  assert.equal(found.accessToken, cookies['__Host-accounts_access'])
  await assert.rejects(server.httpUser({ method: 'DELETE', path: '/api/x', headers: { cookie } }), (e) => e.code === 'CsrfRefused' && e.details.status === 403)
  const ok = await server.httpUser({ method: 'DELETE', path: '/api/x', headers: { cookie, 'x-csrf-token': cookies['__Host-accounts_csrf'] } })
  assert.equal(ok.user.id, id)
  assert.equal(await server.httpUser({ method: 'GET', path: '/api/me', headers: {} }), null)
})
