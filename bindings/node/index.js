'use strict'
// accounts-rs for Node: the accounts-js server API (@accounts/server + @accounts/password) over the
// native addon. Every method returns a Promise and runs off the JS thread; this file only
// converts arguments, parses results and wraps errors: the native side rejects with a JS Error
// carrying `code`, `number` and `details`, and argument shapes and error rules are core's.

const native = require('./load.js').load()

const CODES = native.errorCodes() // [[code, number, isInputError], ...]

/** An error from accounts-rs; `code` is the accounts-js code string (e.g. "InvalidCredentials"). */
class AccountsError extends Error {
  constructor(message, code, number, details) {
    super(message)
    // `code` is the only own enumerable property, as on accounts-js's AccountsJsError: apollo-server
    // copies an error's own enumerable properties into `extensions.exception`, so GraphQL clients
    // see what they see with accounts-js. `name`, `number` and `details` stay readable.
    this.code = code
    const hidden = (value) => ({ value, writable: true, configurable: true, enumerable: false })
    Object.defineProperties(this, { name: hidden('AccountsError'), number: hidden(number) })
    if (details !== undefined) Object.defineProperty(this, 'details', hidden(details))
  }
}

const NUMBERS = Object.fromEntries(CODES.map(([code, number]) => [code, number]))
/** The error codes by name: `ErrorCodes.InvalidCredentials === 'InvalidCredentials'`. */
const ErrorCodes = Object.freeze(Object.fromEntries(CODES.map(([code]) => [code, code])))

function isAccountsError(e) {
  return e instanceof AccountsError
}

// accounts-js transports (e.g. @accounts/rest-express) hide "email already exists" and "user not
// found" in ambiguous mode only for errors that are `instanceof AccountsJsError`. When
// @accounts/server is installed beside us, our errors join its prototype chain, so those checks
// keep hiding account existence. The code, message and `instanceof Error` stay the same.
let linkedAccountsJsError = null
function useAccountsJsError(AccountsJsError) {
  if (typeof AccountsJsError !== 'function' || !(AccountsJsError.prototype instanceof Error)) {
    throw new TypeError('useAccountsJsError expects the AccountsJsError class of @accounts/server')
  }
  Object.setPrototypeOf(AccountsError.prototype, AccountsJsError.prototype)
  linkedAccountsJsError = AccountsJsError
  return true
}

function linkAccountsJsErrorIfInstalled() {
  // The app's copy is the one its transports load: look from here, then from the app's entry point and cwd.
  const bases = [__dirname, require.main && require.main.path, process.cwd()].filter(Boolean)
  for (const base of bases) {
    try {
      const resolved = require.resolve('@accounts/server', { paths: [base] })
      return useAccountsJsError(require(resolved).AccountsJsError)
    } catch (_) {
      // not installed from this base
    }
  }
  return false
}
linkAccountsJsErrorIfInstalled()

// What a callback threw, kept until its call rejects with that very value (by handle through the
// core). Bounded: an error the core swallows (a failing error listener) is dropped eventually.
const thrown = new Map()
let nextThrown = 1
const MAX_THROWN = 1024

// What a failed host callback reports to the core, which reads it by its rules
// (AccountsError::from_host_failure): an object's `code` and `message` and a handle, so the call
// rejects with that very object; a thrown primitive (undefined, a string) as text.
function callbackFailure(err) {
  const plain = (v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : undefined)
  try {
    if (err === null || (typeof err !== 'object' && typeof err !== 'function')) return { text: String(err) }
    const handle = nextThrown++
    thrown.set(handle, err)
    if (thrown.size > MAX_THROWN) thrown.delete(thrown.keys().next().value)
    return { code: plain(err.code), message: plain(err.message), thrown: handle }
  } catch (_) {
    return { text: 'a value that cannot be shown' }
  }
}

