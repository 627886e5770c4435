'use strict'
// The Express example app (README, "Example apps"): accounts-rs's accounts-js REST API through
// accounts-rs/express (core's web edge) in cookie mode, the shared page in examples/web, and — only
// with ACCOUNTS_DEV_INBOX=1 — a development inbox for the mail it sends.
//   npm install && npm start           → http://localhost:3000
// Settings by environment: PORT, ACCOUNTS_DB (default sqlite:accounts-example.db), ACCOUNTS_TOKEN_SECRET,
// ACCESS_TOKEN_SECONDS (the browser tests use a few seconds to see a refresh). "Sign in with" an OpenID
// provider (docs/oauth.md): OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_LABEL; register
// http://localhost:PORT/auth/callback as the client's redirect URI. Passkeys work on
// http://localhost:PORT (browsers treat localhost as secure; elsewhere WebAuthn needs https).
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const express = require('express')
const QRCode = require('qrcode')
const { AccountsServer } = require('accounts-rs')
const { accountsRouter, currentUser } = require('accounts-rs/express')

const port = Number(process.env.PORT || 3000)
const siteUrl = `http://localhost:${port}`
// The development inbox: what sendMail would deliver, newest first. It shows every reset link, so
// it exists only when asked for (never in production).
const devInbox = process.env.ACCOUNTS_DEV_INBOX === '1'
if (devInbox) console.warn('WARNING: ACCOUNTS_DEV_INBOX=1 serves every mail this app sends (reset links included) at /inbox. Never in production.')
const mails = []
// An OpenID provider when configured, as provider "corp".
const oidc = process.env.OIDC_ISSUER
  ? {
      type: 'oidc',
      issuer: process.env.OIDC_ISSUER,
      clientId: process.env.OIDC_CLIENT_ID,
      clientSecret: process.env.OIDC_CLIENT_SECRET,
      redirectUri: `${siteUrl}/auth/callback`,
    }
  : null

const server = new AccountsServer({
  db: process.env.ACCOUNTS_DB || 'sqlite:accounts-example.db',
  // A random secret per start logs everybody out on restart; set one to keep sessions.
  tokenSecret: process.env.ACCOUNTS_TOKEN_SECRET || crypto.randomBytes(32).toString('hex'),
  siteUrl,
  tokenConfigs: { accessToken: { expiresIn: Number(process.env.ACCESS_TOKEN_SECONDS || 900) } },
  services: {
    password: { requireEmailVerification: true, sendVerificationEmailAfterSignup: true, returnTokensAfterResetPassword: true },
    ...(oidc ? { oauth: { providers: { corp: oidc } } } : {}),
    // Passkeys (docs/passkeys.md): the rp id is the site's host; the browser's origin must be listed.
    webauthn: { rpId: 'localhost', rpName: 'accounts-rs example', origins: [siteUrl] },
  },
  // Plain http on localhost during development: Secure (__Host-) cookies need https elsewhere, so
  // keep `secure: true` (the default) in production.
  web: { cookies: { secure: process.env.NODE_ENV === 'production' } },
  sendMail: async (mail) => {
    // Without the development inbox a real app delivers mail here (SMTP, a mail API).
    if (devInbox) mails.unshift(mail)
  },
})

const app = express()
app.disable('x-powered-by')
// The accounts-js REST API; before the body parser, since the router reads the raw body.
app.use('/accounts', accountsRouter(server))
app.use(express.json())

const me = currentUser(server)
app.get('/api/me', me, (req, res) => res.json({ user: req.user }))
app.get('/api/sessions', me, async (req, res, next) => {
  try {
    const current = await server.findSessionByAccessToken(req.accessToken)
    const sessions = (await server.listSessions(req.user.id)).filter((s) => s.valid)
    res.json({ sessions: sessions.map((s) => ({ ...s, current: s.id === current.id })) })
  } catch (e) {
    next(e)
  }
})
app.post('/api/sessions/revoke', me, async (req, res, next) => {
  try {
    // Only the caller's own sessions.
    const own = (await server.listSessions(req.user.id)).some((s) => s.id === req.body.sessionId)
    if (!own) return res.status(404).json({ message: 'Session not found' })
    await server.revokeSession(req.body.sessionId)
    res.json({})
  } catch (e) {
    next(e)
  }
})
app.get('/api/qr.svg', me, async (req, res, next) => {
  const data = String(req.query.data || '')
  if (!data.startsWith('otpauth://')) return res.status(400).json({ message: 'Not an otpauth URL' })
  try {
    res.type('image/svg+xml').send(await QRCode.toString(data, { type: 'svg', margin: 1 }))
  } catch (e) {
    next(e)
  }
})
app.get('/api/oauth/providers', (req, res) => res.json({ providers: oidc ? [{ name: 'corp', label: process.env.OIDC_LABEL || 'your company' }] : [] }))
app.get('/dev/mails', (req, res) => (devInbox ? res.json({ mails }) : res.status(404).json({ message: 'Not Found' })))

const web = path.join(__dirname, '..', 'web')
const page = fs.readFileSync(path.join(web, 'index.html'), 'utf8').replace('{{backend}}', 'Express + @accounts/rest-express')
app.use('/static', express.static(web, { index: false }))
for (const route of ['/', '/inbox', '/verify-email/:token', '/reset-password/:token', '/magiclink/:token', '/auth/callback']) {
  app.get(route, (req, res) => res.type('html').send(page))
}

const http = app.listen(port, '127.0.0.1', () => console.log(`accounts-rs Express example on ${siteUrl}`))
process.on('SIGTERM', () => http.close(() => process.exit(0)))
