// The page of the example apps (examples/express, examples/fastapi, examples/c): plain browser JavaScript
// against the accounts-js REST API in cookie mode (docs/web.md). The tokens live in HttpOnly
// cookies the page cannot read; it echoes the readable CSRF cookie on every POST. Passkeys
// (docs/passkeys.md): add one while signed in, sign in with one without typing a username.
'use strict'

const $ = (id) => document.getElementById(id)
const VIEWS = ['view-signed-out', 'view-signed-in', 'view-reset', 'view-inbox']

function show(view) {
  for (const v of VIEWS) $(v).hidden = v !== view
}

function say(text, kind = 'info') {
  $('message').textContent = text
  $('message').className = kind
}

function cookie(name) {
  const found = document.cookie.split('; ').find((c) => c.startsWith(`${name}=`))
  return found ? decodeURIComponent(found.slice(name.length + 1)) : ''
}

async function request(method, path, body) {
  // Secure cookies carry the __Host- prefix (production); plain-http development ones do not.
  const headers = { 'X-CSRF-Token': cookie('__Host-accounts_csrf') || cookie('accounts_csrf') }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) })
  const data = await res.json().catch(() => null)
  return { ok: res.ok, status: res.status, data }
}

const post = (path, body = {}) => request('POST', path, body)

/** An app route that needs the user: on 401 the access token has expired, so refresh once from the cookies. */
async function authed(method, path, body) {
  let res = await request(method, path, body)
  if (res.status === 401 && (await post('/accounts/refreshTokens')).ok) res = await request(method, path, body)
  return res
}

function failure(res) {
  return (res.data && res.data.message) || `HTTP ${res.status}`
}

function form(id, handler) {
  $(id).addEventListener('submit', async (event) => {
    event.preventDefault()
    const values = Object.fromEntries(new FormData(event.target))
    try {
      await handler(values, event.target)
    } catch (e) {
      say(String(e), 'error')
    }
  })
}

/** "Sign in with" buttons for the OpenID providers the app has (docs/oauth.md). */
async function providers() {
  const box = $('providers')
  if (box.dataset.loaded) return
  box.dataset.loaded = 'yes'
  const res = await request('GET', '/api/oauth/providers')
  for (const p of (res.ok && res.data.providers) || []) {
    const button = document.createElement('button')
    button.type = 'button'
    button.id = `sign-in-${p.name}`
    button.textContent = `Sign in with ${p.label}`
    button.addEventListener('click', async () => {
      // The server binds the flow to this browser (an HttpOnly state cookie the callback must match).
      const start = await post(`/accounts/oauth/${encodeURIComponent(p.name)}/authorizationUrl`)
      if (!start.ok) return say(failure(start), 'error')
      // The state comes back in the redirect: it must be the one this tab started with.
      sessionStorage.setItem('oauth', JSON.stringify({ provider: p.name, state: start.data.state }))
      location.assign(start.data.url)
    })
    box.append(button)
    box.hidden = false
  }
}

/** The provider sent the browser back to /auth/callback with code, state and iss (or an error). */
async function oauthCallback() {
  const params = new URLSearchParams(location.search)
  const started = JSON.parse(sessionStorage.getItem('oauth') || 'null')
  sessionStorage.removeItem('oauth')
  history.replaceState(null, '', '/')
  if (!started || started.state !== params.get('state')) return say('This sign-in was not started from this page.', 'error')
  const body = { provider: started.provider, state: params.get('state') }
  if (params.get('error')) body.error = params.get('error')
  else body.code = params.get('code')
  // RFC 9207: the provider names itself in the response; the server checks it (docs/oauth.md).
  if (params.get('iss')) body.iss = params.get('iss')
  const res = await post('/accounts/oauth/authenticate', body)
  if (!res.ok) say(failure(res), 'error')
}

async function home() {
  const me = await authed('GET', '/api/me')
  if (!me.ok) {
    show('view-signed-out')
    return
  }
  const user = me.data.user
  $('who').textContent = (user.emails && user.emails[0] && user.emails[0].address) || user.username || user.id
  $('protected').textContent = `GET /api/me answered for ${user.id}`
  show('view-signed-in')
  // One after the other: an expired access token is refreshed once (by the first), not twice.
  await sessions()
  await passkeys()
}

