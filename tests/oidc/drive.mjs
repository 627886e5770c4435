// The browser's part of an authorization-code flow, without a browser: follows the provider's
// redirects (keeping its cookies) from the authorization URL until it sends the browser back to
// `redirectUri`, and returns that redirect's query ({code, state} or {error, state}).
//   node drive.mjs <authorization URL> <redirect URI>   prints the query as JSON
import { pathToFileURL } from 'node:url'

export async function drive(url, redirectUri) {
  const jar = new Map()
  let next = url
  for (let hop = 0; hop < 20; hop++) {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    const res = await fetch(next, { redirect: 'manual', headers: cookie ? { cookie } : {} })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const eq = pair.indexOf('=')
      jar.set(pair.slice(0, eq), pair.slice(eq + 1))
    }
    const location = res.headers.get('location')
    if (!location) throw new Error(`no redirect from ${next}: HTTP ${res.status} ${await res.text()}`)
    const target = new URL(location, next)
    if (target.href.startsWith(redirectUri)) return Object.fromEntries(target.searchParams)
    next = target.href
  }
  throw new Error('too many redirects')
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await drive(process.argv[2], process.argv[3])))
}
