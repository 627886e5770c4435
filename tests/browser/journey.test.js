'use strict'
// The three example apps (examples/express, examples/fastapi, examples/c/rest_server.c) driven in headless Chromium (Debian's
// `chromium`, through puppeteer-core): register, the verification mail from the development inbox,
// log in, a second session listed and revoked, a refresh after the access token expired, log out,
// reset the password from its mail, turn on two-factor from the QR code's secret, log in with a
// code; add a passkey (Chromium's virtual authenticator), sign in with it without a username or a
// code, remove it and see it refused; and "Sign in with" a real OpenID provider on loopback (tests/oidc). Run by `make test-browser`; SCREENSHOTS=<dir> keeps screenshots of the key pages
// (`make screenshots` writes docs/screenshots/).
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const puppeteer = require('puppeteer-core')
const { authenticator } = require('otplib')

const ROOT = path.resolve(__dirname, '..', '..')
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const PYTHON = process.env.EXAMPLE_PYTHON || 'python3'
// examples/c/rest_server.c as `make rest-server` builds it.
const C_SERVER = process.env.EXAMPLE_C || path.join(ROOT, 'build/c/rest_server')
const ACCESS_SECONDS = 3
const SCREENSHOTS = process.env.SCREENSHOTS

const APPS = {
  express: { command: process.execPath, args: [path.join(ROOT, 'examples/express/server.js')] },
  fastapi: { command: PYTHON, args: [path.join(ROOT, 'examples/fastapi/app.py')] },
  c: { command: C_SERVER, args: [] },
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

async function startApp(name, extraEnv = {}, chosenPort = null) {
  const port = chosenPort || (await freePort())
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `accounts-${name}-`))
  const env = { ...process.env, PORT: String(port), ACCOUNTS_DB: `sqlite:${path.join(dir, 'app.db')}`, ACCESS_TOKEN_SECONDS: String(ACCESS_SECONDS), ACCOUNTS_DEV_INBOX: '1', ...extraEnv }
  const child = spawn(APPS[name].command, APPS[name].args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.on('data', (d) => (log += d))
  child.stderr.on('data', (d) => (log += d))
  const base = `http://localhost:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${log}`)
    try {
      if ((await fetch(`${base}/dev/mails`)).ok) break
    } catch (_) {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not start: ${log}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', resolve)
      child.kill('SIGTERM')
    }).then(() => fs.rmSync(dir, { recursive: true, force: true }))
  return { base, stop, log: () => log }
}

/** The cookie jar of a non-browser client (the "other device"). */
function cookiesOf(res) {
  return res.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ')
}