// Options travel to the core as JSON, which would drop a function silently (e.g. an accounts-js
// `emailTemplates.verifyEmail.subject(user)`); an option we cannot honour is refused by name.
function refuseFunctions(value, path) {
  if (typeof value === 'function') throw fail('InvalidConfig', `${path} is a function; only the top-level callbacks (${CALLBACKS.join(', ')}) may be`)
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) refuseFunctions(inner, `${path}.${key}`)
  }
}

function fail(code, message) {
  return new AccountsError(message || code, code, NUMBERS[code])
}

// The native side rejects with an Error carrying `code` and `number` (and `thrown` for a host
// callback's own error): hand back the callback's very value, or the same error as an AccountsError.
function convertError(e) {
  if (e instanceof Error && !(e instanceof AccountsError) && typeof e.code === 'string' && typeof e.number === 'number') {
    if (e.thrown !== undefined && thrown.has(e.thrown)) {
      const original = thrown.get(e.thrown)
      thrown.delete(e.thrown)
      return original // the very value the callback threw or rejected with
    }
    return new AccountsError(e.message, e.code, e.number, e.details)
  }
  return e
}

async function call(promise) {
  try {
    return JSON.parse(await promise)
  } catch (e) {
    throw convertError(e)
  }
}

const MAX_INPUT_BYTES = native.maxInputBytes() // the bound the core applies to C and Python input

function str(value, name) {
  if (typeof value !== 'string') throw fail('InvalidArgument', `${name} must be a string`)
  if (value.length > MAX_INPUT_BYTES / 3 && Buffer.byteLength(value) > MAX_INPUT_BYTES) {
    throw fail('InvalidArgument', `${name} is larger than ${MAX_INPUT_BYTES} bytes`)
  }
  return value
}

// A token argument: an absent one (undefined/null) is the empty token, which the core reports as
// accounts-js does for a missing token (InvalidToken, or InvalidTokens in refreshTokens).
function token(value, name) {
  return value === undefined || value === null ? '' : str(value, name)
}

function json(value, name) {
  if (value === null || typeof value !== 'object') throw fail('InvalidArgument', `${name} must be an object`)
  return JSON.stringify(value)
}

// Any JSON value (an argument whose shape the core checks).
function anyJson(value, name) {
  try {
    return JSON.stringify(value === undefined ? null : value)
  } catch (e) {
    throw fail('InvalidArgument', `${name} cannot be sent as JSON: ${e.message}`)
  }
}

function optJson(value, name) {
  return value === undefined || value === null ? undefined : json(value, name)
}

// Wraps a sync/async function so argument errors reject the promise instead of throwing.
function method(fn) {
  return function (...args) {
    try {
      return fn.apply(this, args)
    } catch (e) {
      return Promise.reject(convertError(e))
    }
  }
}

const CALLBACKS = native.callbackNames() // the core's list: createJwtPayload, ..., validateUsername, validateEmail, validatePassword

