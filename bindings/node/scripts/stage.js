'use strict'
// `make dist`: stages the two npm packages of the napi-rs layout, ready for `npm pack`:
//   <out>/accounts-rs        the JS package, with the platform package as an optional dependency
//   <out>/linux-x64-gnu      accounts-rs-linux-x64-gnu: the prebuilt addon
// Usage: node scripts/stage.js <addon .so> <out dir>
const fs = require('node:fs')
const path = require('node:path')

const [addon, out] = process.argv.slice(2)
if (!addon || !out) {
  console.error('usage: node scripts/stage.js <addon .so> <out dir>')
  process.exit(2)
}
const root = path.join(__dirname, '..')
const read = (p) => JSON.parse(fs.readFileSync(p, 'utf8'))
const write = (p, value) => fs.writeFileSync(p, `${JSON.stringify(value, null, 2)}\n`)

// The platform package: its manifest from npm/linux-x64-gnu, the addon under napi-rs's name.
const platformDir = path.join(out, 'linux-x64-gnu')
fs.mkdirSync(platformDir, { recursive: true })
const platform = read(path.join(root, 'npm/linux-x64-gnu/package.json'))
write(path.join(platformDir, 'package.json'), platform)
fs.copyFileSync(addon, path.join(platformDir, platform.main))

// The JS package: the published files, without sources or install script (a source build needs the
// whole workspace: that is `npm install <checkout>/bindings/node`), and the platform package as an
// optional dependency of the same version (what `napi prepublish` adds). Without a prebuilt for the
// machine, load.js says so at require time.
const mainDir = path.join(out, 'accounts-rs')
const main = read(path.join(root, 'package.json'))
const files = ['index.js', 'index.mjs', 'index.d.ts', 'names.d.ts', 'load.js', 'express.js', 'express.d.ts']
for (const f of files) {
  fs.mkdirSync(path.dirname(path.join(mainDir, f)), { recursive: true })
  fs.copyFileSync(path.join(root, f), path.join(mainDir, f))
}
main.files = files
main.optionalDependencies = { [platform.name]: main.version }
delete main.devDependencies
delete main.scripts
write(path.join(mainDir, 'package.json'), main)
for (const f of ['README.md', 'LICENSE']) {
  const src = path.join(root, '..', '..', f)
  if (fs.existsSync(src)) fs.copyFileSync(src, path.join(mainDir, f))
}
console.log(`staged ${mainDir} and ${platformDir}`)
