'use strict'
// The install script: the source fallback. Nothing to do when the prebuilt platform package of this
// machine is installed (the published package lists it as an optional dependency) or an addon was
// built already; otherwise, in a checkout (`npm install <path to bindings/node>`), builds
// accounts.node with cargo. ACCOUNTS_RS_REBUILD=1 forces a build; ACCOUNTS_RS_PROFILE picks the
// cargo profile (default release).
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { platformPackage } = require('../load.js')

const root = path.join(__dirname, '..')
const out = path.join(root, 'accounts.node')
if (!process.env.ACCOUNTS_RS_REBUILD) {
  if (fs.existsSync(out)) process.exit(0)
  const prebuilt = platformPackage()
  try {
    if (prebuilt !== null) {
      require.resolve(prebuilt, { paths: [root] })
      process.exit(0)
    }
  } catch (_) {
    // not installed: build from source below
  }
}
if (!fs.existsSync(path.join(root, 'Cargo.toml'))) {
  console.error(`accounts-rs: no prebuilt addon for ${process.platform}-${process.arch} is installed, and this copy has no sources to build one; install from a checkout`)
  process.exit(1)
}

const profile = process.env.ACCOUNTS_RS_PROFILE || 'release'
const args = ['build', '-p', 'accounts-node', '--message-format=json-render-diagnostics']
args.push(...(profile === 'release' ? ['--release'] : ['--profile', profile]))
console.error(`accounts-rs: cargo ${args.join(' ')}`)
let stdout
try {
  stdout = execFileSync('cargo', args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024 })
} catch (e) {
  console.error('accounts-rs: building the native addon failed; a Rust toolchain (https://rustup.rs) is required')
  process.exit(1)
}
let library = null
for (const line of stdout.toString().split('\n')) {
  if (!line.startsWith('{')) continue
  const msg = JSON.parse(line)
  if (msg.reason === 'compiler-artifact' && msg.target && msg.target.name === 'accounts_node') {
    library = msg.filenames.find((f) => /\.(so|dylib|dll)$/.test(f)) || library
  }
}
if (!library) {
  console.error('accounts-rs: cargo did not report the accounts_node library')
  process.exit(1)
}
// Copy then rename: a process that has the old addon loaded keeps its (unchanged) mapping.
fs.copyFileSync(library, `${out}.tmp`)
fs.renameSync(`${out}.tmp`, out)
console.error(`accounts-rs: built ${out}`)
