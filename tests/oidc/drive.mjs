// The browser's part of an authorization-code flow, without a browser: follows the provider's
// redirects (keeping its cookies) from the authorization URL until it sends the browser back to
// `redirectUri`, and returns that redirect's query ({code, state} or {error, state}). With `tamper`
// (a mode of provider.mjs), the provider's answer to the token request that follows is forged.
//   node drive.mjs <authorization URL> <redirect URI> [tamper]   prints the query as JSON
import { pathToFileURL } from 'node:url'

export async function drive(url, redirectUri, tamper) {
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
    if (target.href.startsWith(redirectUri)) {
      if (tamper) {
        const answer = await fetch(new URL('/test/tamper', url), { method: 'POST', body: JSON.stringify({ mode: tamper }) })
        if (answer.status !== 204) throw new Error(`tamper: HTTP ${answer.status}`)
      }
      return Object.fromEntries(target.searchParams)
    }
    next = target.href
  }
  throw new Error('too many redirects')
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await drive(process.argv[2], process.argv[3], process.argv[4])))
}
