// basic.mjs drives a Herald server with centrifuge-js (the npm package
// "centrifuge") under Node.js. TestCentrifugeJS in ../js_test.go runs it.
//
// Environment:
//   HERALD_WS_URL    ws://127.0.0.1:PORT/connection/websocket
//   HERALD_API_URL   http://127.0.0.1:PORT/api
//   HERALD_API_KEY   server API key
//   HERALD_TOKEN     connection JWT for HERALD_USER
//   HERALD_USER      user id inside the token
//   HERALD_CHANNEL   channel to use (namespace with presence, history and
//                    client publish for subscribers)
//   HERALD_PROTOCOL  "json" (default) or "protobuf"
//
// Protocol on stdout, one line each: "READY" once subscribed (the Go test
// then publishes {"from":"go"} through the API), "OK <json summary>" on
// success. Any failure prints to stderr and exits 1.
import WebSocket from 'ws';

const env = (name, def) => {
  const v = process.env[name] ?? def;
  if (v === undefined) fail(`missing environment variable ${name}`);
  return v;
};

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

const wsURL = env('HERALD_WS_URL');
const apiURL = env('HERALD_API_URL');
const apiKey = env('HERALD_API_KEY');
const token = env('HERALD_TOKEN');
const user = env('HERALD_USER');
const channel = env('HERALD_CHANNEL');
const protocol = env('HERALD_PROTOCOL', 'json');
if (protocol !== 'json' && protocol !== 'protobuf') fail(`bad HERALD_PROTOCOL ${protocol}`);

const timer = setTimeout(() => fail('timed out after 30s'), 30000);

const { Centrifuge } = protocol === 'protobuf'
  ? await import('centrifuge/build/protobuf')
  : await import('centrifuge');

// Payloads are JSON on both protocols; the Protobuf build carries bytes.
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const encode = (v) => (protocol === 'protobuf' ? encoder.encode(JSON.stringify(v)) : v);
const decode = (d) => (protocol === 'protobuf' ? JSON.parse(decoder.decode(d)) : d);

// A queue of publications with a waiting helper.
const pubs = [];
let wake = null;
function nextPub(pred, what, ms = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no publication ${what} within ${ms}ms`)), ms);
    const check = () => {
      const i = pubs.findIndex(pred);
      if (i >= 0) {
        clearTimeout(t);
        wake = null;
        resolve(pubs.splice(i, 1)[0]);
        return;
      }
      wake = check;
    };
    check();
  });
}

async function apiCall(method, params) {
  const resp = await fetch(`${apiURL}/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': apiKey },
    body: JSON.stringify(params),
  });
  if (resp.status !== 200) throw new Error(`API ${method}: HTTP ${resp.status}`);
  const body = await resp.json();
  if (body.error) throw new Error(`API ${method}: error ${JSON.stringify(body.error)}`);
  return body.result;
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

// TrackedWebSocket is the ws client (which offers permessage-deflate by
// default) recording the extensions the server accepted.
let extensions = '';
class TrackedWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    this.on('open', () => { extensions = this.extensions; });
  }
}

async function main() {
  const centrifuge = new Centrifuge(wsURL, { token, websocket: TrackedWebSocket, timeout: 10000 });
  let clientID = '';
  const disconnects = [];
  centrifuge.on('connected', (ctx) => { clientID = ctx.client; });
  centrifuge.on('disconnected', (ctx) => { disconnects.push(ctx); });
  centrifuge.on('error', (ctx) => { console.error('client error:', JSON.stringify(ctx)); });
  centrifuge.connect();
  await centrifuge.ready(10000);
  check(clientID !== '', 'connected without a client id');

  const sub = centrifuge.newSubscription(channel);
  let subscribed = null;
  sub.on('subscribed', (ctx) => { subscribed = ctx; });
  sub.on('publication', (ctx) => {
    pubs.push({ data: decode(ctx.data), info: ctx.info, offset: ctx.offset });
    if (wake) wake();
  });
  sub.on('error', (ctx) => { console.error('subscription error:', JSON.stringify(ctx)); });
  sub.subscribe();
  await sub.ready(10000);
  check(subscribed && subscribed.recoverable === true, `subscribed context ${JSON.stringify(subscribed)}: want recoverable`);

  // 1. A publication from the server API made by this script.
  await apiCall('publish', { channel, data: { from: 'api' } });
  const apiPub = await nextPub((p) => p.data.from === 'api', 'from the API');
  check(apiPub.offset === 1, `API publication offset ${apiPub.offset}, want 1`);

  // 2. A publication made by the Go test after READY.
  console.log('READY');
  await nextPub((p) => p.data.from === 'go', 'from the Go test');

  // 3. Client-side publish, delivered back with publisher info.
  await sub.publish(encode({ from: 'js' }));
  const own = await nextPub((p) => p.data.from === 'js', 'published by this client');
  check(own.info && own.info.user === user && own.info.client === clientID,
    `own publication info ${JSON.stringify(own.info)}, want user ${user} client ${clientID}`);

  // 4. Presence and presence stats.
  const presence = await sub.presence();
  const me = presence.clients[clientID];
  check(me && me.user === user, `presence ${JSON.stringify(presence)} lacks ${clientID}/${user}`);
  const stats = await sub.presenceStats();
  check(stats.numClients === 1 && stats.numUsers === 1, `presence stats ${JSON.stringify(stats)}, want 1/1`);

  // 5. History holds the three publications in order.
  const history = await sub.history({ limit: -1 });
  const froms = history.publications.map((p) => decode(p.data).from);
  check(JSON.stringify(froms) === JSON.stringify(['api', 'go', 'js']), `history ${JSON.stringify(froms)}`);
  check(history.offset === 3 && history.epoch !== '', `history position ${history.offset}/${history.epoch}`);

  // 6. Unsubscribe, then disconnect.
  sub.unsubscribe();
  const disconnected = new Promise((resolve) => centrifuge.once('disconnected', resolve));
  centrifuge.disconnect();
  await disconnected;
  check(disconnects.length === 1, `disconnected events ${JSON.stringify(disconnects)}`);
  console.log(`OK ${JSON.stringify({ protocol, client: clientID, history: froms, extensions })}`);
}

main().then(
  () => { clearTimeout(timer); process.exit(0); },
  (err) => fail(err && err.stack ? err.stack : String(err)),
);
