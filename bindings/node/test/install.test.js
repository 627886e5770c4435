'use strict'
// Installs the package the way a user does (`npm install <path>` into a fresh project, which runs
// scripts/build.js to build the addon with cargo) and loads it with require and import.
const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const pkg = path.join(__dirname, '..')

test('npm install <path> builds the addon; require and import both work', (t) => {
  // The install builds into the checkout itself (a path dependency is linked, not copied): keep
  // the test build of the addon (with its self-test entry points) for the other test files.
  const addon = path.join(pkg, 'accounts.node')
  const kept = `${addon}.kept-by-install-test`
  if (fs.existsSync(addon)) {
    fs.copyFileSync(addon, kept)
    t.after(() => fs.renameSync(kept, addon))
  }
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'accounts-user-'))
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-app', version: '1.0.0', private: true }))
  // Force the build step (dev profile: shares the workspace's compiled dependencies).
  const env = { ...process.env, ACCOUNTS_RS_REBUILD: '1', ACCOUNTS_RS_PROFILE: process.env.ACCOUNTS_RS_PROFILE || 'dev' }
  const log = execFileSync('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', pkg], { cwd: project, env, stdio: 'pipe' })
  assert.match(log.toString() + '', /added 1 package|up to date/)
  const cjs = execFileSync(
    process.execPath,
    ['-e', "const a = require('accounts-rs'); const s = new a.AccountsServer({db: 'sqlite::memory:', tokenSecret: 'x'.repeat(32)}); s.getServices().password.createUser({username: 'u'}).then((id) => console.log(typeof id, a.version))"],
    { cwd: project },
  )
  assert.match(cjs.toString(), /^string \d+\.\d+\.\d+/)
  fs.writeFileSync(
    path.join(project, 'main.mjs'),
    "import { AccountsServer, isAccountsError } from 'accounts-rs'\n" +
      "const s = new AccountsServer({ db: 'sqlite::memory:', tokenSecret: 'x'.repeat(32) })\n" +
      "const e = await s.resumeSession('nope').catch((e) => e)\n" +
      'console.log(isAccountsError(e), e.code)\n',
  )
  const esm = execFileSync(process.execPath, ['main.mjs'], { cwd: project })
  assert.equal(esm.toString().trim(), 'true TokenVerificationFailed')
  fs.rmSync(project, { recursive: true, force: true })
})

test('the published files include the sources, the build script and the types, without const enums', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg, stdio: 'pipe' })
  const files = JSON.parse(out.toString())[0].files.map((f) => f.path)
  for (const f of ['index.js', 'index.mjs', 'index.d.ts', 'scripts/build.js', 'src/lib.rs', 'Cargo.toml', 'package.json']) {
    assert.ok(files.includes(f), `${f} missing from the package`)
  }
  assert.ok(!fs.readFileSync(path.join(pkg, 'index.d.ts'), 'utf8').includes('const enum'))
})
