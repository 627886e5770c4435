// accounts-rs from Node: the same flow as examples/c/quickstart.c.
//   node examples/node/quickstart.mjs [db-path]
import { AccountsServer, version } from '../../bindings/node/index.mjs'

const db = process.argv[2] ?? 'quickstart.db'
const outbox = { token: '' }
const server = new AccountsServer({
  db: `sqlite:${db}`,
  tokenSecret: process.env.ACCOUNTS_TOKEN_SECRET ?? 'change-me-to-32-or-more-random-bytes!!',
  impersonationAuthorize: async (user) => user.username === 'admin',
  // Delivers mail; this one keeps the token at the end of the link (a real one would send it).
  sendMail: async (mail) => {
    outbox.token = mail.text.split('/').pop()
  },
})
console.log(`accounts-rs ${version}, database ${db}`)
const password = server.getServices().password

const adminId = await password.createUser({ username: 'admin', email: 'admin@example.com', password: 'admin-password' })
const janeId = await password.createUser({ username: 'jane', email: 'jane@example.com', password: 'jane-password' })
console.log(`1. created users admin=${adminId} jane=${janeId}`)

await password.sendVerificationEmail('admin@example.com')
await password.verifyEmail(outbox.token)
console.log('2. mailed admin a verification link and followed it: email verified')

await password.sendResetPasswordEmail('admin@example.com')
await password.resetPassword(outbox.token, 'new-admin-password')
console.log('3. mailed admin a reset link and set a new password with it')

const login = await server.loginWithService('password', { user: { email: 'admin@example.com' }, password: 'new-admin-password' }, { ip: '127.0.0.1', userAgent: 'quickstart' })
console.log(`4. logged in as admin, session ${login.sessionId}`)

const user = await server.resumeSession(login.tokens.accessToken)
console.log(`5. resumed session: ${user.username} ${JSON.stringify(user.emails)}`)

const refreshed = await server.refreshTokens(login.tokens.accessToken, login.tokens.refreshToken)
const access = refreshed.tokens.accessToken
console.log('6. refreshed tokens (the old refresh token is now spent)')

const impersonation = await server.impersonate(access, { username: 'jane' })
console.log(`7. impersonate jane: ${impersonation.authorized ? 'authorized' : 'denied'}`)

await server.deactivateUser(janeId)
const janeLogin = await server.loginWithService('password', { user: 'jane', password: 'jane-password' }).catch((e) => e)
console.log(`8. deactivated jane; her login now fails with ${janeLogin.code}`)

await server.logout(access)
const resumed = await server.resumeSession(access).catch((e) => e)
console.log(`9. logged out; resuming the session now fails with ${resumed.code}`)

// Other services verify tokens without the database from the public keys: serve them where they
// look (with an HMAC tokenSecret the set is empty; use a key pair or a tokenKeys ring to fill it).
const http = await import('node:http')
const wellKnown = http.createServer((req, res) => {
  if (req.url !== '/.well-known/jwks.json') return res.writeHead(404).end()
  res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(server.getJwks()))
})
await new Promise((resolve) => wellKnown.listen(0, '127.0.0.1', resolve))
const jwks = await (await fetch(`http://127.0.0.1:${wellKnown.address().port}/.well-known/jwks.json`)).json()
wellKnown.close()
console.log(`10. served /.well-known/jwks.json: ${jwks.keys.length} public keys`)
process.exitCode = resumed.code === 'InvalidSession' && Array.isArray(jwks.keys) ? 0 : 1
