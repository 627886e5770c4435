'use strict'
// Cookie sessions for @accounts/rest-express (docs/web.md, "Cookie sessions"): an Express middleware
// placed after express.json() and before accountsExpress(server). It keeps the tokens in HttpOnly
// cookies instead of the response bodies — the access token for the site, the refresh token scoped
// to the refresh route — and hands them to rest-express as it expects them (a bearer header, the
// refresh body), with a double-submit CSRF token on every cookie-authenticated POST and a refusal of
// cross-site POSTs. Bearer tokens keep working.
const crypto = require('node:crypto')

const DEFAULTS = {
  path: '/accounts',
  secure: true,
  sameSite: 'lax',
  domain: undefined,
  accessName: 'accounts_access',
  refreshName: 'accounts_refresh',
  csrfName: 'accounts_csrf',
  csrfHeader: 'x-csrf-token',
  trustedOrigins: [],
}

function parseCookies(header) {
  const out = {}
  for (const part of (header || '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim())
  }
  return out
}

function sameValue(a, b) {
  const x = Buffer.from(String(a))
  const y = Buffer.from(String(b))
  return x.length === y.length && x.length > 0 && crypto.timingSafeEqual(x, y)
}

/**
 * `cookieSessions(server, options)`: the middleware. `server` is the accounts-rs AccountsServer
 * (for the token lifetimes); options as DEFAULTS.
 */
function cookieSessions(server, options = {}) {
  const o = { ...DEFAULTS, ...options }
  const base = o.path === '/' ? '' : o.path.replace(/\/$/, '')
  const ttl = server.getOptions().tokenConfigs
  const cookie = (extra) => ({ secure: o.secure, domain: o.domain, ...extra })
  const refuse = (res, message) => res.status(403).json({ message, code: 'Unauthorized' })

  const crossSite = (req) => {
    const origin = req.headers.origin || req.headers.referer
    if (!origin) return false
    let url
    try {
      url = new URL(origin)
    } catch (_) {
      return true
    }
    return url.host !== req.headers.host && !o.trustedOrigins.map((t) => t.replace(/\/$/, '')).includes(url.origin)
  }

  const setSession = (res, tokens) => {
    // The access cookie lives as long as the refresh token: the token inside expires on its own, and
    // a refresh needs both (accounts-js refreshTokens(accessToken, refreshToken)).
    res.cookie(o.accessName, tokens.accessToken, cookie({ httpOnly: true, sameSite: o.sameSite, path: '/', maxAge: ttl.refreshToken.expiresIn * 1000 }))
    res.cookie(o.refreshName, tokens.refreshToken, cookie({ httpOnly: true, sameSite: 'strict', path: `${base}/refreshTokens`, maxAge: ttl.refreshToken.expiresIn * 1000 }))
    res.cookie(o.csrfName, crypto.randomBytes(32).toString('base64url'), cookie({ httpOnly: false, sameSite: o.sameSite, path: '/', maxAge: ttl.refreshToken.expiresIn * 1000 }))
  }

  const clearSession = (res) => {
    res.clearCookie(o.accessName, cookie({ httpOnly: true, path: '/' }))
    res.clearCookie(o.refreshName, cookie({ httpOnly: true, path: `${base}/refreshTokens` }))
    res.clearCookie(o.csrfName, cookie({ path: '/' }))
  }

  return function accountsCookieSessions(req, res, next) {
    if (!req.path.startsWith(`${base}/`)) return next()
    const post = req.method === 'POST'
    if (post && crossSite(req)) return refuse(res, 'Cross-site request refused')
    const jar = parseCookies(req.headers.cookie)
    const body = req.body && typeof req.body === 'object' ? req.body : {}
    const bearer = req.headers.authorization || body.accessToken
    const csrfOk = () => sameValue(jar[o.csrfName], req.headers[o.csrfHeader])
    if (req.path === `${base}/refreshTokens` && !body.accessToken && !body.refreshToken && (jar[o.accessName] || jar[o.refreshName])) {
      if (!csrfOk()) return refuse(res, 'Invalid CSRF token')
      req.body = { ...body, accessToken: jar[o.accessName], refreshToken: jar[o.refreshName] }
    } else if (!bearer && jar[o.accessName]) {
      if (post && !csrfOk()) return refuse(res, 'Invalid CSRF token')
      req.headers.authorization = `Bearer ${jar[o.accessName]}`
    }
    // Tokens leave in cookies, not in bodies; logout clears them.
    const json = res.json.bind(res)
    res.json = (value) => {
      if (res.statusCode === 200 && value && typeof value === 'object') {
        const login = value.tokens ? value : value.loginResult && value.loginResult.tokens ? value.loginResult : null
        if (login && req.path !== `${base}/impersonate`) {
          setSession(res, login.tokens)
          const { tokens, ...rest } = login
          value = login === value ? rest : { ...value, loginResult: rest }
        }
      }
      if (res.statusCode === 200 && req.path === `${base}/logout`) clearSession(res)
      return json(value)
    }
    next()
  }
}

/**
 * `currentUser(server, options)`: an Express middleware for the app's own routes (the twin of
 * Python's `CurrentUser`). It resumes the session of the bearer token or, in cookie mode, of the
 * access cookie — a cookie-authenticated request that is not GET/HEAD must echo the CSRF cookie —
 * and sets `req.user` and `req.accessToken`; without a valid session it answers 401
 * (`optional: true`: calls next() with `req.user = null`). Options as cookieSessions, plus `optional`.
 */
function currentUser(server, options = {}) {
  const o = { ...DEFAULTS, optional: false, ...options }
  return async function accountsCurrentUser(req, res, next) {
    const header = req.headers.authorization || ''
    let token = /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, '') : null
    if (!token) {
      const jar = parseCookies(req.headers.cookie)
      const safe = req.method === 'GET' || req.method === 'HEAD'
      if (jar[o.accessName] && (safe || sameValue(jar[o.csrfName], req.headers[o.csrfHeader]))) token = jar[o.accessName]
    }
    let user = null
    if (token) {
      try {
        user = await server.resumeSession(token)
      } catch (e) {
        if (!e || typeof e.code !== 'string') return next(e)
      }
    }
    if (!user && !o.optional) return res.status(401).json({ message: 'Unauthorized' })
    req.user = user
    req.accessToken = user ? token : null
    next()
  }
}

module.exports = { cookieSessions, currentUser }