class PasswordService {
  constructor(server) {
    this._native = server._native
    this.server = server
    this.twoFactor = new TwoFactor(server)
  }
}
Object.assign(PasswordService.prototype, {
  createUser: method(function (user) { return call(this._native.passwordCreateUser(json(user, 'user'))) }),
  authenticate: method(function (params) { return call(this._native.passwordAuthenticate(json(params, 'params'))) }),
  findUserByEmail: method(function (email) { return call(this._native.passwordFindUserByEmail(str(email, 'email'))) }),
  findUserByUsername: method(function (username) { return call(this._native.passwordFindUserByUsername(str(username, 'username'))) }),
  setPassword: method(async function (userId, password) {
    await call(this._native.passwordSetPassword(str(userId, 'userId'), str(password, 'password')))
  }),
  addEmail: method(async function (userId, newEmail, verified) {
    await call(this._native.passwordAddEmail(str(userId, 'userId'), str(newEmail, 'newEmail'), verified === true))
  }),
  removeEmail: method(async function (userId, email) {
    await call(this._native.passwordRemoveEmail(str(userId, 'userId'), str(email, 'email')))
  }),
  sendVerificationEmail: method(async function (address) {
    await call(this._native.passwordSendVerificationEmail(str(address, 'address')))
  }),
  verifyEmail: method(async function (token) { await call(this._native.passwordVerifyEmail(str(token, 'token'))) }),
  sendResetPasswordEmail: method(async function (address) {
    await call(this._native.passwordSendResetPasswordEmail(str(address, 'address')))
  }),
  sendEnrollmentEmail: method(async function (address) {
    await call(this._native.passwordSendEnrollmentEmail(str(address, 'address')))
  }),
  /**
   * Resolves with a LoginResult when `returnTokensAfterResetPassword` is on (for a user with
   * two-factor on, only when `code` is valid), else null.
   */
  resetPassword: method(function (token, newPassword, infos, code) {
    const twoFactorCode = code === undefined || code === null ? undefined : str(code, 'code')
    return call(
      this._native.passwordResetPassword(str(token, 'token'), str(newPassword, 'newPassword'), optJson(infos, 'infos'), twoFactorCode),
    )
  }),
  changePassword: method(async function (userId, oldPassword, newPassword) {
    await call(this._native.passwordChangePassword(str(userId, 'userId'), str(oldPassword, 'oldPassword'), str(newPassword, 'newPassword')))
  }),
})

// accounts-js passes the speakeasy secret object around; accept it or the base32 string.
/** `password.twoFactor`: TOTP two-factor authentication (accounts-js `@accounts/two-factor` names). */
class TwoFactor {
  constructor(server) {
    this._native = server._native
  }

  /** A new secret `{base32, otpauthUrl, otpauth_url}` (synchronous, as in accounts-js). */
  getNewAuthSecret() {
    try {
      return JSON.parse(this._native.twoFactorGetNewAuthSecret())
    } catch (e) {
      throw convertError(e)
    }
  }
}
Object.assign(TwoFactor.prototype, {
  /** Turns two-factor on; resolves with the recovery codes (shown once). */
  set: method(function (userId, secret, code) {
    return call(this._native.twoFactorSet(str(userId, 'userId'), anyJson(secret, 'secret'), str(code, 'code')))
  }),
  unset: method(async function (userId, code) { await call(this._native.twoFactorUnset(str(userId, 'userId'), str(code, 'code'))) }),
  regenerateRecoveryCodes: method(function (userId, code) {
    return call(this._native.twoFactorRegenerateRecoveryCodes(str(userId, 'userId'), str(code, 'code')))
  }),
  isSet: method(function (userId) { return call(this._native.twoFactorIsSet(str(userId, 'userId'))) }),
})

/** `getServices().magicLink` (accounts-js `@accounts/magic-link` names). */
class MagicLinkService {
  constructor(server) {
    this._native = server._native
    this.server = server
  }
}
Object.assign(MagicLinkService.prototype, {
  requestMagicLinkEmail: method(async function (email) {
    await call(this._native.magicLinkRequestMagicLinkEmail(str(email, 'email')))
  }),
})