/** A readable device for a user agent ("Chrome on Linux"); an agent it does not know, as given. */
function device(userAgent) {
  const ua = userAgent || ''
  const browsers = [[/Edg\//, 'Edge'], [/OPR\/|Opera/, 'Opera'], [/Firefox\//, 'Firefox'], [/Chrome\/|CriOS\//, 'Chrome'], [/Version\/[\d.]+.*Safari\//, 'Safari']]
  const systems = [[/Windows NT/, 'Windows'], [/iPhone|iPad|iPod/, 'iOS'], [/Mac OS X|Macintosh/, 'macOS'], [/Android/, 'Android'], [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux']]
  const browser = browsers.find(([re]) => re.test(ua))
  const system = systems.find(([re]) => re.test(ua))
  if (!browser && !system) return ua
  return [browser ? browser[1] : 'A browser', system ? `on ${system[1]}` : ''].join(' ').trim()
}

async function sessions() {
  const res = await authed('GET', '/api/sessions')
  const body = $('sessions')
  body.replaceChildren()
  if (!res.ok) return
  for (const s of res.data.sessions) {
    const row = document.createElement('tr')
    row.dataset.session = s.id
    for (const text of [new Date(s.createdAt).toLocaleString(), device(s.userAgent), s.ip || '']) {
      const cell = document.createElement('td')
      cell.textContent = text
      row.append(cell)
    }
    row.children[1].title = s.userAgent || ''
    const cell = document.createElement('td')
    const button = document.createElement('button')
    button.textContent = s.current ? 'Revoke (this browser)' : 'Revoke'
    button.className = 'revoke'
    button.addEventListener('click', async () => {
      const done = await authed('POST', '/api/sessions/revoke', { sessionId: s.id })
      if (!done.ok) return say(failure(done), 'error')
      say('Session revoked.')
      await home()
    })
    cell.append(button)
    row.append(cell)
    body.append(row)
  }
}

// ---- Passkeys (docs/passkeys.md) ----
// The server speaks WebAuthn's JSON forms (base64url strings); the browser API takes and gives
// ArrayBuffers. These helpers convert both ways.
const fromB64u = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer
const toB64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
const withIds = (list) => (list || []).map((c) => ({ ...c, id: fromB64u(c.id) }))

function creationOptions(o) {
  return { ...o, challenge: fromB64u(o.challenge), user: { ...o.user, id: fromB64u(o.user.id) }, excludeCredentials: withIds(o.excludeCredentials) }
}

function requestOptions(o) {
  return { ...o, challenge: fromB64u(o.challenge), allowCredentials: withIds(o.allowCredentials) }
}

/** What `credential.toJSON()` gives (RegistrationResponseJSON / AuthenticationResponseJSON). */
function credentialJSON(c) {
  const r = c.response
  const response = { clientDataJSON: toB64u(r.clientDataJSON) }
  if (r.attestationObject) {
    Object.assign(response, {
      attestationObject: toB64u(r.attestationObject),
      authenticatorData: toB64u(r.getAuthenticatorData()),
      transports: r.getTransports(),
      publicKey: toB64u(r.getPublicKey()),
      publicKeyAlgorithm: r.getPublicKeyAlgorithm(),
    })
  } else {
    Object.assign(response, { authenticatorData: toB64u(r.authenticatorData), signature: toB64u(r.signature) })
    if (r.userHandle) response.userHandle = toB64u(r.userHandle)
  }
  return { id: c.id, rawId: toB64u(c.rawId), type: c.type, response, authenticatorAttachment: c.authenticatorAttachment, clientExtensionResults: c.getClientExtensionResults() }
}

/** The signed-in user's passkeys, each with a remove button; the panel hides when the server has none configured. */
async function passkeys() {
  const res = await authed('GET', '/accounts/webauthn/passkeys')
  const panel = $('passkeys').closest('.panel')
  panel.hidden = !res.ok || !window.PublicKeyCredential
  const body = $('passkeys')
  body.replaceChildren()
  if (!res.ok) return
  for (const p of Array.isArray(res.data) ? res.data : res.data.passkeys) {
    const row = document.createElement('tr')
    row.dataset.passkey = p.id
    for (const text of [p.name || 'Passkey', new Date(p.createdAt).toLocaleString(), p.lastUsedAt ? new Date(p.lastUsedAt).toLocaleString() : 'never']) {
      const cell = document.createElement('td')
      cell.textContent = text
      row.append(cell)
    }
    const cell = document.createElement('td')
    const button = document.createElement('button')
    button.textContent = 'Remove'
    button.className = 'revoke'
    button.addEventListener('click', async () => {
      const done = await authed('POST', '/accounts/webauthn/passkeys/remove', { id: p.id })
      if (!done.ok) return say(failure(done), 'error')
      say('Passkey removed.')
      await passkeys()
    })
    cell.append(button)
    row.append(cell)
    body.append(row)
  }
}

$('passkey-add').addEventListener('click', async () => {
  try {
    const options = await authed('POST', '/accounts/webauthn/registrationOptions')
    if (!options.ok) return say(failure(options), 'error')
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options.data) })
    const res = await authed('POST', '/accounts/webauthn/register', { response: credentialJSON(credential), name: device(navigator.userAgent) })
    if (!res.ok) return say(failure(res), 'error')
    say('Passkey added.')
    await passkeys()
  } catch (e) {
    say(String(e), 'error') // e.g. NotAllowedError: the user cancelled
  }
})

// Usernameless: the options name no user, the authenticator offers the passkeys it holds for this site.
$('passkey-sign-in').addEventListener('click', async () => {
  try {
    const options = await post('/accounts/webauthn/authenticationOptions')
    if (!options.ok) return say(failure(options), 'error')
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options.data) })
    const res = await post('/accounts/webauthn/authenticate', { response: credentialJSON(credential) })
    if (!res.ok) return say(failure(res), 'error')
    say('Signed in with a passkey.')
    await home()
  } catch (e) {
    say(String(e), 'error')
  }
})

