// api.mjs drives Herald's server API with cent.js (the npm package
// "cent.js", a Centrifugo HTTP API client written by others) while a
// centrifuge-js client watches the effects. TestCentJSAPI in ../js_test.go
// runs it.
//
// Environment:
//   HERALD_WS_URL    ws://127.0.0.1:PORT/connection/websocket
//   HERALD_API_URL   http://127.0.0.1:PORT/api
//   HERALD_API_KEY   server API key
//   HERALD_TOKEN     connection JWT for HERALD_USER
//   HERALD_USER      user id inside the token
//   HERALD_CHANNEL   channel in a namespace with presence and history
//
// Prints "OK <json summary>" on success; any failure prints to stderr and
// exits 1.
import WebSocket from 'ws';
import { CentClient, CentException } from 'cent.js';
import { Centrifuge } from 'centrifuge';

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}
const env = (name) => process.env[name] ?? fail(`missing environment variable ${name}`);
const check = (cond, msg) => { if (!cond) throw new Error(msg); };

const channel = env('HERALD_CHANNEL');
const user = env('HERALD_USER');
const timer = setTimeout(() => fail('timed out after 30s'), 30000);

// Waits for an event pushed into list that matches pred.
function waitFor(list, pred, what, ms = 10000) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const poll = () => {
      const i = list.findIndex(pred);
      if (i >= 0) return resolve(list.splice(i, 1)[0]);
      if (Date.now() > deadline) return reject(new Error(`no ${what} within ${ms}ms`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

async function main() {
  const cent = new CentClient({ url: env('HERALD_API_URL'), apiKey: env('HERALD_API_KEY') });

  const centrifuge = new Centrifuge(env('HERALD_WS_URL'), { token: env('HERALD_TOKEN'), websocket: WebSocket, timeout: 10000 });
  let clientID = '';
  const events = [];
  centrifuge.on('connected', (ctx) => { clientID = ctx.client; });
  centrifuge.on('disconnected', (ctx) => events.push({ kind: 'disconnected', code: ctx.code }));
  centrifuge.connect();
  await centrifuge.ready(10000);
  const sub = centrifuge.newSubscription(channel);
  sub.on('publication', (ctx) => events.push({ kind: 'pub', data: ctx.data, offset: ctx.offset }));
  sub.on('unsubscribed', (ctx) => events.push({ kind: 'unsubscribed', code: ctx.code }));
  sub.subscribe();
  await sub.ready(10000);

  // publish: the result carries the stream position; the subscriber gets it.
  const res = await cent.publish({ channel, data: { n: 1 } });
  check(res.offset === 1 && typeof res.epoch === 'string' && res.epoch !== '', `publish result ${JSON.stringify(res)}`);
  await waitFor(events, (e) => e.kind === 'pub' && e.data.n === 1 && e.offset === 1, 'publication n=1');

  // broadcast to this channel and another.
  const b = await cent.broadcast({ channels: [channel, `${channel}-other`], data: { n: 2 } });
  check(Array.isArray(b.responses) && b.responses.length === 2 && b.responses.every((r) => !r.error),
    `broadcast result ${JSON.stringify(b)}`);
  await waitFor(events, (e) => e.kind === 'pub' && e.data.n === 2, 'broadcast publication');

  // presence and presence_stats see the centrifuge-js client.
  const presence = await cent.getPresence({ channel });
  check(presence.presence && presence.presence[clientID] && presence.presence[clientID].user === user,
    `presence ${JSON.stringify(presence)} lacks ${clientID}/${user}`);
  const stats = await cent.getPresenceStats({ channel });
  check(stats.num_clients === 1 && stats.num_users === 1, `presence_stats ${JSON.stringify(stats)}`);

  // history in order, then removed.
  const hist = await cent.getHistory({ channel, limit: 10 });
  check(hist.publications.map((p) => p.data.n).join(',') === '1,2' && hist.offset === 2,
    `history ${JSON.stringify(hist)}`);

  // channels and info.
  const chans = await cent.getChannels({});
  check(chans.channels && chans.channels[channel] && chans.channels[channel].num_clients === 1, `channels ${JSON.stringify(chans)}`);
  const info = await cent.getInfo();
  check(info.nodes.length === 1 && info.nodes[0].num_clients === 1, `info ${JSON.stringify(info)}`);

  // The legacy route: several commands in one request.
  const piped = await cent.pipeline([
    { method: 'publish', params: { channel, data: { n: 3 } } },
    { method: 'info', params: {} },
  ]);
  check(piped.length === 2 && piped[0].offset === 3 && piped[1].nodes.length === 1, `pipeline ${JSON.stringify(piped)}`);
  await waitFor(events, (e) => e.kind === 'pub' && e.data.n === 3, 'pipelined publication');

  // An API error is thrown as cent.js's exception (which keeps only the
  // error object's string form); the code itself is checked with a plain
  // request: 107 bad request, with HTTP 200.
  let thrown = null;
  try {
    await cent.publish({ channel: '', data: {} });
  } catch (err) {
    thrown = err;
  }
  check(thrown instanceof CentException, `publish to an empty channel: ${thrown}, want a CentException`);
  const raw = await fetch(`${env('HERALD_API_URL')}/publish`, {
    method: 'POST', headers: { 'X-API-Key': env('HERALD_API_KEY') }, body: JSON.stringify({ channel: '', data: {} }),
  });
  const rawBody = await raw.json();
  check(raw.status === 200 && rawBody.error && rawBody.error.code === 107, `raw error ${raw.status} ${JSON.stringify(rawBody)}`);

  await cent.removeHistory({ channel });
  const after = await cent.getHistory({ channel, limit: 10 });
  check(after.publications === undefined || after.publications.length === 0, `history after removal ${JSON.stringify(after)}`);

  // unsubscribe, then disconnect the user: both reach the client.
  await cent.unsubscribe({ user, channel });
  await waitFor(events, (e) => e.kind === 'unsubscribed', 'unsubscribed event');
  await cent.disconnect({ user });
  await waitFor(events, (e) => e.kind === 'disconnected', 'disconnected event');

  centrifuge.disconnect();
  clearTimeout(timer);
  console.log(`OK ${JSON.stringify({ client: clientID, epoch: res.epoch })}`);
}

main().catch((err) => fail(err.stack ?? String(err)));