for (const name of Object.keys(APPS)) {
  test(`${name} example: the whole journey in Chromium`, { timeout: 120_000 }, async (t) => {
    const app = await startApp(name)
    t.after(app.stop)
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    })
    t.after(() => browser.close())
    const page = await browser.newPage()
    await page.setViewport({ width: 900, height: 860 })
    const errors = []
    page.on('pageerror', (e) => errors.push(String(e)))

    const shot = async (label) => {
      if (!SCREENSHOTS) return
      fs.mkdirSync(SCREENSHOTS, { recursive: true })
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${label}.png`) })
    }
    const visible = (selector) => page.waitForSelector(selector, { visible: true, timeout: 10_000 })
    const message = () => page.$eval('#message', (e) => ({ text: e.textContent, error: e.className === 'error' }))
    const waitMessage = (pattern) =>
      page.waitForFunction((source) => new RegExp(source).test(document.getElementById('message').textContent), { timeout: 10_000 }, pattern.source)
    const fill = async (form, values) => {
      for (const [field, value] of Object.entries(values)) {
        const selector = `${form} [name=${field}]`
        await page.$eval(selector, (e) => (e.value = ''))
        await page.type(selector, value)
      }
      await page.click(`${form} button[type=submit]`)
    }
    // The cookies a request to the refresh route carries (all of them: __Host- cookies have Path=/).
    const cookie = async (cookieName) => (await page.cookies(`${app.base}/accounts/refreshTokens`)).find((c) => c.name === cookieName)
    const sessionRows = () => page.$$eval('#sessions tr', (rows) => rows.length)
    const inboxLink = async (kind) => {
      await page.goto(`${app.base}/inbox`)
      await visible('#view-inbox')
      const href = await page.$$eval('#mails a', (as, k) => as.map((a) => a.href).find((h) => h.includes(`/${k}/`)), kind)
      assert.ok(href, `a ${kind} link in the inbox`)
      return href
    }

    const email = `ada.${name}@example.com`
    let password = 'first password 1'

    // Register; the account cannot log in before its address is verified.
    await page.goto(app.base)
    await visible('#view-signed-out')
    await shot('signed-out')
    await fill('#register', { email, password })
    await waitMessage(/Account created/)
    await fill('#login', { user: email, password })
    await page.waitForFunction(() => document.getElementById('message').className === 'error')
    assert.equal(await page.$eval('#view-signed-in', (e) => e.hidden), true)

    // The verification mail, opened from the development inbox.
    const verify = await inboxLink('verify-email')
    await shot('inbox')
    await page.goto(verify)
    await waitMessage(/verified/)

    // Log in: the tokens are in HttpOnly cookies the page cannot read.
    await fill('#login', { user: email, password })
    await visible('#view-signed-in')
    assert.equal(await page.$eval('#who', (e) => e.textContent), email)
    assert.equal((await cookie('accounts_access')).httpOnly, true)
    assert.equal((await cookie('accounts_refresh')).httpOnly, true)
    assert.equal(await page.evaluate(() => document.cookie.includes('accounts_access')), false)
    await page.waitForFunction(() => document.querySelectorAll('#sessions tr').length === 1)

    // A second device logs in; the browser lists both sessions and revokes the other one.
    const other = await fetch(`${app.base}/accounts/password/authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'journey-other-device' },
      body: JSON.stringify({ user: { email }, password }),
    })
    assert.equal(other.status, 200)
    const otherJar = cookiesOf(other)
    const otherMe = () => fetch(`${app.base}/api/me`, { headers: { cookie: otherJar } }).then((r) => r.status)
    assert.equal(await otherMe(), 200)
    await page.reload()
    await page.waitForFunction(() => document.querySelectorAll('#sessions tr').length === 2)
    await shot('signed-in')
    const revoke = await page.$$eval('#sessions tr', (rows) => rows.findIndex((r) => r.textContent.includes('journey-other-device')))
    assert.ok(revoke >= 0, 'the other device is listed with its user agent')
    const devices = await page.$$eval('#sessions tr', (rows) => rows.map((r) => r.children[1].textContent))
    assert.ok(devices.includes('Chrome on Linux'), `this browser is listed as a readable device: ${devices}`)
    await page.click(`#sessions tr:nth-child(${revoke + 1}) button.revoke`)
    await waitMessage(/Session revoked/)
    await page.waitForFunction(() => document.querySelectorAll('#sessions tr').length === 1)
    assert.equal(await otherMe(), 401, 'the revoked session no longer works')
    assert.equal(await sessionRows(), 1)

    // The access token expires; the page refreshes from the cookies and stays signed in.
    const accessBefore = (await cookie('accounts_access')).value
    const refreshBefore = (await cookie('accounts_refresh')).value
    await new Promise((r) => setTimeout(r, (ACCESS_SECONDS + 1.5) * 1000))
    await page.reload()
    await visible('#view-signed-in')
    await page.waitForFunction(() => document.querySelectorAll('#sessions tr').length === 1)
    assert.notEqual((await cookie('accounts_access')).value, accessBefore, 'a new access token')
    assert.notEqual((await cookie('accounts_refresh')).value, refreshBefore, 'the refresh token rotated')

    // Log out: the cookies are gone and the app routes refuse.
    await page.click('#logout')
    await visible('#view-signed-out')
    assert.equal(await cookie('accounts_access'), undefined)
    assert.equal(await page.evaluate(() => fetch('/api/me').then((r) => r.status)), 401)

    // Forgot the password: the reset mail's link sets a new one and logs in.
    await fill('#forgot', { email })
    await waitMessage(/reset link/)
    await page.goto(await inboxLink('reset-password'))
    await visible('#view-reset')
    password = 'second password 2'
    await fill('#reset', { newPassword: password })
    await visible('#view-signed-in')
    assert.equal(await page.$eval('#who', (e) => e.textContent), email)

    // Two-factor: the QR code renders; the code is computed from the secret shown beside it.
    await page.click('#two-factor-start')
    await visible('#two-factor-confirm')
    await page.waitForFunction(() => document.getElementById('qr').complete && document.getElementById('qr').naturalWidth > 0)
    const secret = await page.$eval('#secret', (e) => e.textContent)
    await shot('two-factor')
    await fill('#two-factor-confirm', { code: authenticator.generate(secret) })
    await waitMessage(/Two-factor authentication is on/)

    // Log out, log in again: the password alone asks for a code. A code is used once, so the next
    // time step's (within the accepted window) logs in.
    await page.click('#logout')
    await visible('#view-signed-out')
    await fill('#login', { user: email, password })
    await visible('#login-code')
    await waitMessage(/code from your authenticator/)
    await shot('two-factor-login')
    const next = authenticator.clone({ epoch: Date.now() + 30_000 }).generate(secret)
    await fill('#login', { code: next })
    await visible('#view-signed-in')

    // Passkeys (docs/passkeys.md), with Chromium's virtual authenticator standing in for the
    // device's platform authenticator (discoverable credentials, user verification). Added while
    // signed in; the list shows it.
    const cdp = await page.createCDPSession()
    await cdp.send('WebAuthn.enable')
    // The message the step expects, or the page's error at once (what the browser or server refused).
    const outcome = async (pattern) => {
      await page.waitForFunction(
        (source) => new RegExp(source).test(document.getElementById('message').textContent) || document.getElementById('message').className === 'error',
        { timeout: 10_000 },
        pattern.source,
      )
      const shown = await message()
      assert.match(shown.text, pattern, `the page says: ${shown.text}`)
    }
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    })
    await page.click('#passkey-add')
    await outcome(/Passkey added/)
    await page.waitForFunction(() => document.querySelectorAll('#passkeys tr').length === 1)
    assert.equal(await page.$eval('#passkeys tr td:nth-child(3)', (e) => e.textContent), 'never')
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
    assert.equal(credentials.length, 1)
    assert.equal(credentials[0].isResidentCredential, true, 'a discoverable credential (a passkey)')
    await shot('passkeys')
    await page.click('#logout')
    await visible('#view-signed-out')
    const loggedOut = await message()
    assert.equal(loggedOut.error, false, loggedOut.text)

    // Sign in with the passkey: no username typed, and no two-factor code although two-factor is
    // on (user verification on the device is the second factor). The list shows its last use.
    const passkeyLogin = () => {
      const answer = page.waitForResponse((r) => r.url().endsWith('/accounts/webauthn/authenticate'))
      return page.click('#passkey-sign-in').then(() => answer)
    }
    assert.equal((await passkeyLogin()).status(), 200)
    await visible('#view-signed-in')
    assert.equal(await page.$eval('#who', (e) => e.textContent), email)
    // The list is loaded after the sign-in: wait for its row with a last use.
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll('#passkeys tr')
      return rows.length === 1 && rows[0].querySelector('td:nth-child(3)').textContent !== 'never'
    })

    // Remove it; the device still offers the credential, the server refuses it.
    await page.click('#passkeys tr button.revoke')
    await outcome(/Passkey removed/)
    await page.waitForFunction(() => document.querySelectorAll('#passkeys tr').length === 0)
    await page.click('#logout')
    await visible('#view-signed-out')
    const refused = await passkeyLogin()
    assert.ok(refused.status() >= 400 && refused.status() < 500, `refused with a 4xx: ${refused.status()}`)
    await page.waitForFunction(() => document.getElementById('message').className === 'error')
    assert.equal(await page.$eval('#view-signed-in', (e) => e.hidden), true)
    assert.equal(await page.evaluate(() => fetch('/api/me').then((r) => r.status)), 401)
    assert.deepEqual(errors, [], 'no script errors on the page')
  })
}

