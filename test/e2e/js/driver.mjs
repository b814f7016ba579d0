// driver.mjs is a scriptable centrifuge-js client (the npm package
// "centrifuge", JSON or Protobuf build) under Node.js. The Go tests in
// ../js_driver_test.go start it, send it commands on stdin and read its
// events on stdout; the assertions live on the Go side.
//
// Environment:
//   HERALD_WS_URL    ws://HOST:PORT/connection/websocket
//   HERALD_TOKEN     connection JWT
//   HERALD_PROTOCOL  "json" (default) or "protobuf"
//
// Commands (stdin, one JSON object per line):
//   {"op":"connect"}
//   {"op":"subscribe","channel":"c","delta":"fossil","joinLeave":true}
//   {"op":"presence","channel":"c"}       → {"ev":"presence",...}
//   {"op":"deltaStats","channel":"c"}     → {"ev":"deltaStats",...}
//   {"op":"exit"}                          → disconnects and exits 0
//
// Events (stdout, one JSON object per line, "ev" names the kind):
//   connected, connecting, disconnected, error, subscribed, subscribing,
//   unsubscribed, publication, join, leave, server_subscribed,
//   server_publication, presence, deltaStats, fatal.
// Publication data is decoded to a JSON value on both protocols.
import readline from 'node:readline';
import WebSocket from 'ws';

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function fatal(msg) {
  emit({ ev: 'fatal', message: msg });
  process.exit(1);
}

const wsURL = process.env.HERALD_WS_URL;
const token = process.env.HERALD_TOKEN;
const protocol = process.env.HERALD_PROTOCOL ?? 'json';
if (!wsURL || !token) fatal('HERALD_WS_URL and HERALD_TOKEN are required');
if (protocol !== 'json' && protocol !== 'protobuf') fatal(`bad HERALD_PROTOCOL ${protocol}`);

const { Centrifuge } = protocol === 'protobuf'
  ? await import('centrifuge/build/protobuf')
  : await import('centrifuge');

const decoder = new TextDecoder();
function decode(d) {
  if (d === undefined || d === null) return null;
  if (protocol === 'protobuf' || d instanceof Uint8Array) {
    const s = decoder.decode(d);
    try { return JSON.parse(s); } catch { return { __raw: s }; }
  }
  return d;
}
const num = (v) => (v === undefined || v === null ? 0 : Number(v));
const pos = (sp) => (sp ? { epoch: sp.epoch ?? '', offset: num(sp.offset) } : null);

const centrifuge = new Centrifuge(wsURL, {
  token,
  websocket: WebSocket,
  timeout: 5000,
  minReconnectDelay: 50,
  maxReconnectDelay: 300,
});
centrifuge.on('connected', (ctx) => emit({ ev: 'connected', client: ctx.client }));
centrifuge.on('connecting', (ctx) => emit({ ev: 'connecting', code: ctx.code, reason: ctx.reason }));
centrifuge.on('disconnected', (ctx) => emit({ ev: 'disconnected', code: ctx.code, reason: ctx.reason }));
centrifuge.on('error', (ctx) => emit({ ev: 'error', message: String(ctx.error?.message ?? JSON.stringify(ctx)) }));
centrifuge.on('subscribed', (ctx) => emit({
  ev: 'server_subscribed', channel: ctx.channel, recovered: !!ctx.recovered, wasRecovering: !!ctx.wasRecovering,
  recoverable: !!ctx.recoverable, positioned: !!ctx.positioned, position: pos(ctx.streamPosition),
}));
centrifuge.on('publication', (ctx) => emit({
  ev: 'server_publication', channel: ctx.channel, data: decode(ctx.data), offset: num(ctx.offset),
}));

const subs = new Map();

function subscribe(cmd) {
  const opts = {};
  if (cmd.delta) opts.delta = cmd.delta;
  if (cmd.joinLeave) opts.joinLeave = true;
  const sub = centrifuge.newSubscription(cmd.channel, opts);
  const ch = cmd.channel;
  sub.on('subscribed', (ctx) => emit({
    ev: 'subscribed', channel: ch, recovered: !!ctx.recovered, wasRecovering: !!ctx.wasRecovering,
    recoverable: !!ctx.recoverable, positioned: !!ctx.positioned, position: pos(ctx.streamPosition),
  }));
  sub.on('subscribing', (ctx) => emit({ ev: 'subscribing', channel: ch, code: ctx.code, reason: ctx.reason }));
  sub.on('unsubscribed', (ctx) => emit({ ev: 'unsubscribed', channel: ch, code: ctx.code, reason: ctx.reason }));
  sub.on('error', (ctx) => emit({ ev: 'error', channel: ch, message: String(ctx.error?.message ?? JSON.stringify(ctx)) }));
  sub.on('publication', (ctx) => emit({ ev: 'publication', channel: ch, data: decode(ctx.data), offset: num(ctx.offset) }));
  sub.on('join', (ctx) => emit({ ev: 'join', channel: ch, user: ctx.info.user, client: ctx.info.client }));
  sub.on('leave', (ctx) => emit({ ev: 'leave', channel: ch, user: ctx.info.user, client: ctx.info.client }));
  subs.set(ch, sub);
  sub.subscribe();
}

async function handle(cmd) {
  switch (cmd.op) {
    case 'connect':
      centrifuge.connect();
      break;
    case 'subscribe':
      subscribe(cmd);
      break;
    case 'presence': {
      const res = await subs.get(cmd.channel).presence();
      const clients = Object.values(res.clients).map((c) => ({ user: c.user, client: c.client }));
      emit({ ev: 'presence', channel: cmd.channel, clients });
      break;
    }
    case 'deltaStats':
      emit({ ev: 'deltaStats', channel: cmd.channel, ...subs.get(cmd.channel).deltaStats() });
      break;
    case 'exit':
      centrifuge.disconnect();
      process.exit(0);
      break;
    default:
      fatal(`unknown command ${JSON.stringify(cmd)}`);
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let cmd;
  try { cmd = JSON.parse(line); } catch (e) { fatal(`bad command ${line}: ${e}`); }
  handle(cmd).catch((e) => emit({ ev: 'error', op: cmd.op, message: String(e?.stack ?? e) }));
});
// The test closing stdin (or dying) ends the driver.
rl.on('close', () => process.exit(0));
