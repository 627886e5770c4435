'use strict'
// `npm install <path to bindings/node>`: builds accounts.node with cargo when it is missing, so a
// checkout installs with one command. ACCOUNTS_RS_REBUILD=1 forces a build; ACCOUNTS_RS_PROFILE
// picks the cargo profile (default release).
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const out = path.join(root, 'accounts.node')
if (fs.existsSync(out) && !process.env.ACCOUNTS_RS_REBUILD) process.exit(0)

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