for (const name of Object.keys(APPS)) {
  test(`${name} example: sign in with an OpenID provider`, { timeout: 60_000 }, async (t) => {
    const { pathToFileURL } = require('node:url')
    const { start } = await import(pathToFileURL(path.join(ROOT, 'tests/oidc/provider.mjs')).href)
    const port = await freePort()
    const op = await start({ redirectUris: [`http://localhost:${port}/auth/callback`] })
    t.after(op.close)
    const { issuer, clientId, clientSecret } = op.info
    const app = await startApp(name, { OIDC_ISSUER: issuer, OIDC_CLIENT_ID: clientId, OIDC_CLIENT_SECRET: clientSecret, OIDC_LABEL: 'Corp' }, port)
    t.after(app.stop)
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'] })
    t.after(() => browser.close())
    const page = await browser.newPage()
    const errors = []
    page.on('pageerror', (e) => errors.push(String(e)))
    const visible = (selector) => page.waitForSelector(selector, { visible: true, timeout: 15_000 })
    const me = () => page.evaluate(() => fetch('/api/me').then((r) => r.json()))

    // A callback this tab did not start is refused before anything is sent to the server.
    await page.goto(`${app.base}/auth/callback?code=forged&state=forged`)
    await visible('#view-signed-out')
    assert.match(await page.$eval('#message', (e) => e.textContent), /not started/)

    // The button goes to the provider, which logs in alice (its default account) and sends the
    // browser back; the page finishes the sign-in and the app's cookies are set.
    await (await visible('#sign-in-corp')).click()
    await visible('#view-signed-in')
    assert.equal(await page.$eval('#who', (e) => e.textContent), 'alice@example.com')
    const first = (await me()).user
    assert.deepEqual(first.emails, [{ address: 'alice@example.com', verified: true }])
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-signed-in-with-provider.png`) })

    // Again after logging out: the same account.
    await page.click('#logout')
    await visible('#view-signed-out')
    await (await visible('#sign-in-corp')).click()
    await visible('#view-signed-in')
    assert.equal((await me()).user.id, first.id)
    assert.deepEqual(errors, [], 'no script errors on the page')
  })
}
