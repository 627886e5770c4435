// A real OpenID provider (npm's certified `oidc-provider`) on 127.0.0.1 for the OAuth tests of every
// language (docs/oauth.md). Accounts below; the interaction logs in the account named by the
// authorization request's `login_hint` (default alice) and grants what was asked, with no page.
//   node provider.mjs                 prints {"issuer", "clientId", "clientSecret", "redirectUri", "drive"} and
//                                     serves until stdin closes
//   node provider.mjs -- cmd args...  runs cmd with ACCOUNTS_TEST_OIDC=<that JSON>, exits with its status
import http from 'node:http'
import { spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { fileURLToPath, pathToFileURL } from 'node:url'
import Provider from 'oidc-provider'

export const ACCOUNTS = {
  alice: { email: 'alice@example.com', email_verified: true, name: 'Alice' },
  // Registered at the provider with alice's address, never verified there: must not get her account.
  mallory: { email: 'alice@example.com', email_verified: false, name: 'Mallory' },
  bob: { email: 'bob@example.com', email_verified: true, name: 'Bob' },
}
export const CLIENT = {
  clientId: 'accounts-rs',
  clientSecret: 'accounts-rs-test-client-secret-0123456789',
  redirectUri: 'https://app.example/auth/callback',
}

export async function start() {
  const server = http.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${server.address().port}`
  // A fresh signing key per run (oidc-provider's built-in development keys come with a warning).
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const provider = new Provider(issuer, {
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' }] },
    clients: [
      {
        client_id: CLIENT.clientId,
        client_secret: CLIENT.clientSecret,
        redirect_uris: [CLIENT.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // The ID token carries the scope's claims (the library reads the ID token, not userinfo).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    cookies: { keys: ['accounts-rs-test-cookie-key'] },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
    async findAccount(ctx, id) {
      if (!ACCOUNTS[id]) return undefined
      return { accountId: id, async claims() { return { sub: id, ...ACCOUNTS[id] } } }
    },
  })
  provider.on('server_error', (ctx, error) => console.error('oidc-provider:', error))
  const handle = provider.callback()
  server.on('request', async (req, res) => {
    if (!req.url.startsWith('/interaction/')) return handle(req, res)
    try {
      const details = await provider.interactionDetails(req, res)
      if (details.prompt.name === 'login') {
        const accountId = details.params.login_hint || 'alice'
        return await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false })
      }
      const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id })
      grant.addOIDCScope(details.params.scope)
      const grantId = await grant.save()
      return await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true })
    } catch (e) {
      res.statusCode = 500
      res.end(String(e))
    }
  })
  // `drive`: the script that plays the browser (drive.mjs), for tests in other languages.
  const drive = fileURLToPath(new URL('./drive.mjs', import.meta.url))
  return { info: { issuer, ...CLIENT, drive }, close: () => server.close() }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { info, close } = await start()
  const dash = process.argv.indexOf('--')
  if (dash < 0) {
    console.log(JSON.stringify(info))
    process.stdin.resume()
    process.stdin.on('end', () => {
      close()
      process.exit(0)
    })
  } else {
    const [cmd, ...args] = process.argv.slice(dash + 1)
    const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, ACCOUNTS_TEST_OIDC: JSON.stringify(info) } })
    child.on('exit', (code, signal) => {
      close()
      process.exit(code ?? (signal ? 1 : 0))
    })
  }
}
