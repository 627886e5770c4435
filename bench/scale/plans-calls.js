'use strict'
// Child of bench/scale/plans.js: makes each per-request call once on SCALE_URL (an imported
// database), telling the parent after each so it can cut the server log into calls.
const { AccountsServer } = require('../../bindings/node')
const { PASSWORD, SECRET, userName, userIndex } = require('./users')

const server = new AccountsServer({ db: process.env.SCALE_URL, tokenSecret: SECRET })
const next = () => new Promise((r) => process.once('message', r))

async function main() {
  const users = Number(process.env.SCALE_USERS)
  const first = userName(userIndex(users - 1, users)) // a slot no other part takes: not logged in before
  const login = () => server.loginWithService('password', { user: { username: first }, password: PASSWORD }, {})
  const record = {
    _id: { $oid: users.toString(16).padStart(24, '0') },
    username: userName(users),
    emails: [{ address: `${userName(users)}@example.com`, verified: true }],
    services: { password: { bcrypt: process.env.SCALE_BCRYPT_HASH } },
  }
  const steps = [
    ['importUsers, one record', async () => server.importUsers([record])],
    ['loginWithService(password), first login of an imported user (bcrypt, rehashed to argon2id)', login],
    ['loginWithService(password)', login],
    ['resumeSession', async (s) => server.resumeSession(s.tokens.accessToken)],
    ['refreshTokens', async (s) => server.refreshTokens(s.tokens.accessToken, s.tokens.refreshToken, {})],
    ['logout', async (s) => server.logout(s.tokens.accessToken)],
  ]
  process.send({ type: 'setup' })
  await next()
  let session = null
  for (const [name, call] of steps) {
    const r = await call(session)
    if (r && r.tokens) session = r
    process.send({ type: 'call', name })
    await next()
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  },
)
