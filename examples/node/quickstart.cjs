// accounts-rs from a CommonJS module: sign up, log in, resume, log out.
//   node examples/node/quickstart.cjs [db-path]   (the full flow: quickstart.mjs)
const { AccountsServer, version } = require('../../bindings/node')

async function main() {
  const db = process.argv[2] ?? 'quickstart-cjs.db'
  const server = new AccountsServer({ db: `sqlite:${db}`, tokenSecret: process.env.ACCOUNTS_TOKEN_SECRET ?? 'change-me-to-32-or-more-random-bytes!!' })
  console.log(`accounts-rs ${version}, database ${db}`)
  const id = await server.getServices().password.createUser({ username: 'ada', password: 'ada-password' })
  const login = await server.loginWithService('password', { user: 'ada', password: 'ada-password' })
  const user = await server.resumeSession(login.tokens.accessToken)
  await server.logout(login.tokens.accessToken)
  const after = await server.resumeSession(login.tokens.accessToken).catch((e) => e)
  console.log(`signed up ${user.username} (${id === user.id ? 'same id' : 'another id?'}), logged in and out: ${after.code}`)
  process.exitCode = after.code === 'InvalidSession' && id === user.id ? 0 : 1
}

main()