/** `getServices().oauth`: links between provider identities and users (docs/oauth.md). */
class OAuthService {
  constructor(server) {
    this._native = server._native
    this.server = server
  }
}
Object.assign(OAuthService.prototype, {
  /** Starts an OpenID Connect login: resolves with `{url, state}` (redirect the browser to `url`). */
  authorizationUrl: method(function (provider, options, infos) {
    return call(this._native.oauthAuthorizationUrl(str(provider, 'provider'), optJson(options, 'options'), optJson(infos, 'infos')))
  }),
  /** Fetches every OpenID provider's discovery and keys; rejects with ProviderError (details.provider) on the first that fails. */
  checkProviders: method(async function () {
    await call(this._native.oauthCheckProviders())
  }),
  /** Links the identity `params` prove at `provider` to the logged-in user; resolves with the link. */
  linkAccount: method(function (userId, provider, params) {
    return call(this._native.oauthLinkAccount(str(userId, 'userId'), str(provider, 'provider'), json(params, 'params')))
  }),
  /** Removes the user's identity of `provider` (never their last way to log in). */
  unlinkAccount: method(async function (userId, provider) {
    await call(this._native.oauthUnlinkAccount(str(userId, 'userId'), str(provider, 'provider')))
  }),
  listLinkedAccounts: method(function (userId) { return call(this._native.oauthListLinkedAccounts(str(userId, 'userId'))) }),
  /** The provider's tokens from the last login or link (with `storeTokens`), else null. */
  providerTokens: method(function (userId, provider) {
    return call(this._native.oauthProviderTokens(str(userId, 'userId'), str(provider, 'provider')))
  }),
})

/** `getServices().webauthn`: passkeys (docs/passkeys.md); present when `services.webauthn` is configured. */
class WebAuthnService {
  constructor(server) {
    this._native = server._native
    this.server = server
  }
}
Object.assign(WebAuthnService.prototype, {
  /** The PublicKeyCredentialCreationOptionsJSON for navigator.credentials.create (adding a passkey to `userId`). */
  registrationOptions: method(function (userId) { return call(this._native.webauthnRegistrationOptions(str(userId, 'userId'))) }),
  /** Verifies the browser's RegistrationResponseJSON (`credential.toJSON()`) and stores the passkey; resolves with it. */
  register: method(function (userId, response, options) {
    return call(this._native.webauthnRegister(str(userId, 'userId'), json(response, 'response'), optJson(options, 'options')))
  }),
  /** The PublicKeyCredentialRequestOptionsJSON for navigator.credentials.get; no user: usernameless sign-in. */
  authenticationOptions: method(function (options, infos) {
    return call(this._native.webauthnAuthenticationOptions(optJson(options, 'options'), optJson(infos, 'infos')))
  }),
  listPasskeys: method(function (userId) { return call(this._native.webauthnListPasskeys(str(userId, 'userId'))) }),
  renamePasskey: method(function (userId, passkeyId, name) {
    return call(this._native.webauthnRenamePasskey(str(userId, 'userId'), str(passkeyId, 'passkeyId'), str(name, 'name')))
  }),
  /** Removes one of the user's passkeys; rejects with LastLoginMethod when it is their only way in. */
  removePasskey: method(async function (userId, passkeyId) {
    await call(this._native.webauthnRemovePasskey(str(userId, 'userId'), str(passkeyId, 'passkeyId')))
  }),
})

// accounts-js templates may be functions `(user, url) => string`: the strings go to the core
// (which renders them), the functions stay here and are called by the prepareMail step.
const TEMPLATE_FIELDS = ['subject', 'text', 'html']
function splitTemplates(templates) {
  if (templates === null || typeof templates !== 'object') return { strings: templates, functions: {} }
  const strings = {}
  const functions = {}
  for (const [kind, template] of Object.entries(templates)) {
    if (template === null || typeof template !== 'object') {
      strings[kind] = template
      continue
    }
    strings[kind] = {}
    for (const [field, value] of Object.entries(template)) {
      if (typeof value === 'function' && TEMPLATE_FIELDS.includes(field)) {
        functions[kind] = functions[kind] || {}
        functions[kind][field] = value
      } else {
        strings[kind][field] = value
      }
    }
  }
  return { strings, functions }
}

