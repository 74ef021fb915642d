// Heroku's own Node API client (npm `heroku-client`) against the Platform API server: the
// calls a script or an autoscaler makes. Prints one JSON line of what it saw.
// Usage: node heroku_client.mjs NODE_MODULES URL TOKEN APP
import { createRequire } from 'node:module'
import path from 'node:path'

const [modules, host, token, app] = process.argv.slice(2)
const Heroku = createRequire(path.join(modules, 'x.js'))('heroku-client')
const heroku = new Heroku({ host, token })

const formation = await heroku.get(`/apps/${app}/formation`)
const scaled = await heroku.patch(`/apps/${app}/formation`, {
  body: { updates: [{ type: 'web', quantity: 3, size: 'standard-2x' }] },
})
const web = await heroku.get(`/apps/${app}/formation/web`)
const dynos = await heroku.get(`/apps/${app}/dynos`)
const sizes = await heroku.get('/dyno-sizes')
const account = await heroku.get('/account')
let refused
try {
  await heroku.patch(`/apps/${app}/formation/web`, { body: { quantity: 'lots' } })
} catch (error) {
  refused = { status: error.statusCode, body: error.body }
}
console.log(JSON.stringify({
  types: formation.map(f => f.type).sort(),
  scaled: scaled.map(f => [f.type, f.quantity, f.size]),
  web: [web.quantity, web.size],
  dynos: dynos.map(d => d.name).sort(),
  sizes: sizes.length,
  email: account.email,
  refused,
}))
