'use strict'
// Finds the native addon (the napi-rs layout): a local build first — a checkout, or the source
// build scripts/build.js makes when no prebuilt fits — else the prebuilt platform package, an
// optional dependency of the published package (accounts-rs-linux-x64-gnu, ...).
const fs = require('node:fs')
const path = require('node:path')

/** The platform package for this machine, or null when none is published for it. */
function platformPackage() {
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
  const glibc = Boolean(report?.header?.glibcVersionRuntime)
  if (process.platform === 'linux' && process.arch === 'x64' && glibc) return 'accounts-rs-linux-x64-gnu'
  return null
}

function load() {
  const local = path.join(__dirname, 'accounts.node')
  if (fs.existsSync(local)) return require(local)
  const pkg = platformPackage()
  if (pkg === null) {
    throw new Error(`accounts-rs: no prebuilt addon for ${process.platform}-${process.arch}; install from a checkout to build it from source`)
  }
  return require(pkg)
}

module.exports = { load, platformPackage }