form('register', async ({ email, password }) => {
  const res = await post('/accounts/password/register', { user: { email, password } })
  if (!res.ok) return say(failure(res), 'error')
  say('Account created. Open the development inbox and follow the verification link.')
})

form('login', async ({ user, password, code }, target) => {
  const params = { user: { email: user }, password }
  if (code) params.code = code
  const res = await post('/accounts/password/authenticate', params)
  if (res.ok) {
    target.reset()
    $('login-code').hidden = true
    say('Logged in.')
    return home()
  }
  if (res.data && res.data.code === 'TwoFactorCodeRequired') {
    $('login-code').hidden = false
    return say('Enter the code from your authenticator app.')
  }
  say(failure(res), 'error')
})

form('forgot', async ({ email }) => {
  const res = await post('/accounts/password/sendResetPasswordEmail', { email })
  if (!res.ok) return say(failure(res), 'error')
  say('If that address has an account, a reset link is in the inbox.')
})

form('reset', async ({ newPassword }) => {
  const token = location.pathname.split('/')[2]
  const res = await post('/accounts/password/resetPassword', { token, newPassword })
  if (!res.ok) return say(failure(res), 'error')
  history.replaceState(null, '', '/')
  say('Password changed; you are logged in.')
  await home()
})

$('two-factor-start').addEventListener('click', async () => {
  const res = await post('/accounts/password/twoFactorSecret')
  if (!res.ok) return say(failure(res), 'error')
  const secret = res.data.secret
  $('two-factor-confirm').dataset.secret = JSON.stringify(secret)
  $('secret').textContent = secret.base32
  $('qr').src = `/api/qr.svg?data=${encodeURIComponent(secret.otpauth_url)}`
  $('two-factor-confirm').hidden = false
  $('two-factor-start').hidden = true
})

form('two-factor-confirm', async ({ code }, target) => {
  const secret = JSON.parse(target.dataset.secret)
  const res = await authed('POST', '/accounts/password/twoFactorSet', { secret, code })
  if (!res.ok) return say(failure(res), 'error')
  target.hidden = true
  target.reset()
  say('Two-factor authentication is on.')
})

$('logout').addEventListener('click', async () => {
  await post('/accounts/logout')
  // Nothing of the last user stays on the page for the next one.
  $('passkeys').replaceChildren()
  say('Logged out.')
  show('view-signed-out')
})

async function inbox() {
  const res = await request('GET', '/dev/mails')
  const list = $('mails')
  list.replaceChildren()
  for (const mail of res.data.mails) {
    const item = document.createElement('li')
    const head = document.createElement('strong')
    head.textContent = `${mail.subject} — to ${mail.to}`
    const text = document.createElement('p')
    // Links become anchors; the rest stays text.
    for (const part of mail.text.split(/(https?:\/\/\S+)/)) {
      if (/^https?:\/\//.test(part)) {
        const a = document.createElement('a')
        a.href = part
        a.textContent = part
        text.append(a)
      } else {
        text.append(part)
      }
    }
    item.append(head, text)
    list.append(item)
  }
  show('view-inbox')
}

async function route() {
  const [, first, token] = location.pathname.split('/')
  await providers()
  $('passkey-box').hidden = !window.PublicKeyCredential
  $('backend').textContent = document.querySelector('meta[name=backend]')?.content || ''
  if (first === 'inbox') return inbox()
  if (first === 'reset-password' && token) return show('view-reset')
  if (first === 'verify-email' && token) {
    const res = await post('/accounts/password/verifyEmail', { token })
    history.replaceState(null, '', '/')
    say(res.ok ? 'Your email address is verified. You can log in.' : failure(res), res.ok ? 'info' : 'error')
    return home()
  }
  if (first === 'auth' && token === 'callback') {
    await oauthCallback()
    return home()
  }
  if (first === 'magiclink' && token) {
    const res = await post('/accounts/magicLink/authenticate', { token })
    history.replaceState(null, '', '/')
    if (!res.ok) say(failure(res), 'error')
    return home()
  }
  return home()
}

route().catch((e) => say(String(e), 'error'))