// accounts-js's prepareMail step over the core's rendered mail: `template` has accounts-js's
// shape (functions of `(user, url)`), from the app's functions or the core's rendered text.
function mailPreparer(userPrepare, functions, siteUrl) {
  return (to, token, user, pathFragment, rendered, from, kind) => {
    const own = functions[kind] || {}
    const template = { from: rendered.from }
    for (const field of TEMPLATE_FIELDS) template[field] = own[field] || (() => rendered[field])
    if (userPrepare) return userPrepare(to, token, user, pathFragment, template, from)
    const url = pathFragment ? `${siteUrl.replace(/\/+$/, '')}/${pathFragment}/${token}` : ''
    return { type: kind, from: template.from || from, to, subject: template.subject(user), text: template.text(user, url), html: template.html(user, url) }
  }
}

class AccountsServer {
  /**
   * @param {object} options `{db, tokenSecret, ...}` as in docs/configuration.md, plus the callbacks
   *   createJwtPayload, userObjectSanitizer, impersonationAuthorize, resumeSessionValidator,
   *   validateNewUser, validateUsername, validateEmail, validatePassword, prepareMail, sendMail
   *   (sync or async functions); `emailTemplates` fields may be functions as in accounts-js.
   */
  constructor(options) {
    if (options === null || typeof options !== 'object') throw fail('InvalidConfig', 'options must be an object')
    const config = {}
    this._callbacks = {}
    let templateFunctions = {}
    for (const [key, value] of Object.entries(options)) {
      if (CALLBACKS.includes(key)) {
        if (value === undefined || value === null) continue
        if (typeof value !== 'function') throw fail('InvalidConfig', `${key} must be a function`)
        this._callbacks[key] = value
      } else if (key === 'emailTemplates') {
        const { strings, functions } = splitTemplates(value)
        refuseFunctions(strings, key)
        config[key] = strings
        templateFunctions = functions
      } else {
        refuseFunctions(value, key)
        config[key] = value
      }
    }
    if (this._callbacks.prepareMail || Object.keys(templateFunctions).length > 0) {
      const siteUrl = typeof options.siteUrl === 'string' ? options.siteUrl : 'http://localhost:3000'
      this._callbacks.prepareMail = mailPreparer(this._callbacks.prepareMail, templateFunctions, siteUrl)
    }
    this._listeners = new Map()
    this._nextListener = 1
    try {
      this._native = new native.NativeServer(JSON.stringify(config), Object.keys(this._callbacks), (name, argsJson, replyId) =>
        this._dispatch(name, argsJson, replyId),
      )
    } catch (e) {
      throw convertError(e)
    }
    this.options = Object.freeze(JSON.parse(this._native.optionsJson()))
    this._services = { password: new PasswordService(this), magicLink: new MagicLinkService(this) }
    // As in accounts-js, only configured services are listed: `oauth` once a provider is configured.
    if (this._native.serviceNames().includes('oauth')) this._services.oauth = new OAuthService(this)
    // `webauthn` once `services.webauthn` is configured (docs/passkeys.md).
    if (this._native.serviceNames().includes('webauthn')) this._services.webauthn = new WebAuthnService(this)
  }

  // Runs a host callback on the JS thread and hands its result back to the waiting pool thread.
  _dispatch(name, argsJson, replyId) {
    if (Array.isArray(name)) [name, argsJson, replyId] = name // napi passes the tuple as one array
    const args = JSON.parse(argsJson)
    let fn
    if (name === 'listener') {
      const [key, , payload] = args
      const entry = this._listeners.get(key)
      fn = entry ? () => entry.listener(payload) : () => undefined
    } else {
      const cb = this._callbacks[name]
      fn = () => cb(...args)
    }
    // Whatever the callback does — throw, reject, return a BigInt or a cycle JSON cannot carry —
    // the waiting call gets a coded answer and nothing escapes as an unhandled rejection.
    const answer = (result, error) => {
      try {
        this._native.reply(replyId, result, error)
      } catch (_) {
        // The call already gave up (hostCallbackTimeout) or the server is gone: nobody waits.
      }
    }
    Promise.resolve()
      .then(fn)
      .then(
        (result) => {
          let text
          try {
            text = JSON.stringify(result === undefined ? null : result)
          } catch (e) {
            return answer(null, JSON.stringify({ message: `callback returned a value JSON cannot carry: ${e.message}` }))
          }
          answer(text === undefined ? 'null' : text, null)
        },
        (err) => answer(null, JSON.stringify(callbackFailure(err))),
      )
  }

