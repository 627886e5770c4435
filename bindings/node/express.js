'use strict'
// accounts-rs/express (docs/web.md): Express (or plain node:http) adapters over core's web edge.
// They translate a request for server.handleHttp / server.httpUser and the answer back; every rule —
// the routes, cookie sessions, CSRF, the client's address — is core's, configured by the server's
// `web` options.

function target(req) {
  const url = req.url || '/'
  const q = url.indexOf('?')
  return q < 0 ? { path: url, query: undefined } : { path: url.slice(0, q), query: url.slice(q + 1) }
}

function peer(req) {
  return (req.socket && req.socket.remoteAddress) || undefined
}

// The request body: the raw bytes, up to one past the limit (core answers 413); a body a parser
// such as express.json() already consumed is re-serialised.
function readBody(req, limit) {
  if (req._body || req.readableEnded) {
    return Promise.resolve(req.body === undefined || req.body === null ? '' : typeof req.body === 'string' || Buffer.isBuffer(req.body) ? req.body : JSON.stringify(req.body))
  }
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    const done = () => {
      req.removeListener('data', onData)
      resolve(Buffer.concat(chunks).subarray(0, limit + 1))
    }
    const onData = (chunk) => {
      chunks.push(chunk)
      size += chunk.length
      if (size > limit) {
        req.pause()
        done()
      }
    }
    req.on('data', onData)
    req.once('end', done)
    req.once('error', reject)
  })
}

function send(res, status, headers, body) {
  const grouped = new Map()
  for (const [name, value] of headers) grouped.set(name, [...(grouped.get(name) || []), value])
  res.statusCode = status
  for (const [name, values] of grouped) res.setHeader(name, values.length === 1 ? values[0] : values)
  res.end(body)
}

/**
 * `accountsRouter(server, { path })`: serves the accounts-js REST API of `server` (@accounts/rest-express
 * 0.33's routes, in bearer or cookie mode as the server's `web.cookies` says). Mount it:
 * `app.use('/accounts', accountsRouter(server))`; or give `path` ('/accounts') to use it unmounted,
 * when requests outside `path` go to next().
 */
function accountsRouter(server, options = {}) {
  const base = options.path && options.path !== '/' ? options.path.replace(/\/$/, '') : ''
  const limit = server.getOptions().web.maxBodyBytes
  return function accountsRouter(req, res, next) {
    let { path, query } = target(req)
    if (base) {
      if (path !== base && !path.startsWith(`${base}/`)) return next()
      path = path.slice(base.length)
    }
    readBody(req, limit)
      .then((body) => server.handleHttp({ method: req.method, path, query, headers: req.rawHeaders, body, peer: peer(req) }))
      .then((r) => send(res, r.status, r.headers, r.body))
      .catch(next)
  }
}

/**
 * `currentUser(server, { optional })`: a middleware for the app's own routes (the twin of Python's
 * `CurrentUser`). Sets `req.user` and `req.accessToken` from core's `httpUser`; without a valid
 * session answers 401 (`optional: true`: calls next() with `req.user = null`); a request core
 * refuses (cross-site, malformed) gets core's status and `{message, code}`.
 */
function currentUser(server, options = {}) {
  const optional = Boolean(options.optional)
  return function accountsCurrentUser(req, res, next) {
    const json = (status, body) => send(res, status, [['content-type', 'application/json; charset=utf-8']], JSON.stringify(body))
    const url = req.originalUrl || req.url || '/'
    return server
      .httpUser({ method: req.method, path: url.split('?')[0], headers: req.rawHeaders, peer: peer(req) })
      .then(
        (found) => {
          if (!found && !optional) return json(401, { message: 'Unauthorized' })
          req.user = found ? found.user : null
          req.accessToken = found ? found.accessToken : null
          return true
        },
        (e) => {
          if (e && e.details && typeof e.details.status === 'number') return json(e.details.status, { message: e.message, code: e.code })
          return next(e)
        },
      )
      .then((passed) => {
        if (passed === true) next()
      })
  }
}

module.exports = { accountsRouter, currentUser }
