// A real OpenID provider (npm's certified `oidc-provider`) on 127.0.0.1 for the OAuth tests of every
// language (docs/oauth.md). Accounts below; the interaction logs in the account named by the
// authorization request's `login_hint` (default alice) and grants what was asked, with no page.
// For the attack tests, `POST /test/tamper {"mode"}` makes the provider's next token response carry
// a forged ID token, built from the genuine one with the provider's own key (see TAMPER).
// Claim placement (OIDC_CLAIMS, or start({claims})): "userinfo" (default, the spec's and
// oidc-provider's: the ID token of a code flow carries `sub` only, `email` and `name` come from the
// UserInfo endpoint) or "id_token" (the scope's claims in the ID token too, as Google sends them).
// The provider sends `iss` in every authorization response and says so in discovery (RFC 9207).
//   node provider.mjs                 prints {"issuer", "clientId", "clientSecret", "redirectUri", "drive", "claims"} and
//                                     serves until stdin closes
//   node provider.mjs -- cmd args...  runs cmd with ACCOUNTS_TEST_OIDC=<that JSON>, exits with its status
import http from 'node:http'
import { spawn } from 'node:child_process'
import { createHmac, createPublicKey, generateKeyPairSync, sign } from 'node:crypto'
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

const b64 = (data) => Buffer.from(data).toString('base64url')

// What each mode does to the genuine ID token (re-signed with the provider's key unless said).
const TAMPER = {
  // The control: the genuine claims signed again, which must still be accepted (so a refusal of
  // the others is theirs, not a broken forgery).
  resigned: (claims) => claims,
  nonce: (claims) => ({ ...claims, nonce: 'not-the-nonce-of-this-authorization' }),
  audience: (claims) => ({ ...claims, aud: 'another-client' }),
  expired: (claims) => ({ ...claims, iat: claims.iat - 7200, exp: claims.iat - 3600 }),
  // The classic algorithm swap: HS256 keyed with the provider's public key.
  alg: (claims) => claims,
}

function forge(idToken, mode, privateKey) {
  const [headerPart, payloadPart] = idToken.split('.')
  const header = JSON.parse(Buffer.from(headerPart, 'base64url'))
  const claims = TAMPER[mode](JSON.parse(Buffer.from(payloadPart, 'base64url')))
  if (mode === 'alg') {
    const input = `${b64(JSON.stringify({ ...header, alg: 'HS256' }))}.${b64(JSON.stringify(claims))}`
    const pem = createPublicKey(privateKey).export({ format: 'pem', type: 'spki' })
    return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`
  }
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`
  return `${input}.${b64(sign('sha256', Buffer.from(input), privateKey))}`
}

export const CLAIM_PLACEMENTS = ['userinfo', 'id_token']

/** Starts the provider; `redirectUris` are registered for the client beside CLIENT.redirectUri. */
export async function start({ redirectUris = [], claims = process.env.OIDC_CLAIMS || 'userinfo' } = {}) {
  if (!CLAIM_PLACEMENTS.includes(claims)) throw new Error(`claims must be one of ${CLAIM_PLACEMENTS}, not ${claims}`)
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
        redirect_uris: [CLIENT.redirectUri, ...redirectUris],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // true (oidc-provider's default, OpenID Connect Core §5.4): the scope's claims only from UserInfo.
    conformIdTokenClaims: claims === 'userinfo',
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
  let tamper = null
  server.on('request', async (req, res) => {
    if (req.method === 'POST' && req.url === '/test/tamper') {
      let body = ''
      for await (const chunk of req) body += chunk
      tamper = JSON.parse(body).mode
      if (!TAMPER[tamper]) throw new Error(`unknown tamper mode ${tamper}`)
      res.statusCode = 204
      return res.end()
    }
    if (req.method === 'POST' && req.url === '/token' && tamper) {
      // Rewrites the ID token in the provider's answer just before it leaves.
      const mode = tamper
      tamper = null
      const end = res.end.bind(res)
      res.end = (chunk, ...rest) => {
        const answer = JSON.parse(String(chunk))
        if (answer.id_token) answer.id_token = forge(answer.id_token, mode, privateKey)
        const text = JSON.stringify(answer)
        res.setHeader('content-length', Buffer.byteLength(text))
        return end(text, ...rest)
      }
      return handle(req, res)
    }
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
  return { info: { issuer, ...CLIENT, drive, claims }, close: () => server.close() }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  // OIDC_REDIRECT_URIS: more redirect URIs for the client (comma-separated), e.g. an example app's.
  const extra = (process.env.OIDC_REDIRECT_URIS || '').split(',').filter(Boolean)
  const { info, close } = await start({ redirectUris: extra })
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