  getServices() {
    return this._services
  }

  /** The JWKS document of the token signing key (`{keys: []}` for an HMAC secret). */
  getJwks() {
    return JSON.parse(this._native.jwksJson())
  }

  /** Replaces the JWT key ring without a restart (`{current, keys: [...]}`, as the `tokenKeys` option). */
  setKeys(tokenKeys) {
    try {
      this._native.setKeys(json(tokenKeys, 'tokenKeys'))
    } catch (e) {
      throw convertError(e)
    }
  }

  /** The effective options (accounts-js `getOptions()`; secrets shown as "[redacted]"). */
  getOptions() {
    return this.options
  }

  /** Adds an event listener; returns a function that removes it. */
  on(event, listener) {
    str(event, 'event')
    if (typeof listener !== 'function') throw fail('InvalidArgument', 'listener must be a function')
    const key = this._nextListener++
    const id = this._native.on(event, key)
    this._listeners.set(key, { listener, id })
    return () => {
      this._listeners.delete(key)
      return this._native.off(id)
    }
  }

  /**
   * resumeSession on the calling thread: a few µs, no thread-pool round trip. Throws (does not
   * deadlock) when a callback or listener would have to run during it.
   */
  resumeSessionSync(accessToken) {
    str(accessToken, 'accessToken')
    const blocking = this._native.resumeCallbacks()
    if (blocking.length > 0) {
      throw fail('CallbackError', `resumeSessionSync cannot run JS callbacks (${blocking.join(', ')}); use resumeSession`)
    }
    try {
      return JSON.parse(this._native.resumeSessionSync(accessToken))
    } catch (e) {
      throw convertError(e)
    }
  }
}

// An HTTP request ({method, path, headers, body?, peer?, query?}) in core's JSON form: headers as
// [name, value] pairs, a Node headers object, or rawHeaders' flat list; a body that is not UTF-8
// travels as base64.
function httpRequest(request) {
  if (request === null || typeof request !== 'object') throw fail('InvalidArgument', 'request must be an object')
  const { method, path, headers = [], body, peer, query } = request
  let pairs
  if (Array.isArray(headers) && headers.every((h) => typeof h === 'string')) {
    pairs = []
    for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]])
  } else if (Array.isArray(headers)) {
    pairs = headers.map((h) => [String(h[0]), String(h[1])])
  } else if (headers && typeof headers === 'object') {
    pairs = Object.entries(headers).flatMap(([n, v]) => (v === undefined ? [] : Array.isArray(v) ? v.map((x) => [n, String(x)]) : [[n, String(v)]]))
  } else {
    throw fail('InvalidArgument', 'headers must be [name, value] pairs or an object')
  }
  const out = { method: str(method, 'method'), path: str(path, 'path'), headers: pairs }
  if (query !== undefined && query !== null && query !== '') out.query = str(query, 'query')
  if (peer !== undefined && peer !== null && peer !== '') out.peer = str(peer, 'peer')
  if (typeof body === 'string') out.body = body
  else if (body instanceof Uint8Array) {
    const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
    const text = bytes.toString('utf8')
    if (Buffer.byteLength(text) === bytes.length && !text.includes('\ufffd')) out.body = text
    else out.bodyBase64 = bytes.toString('base64')
  } else if (body !== undefined && body !== null) throw fail('InvalidArgument', 'body must be a string or a Buffer')
  return JSON.stringify(out)
}

Object.assign(AccountsServer.prototype, {
  handleHttp: method(function (request) {
    return call(this._native.handleHttp(httpRequest(request)))
  }),
  httpUser: method(function (request) {
    return call(this._native.httpUser(httpRequest(request)))
  }),
  loginWithService: method(function (service, params, infos) {
    return call(this._native.loginWithService(str(service, 'service'), json(params, 'params'), optJson(infos, 'infos')))
  }),
  authenticateWithService: method(function (service, params, infos) {
    return call(this._native.authenticateWithService(str(service, 'service'), json(params, 'params'), optJson(infos, 'infos')))
  }),
  loginWithUser: method(function (user, infos) {
    return call(this._native.loginWithUser(anyJson(user, 'user'), optJson(infos, 'infos')))
  }),
  resumeSession: method(function (accessToken) { return call(this._native.resumeSession(token(accessToken, 'accessToken'))) }),
  refreshTokens: method(function (accessToken, refreshToken, infos) {
    return call(this._native.refreshTokens(token(accessToken, 'accessToken'), token(refreshToken, 'refreshToken'), optJson(infos, 'infos')))
  }),
  // Not an async function: an inline call (docs/architecture.md, "Inline calls") may throw
  // synchronously, and method() turns that into an AccountsError rejection.
  logout: method(function (accessToken) { return call(this._native.logout(token(accessToken, 'accessToken'))).then(() => undefined) }),
  impersonate: method(function (accessToken, impersonated, infos) {
    return call(this._native.impersonate(token(accessToken, 'accessToken'), json(impersonated, 'impersonated'), optJson(infos, 'infos')))
  }),
  findUserById: method(function (userId) { return call(this._native.findUserById(str(userId, 'userId'))) }),
  findSessionByAccessToken: method(function (accessToken) {
    return call(this._native.findSessionByAccessToken(token(accessToken, 'accessToken')))
  }),
  deactivateUser: method(async function (userId) { await call(this._native.deactivateUser(str(userId, 'userId'))) }),
  activateUser: method(async function (userId) { await call(this._native.activateUser(str(userId, 'userId'))) }),
  listSessions: method(function (userId) { return call(this._native.listSessions(str(userId, 'userId'))) }),
  revokeSession: method(function (sessionId) { return call(this._native.revokeSession(str(sessionId, 'sessionId'))) }),
  /**
   * Imports users stored by accounts-js (mongo documents or typeorm rows); resolves with
   * `{imported, skipped, failed: [{index, code, message}]}`. At most 1 MiB of JSON per call.
   */
  importUsers: method(function (records) {
    if (!Array.isArray(records)) throw fail('InvalidArgument', 'records must be an array of user records')
    return call(this._native.importUsers(JSON.stringify(records)))
  }),
  /** Deletes expired link tokens and failed-attempt counters; resolves with `{tokens, attempts}`. */
  purgeExpired: method(function () { return call(this._native.purgeExpired()) }),
  resealAll: method(function () { return call(this._native.resealAll()) }),
  revokeAllSessions: method(function (userId, options) {
    return call(this._native.revokeAllSessions(str(userId, 'userId'), optJson(options, 'options')))
  }),
})

/**
 * Verifies an access token without a server or database (for other services): options
 * `{jwks}` or `{publicKey, algorithm}` or `{secret, algorithm}`, plus `issuer`, `audience`.
 * Returns the claims; throws an AccountsError (`TokenVerificationFailed`, ...).
 */
function verifyAccessToken(token, options) {
  try {
    return JSON.parse(native.verifyAccessToken(token === undefined || token === null ? '' : str(token, 'token'), json(options, 'options')))
  } catch (e) {
    throw convertError(e)
  }
}

module.exports = {
  AccountsServer,
  verifyAccessToken,
  PasswordService,
  TwoFactor,
  MagicLinkService,
  WebAuthnService,
  AccountsError,
  isAccountsError,
  useAccountsJsError,
  accountsJsErrorLinked: () => linkedAccountsJsError !== null,
  ErrorCodes,
  version: native.version(),
}
