// Several socket.io-client connections at once, each as the reference's clients open them,
// reporting everything that happens as JSON lines on stdout:
//   {"socket": name, "kind": "connect" | "connect_error" | "disconnect" | "event" | "upgrade", ...}
//
// SOCKETS (environment): a JSON list of
//   {"name", "url", "token"?, "via": "auth" | "header" | "none", "transports"?: [...]}
// "auth" passes `auth: {token}`, "header" passes `extraHeaders: {Authorization: "Bearer ..."}`.
const io = require('socket.io-client');

const specs = JSON.parse(process.env.SOCKETS || '[]');

function report(record) {
  process.stdout.write(JSON.stringify(record) + '\n');
}

for (const spec of specs) {
  const options = { forceNew: true, reconnection: false };
  if (spec.via === 'auth') options.auth = { token: spec.token };
  if (spec.via === 'header') options.extraHeaders = { Authorization: `Bearer ${spec.token}` };
  if (spec.transports) options.transports = spec.transports;

  const socket = io(spec.url, options);
  const name = spec.name;
  const transport = () => (socket.io.engine && socket.io.engine.transport ? socket.io.engine.transport.name : null);

  socket.on('connect', () => {
    report({ socket: name, kind: 'connect', id: socket.id, transport: transport() });
    socket.io.engine.on('upgrade', (t) => report({ socket: name, kind: 'upgrade', transport: t.name }));
  });
  socket.on('connect_error', (error) => report({ socket: name, kind: 'connect_error', message: error.message }));
  socket.on('disconnect', (reason) => report({ socket: name, kind: 'disconnect', reason }));
  // Every event's last argument is its id (the recovery offset); `ready`, every socket's
  // first event, gives it an offset before any event (the reference's clients ignore it).
  socket.onAny((event, data, offset) => {
    const kind = event === 'ready' ? 'ready' : 'event';
    report({ socket: name, kind, event, data, offset, transport: transport(), recovered: socket.recovered });
  });
}

report({ kind: 'started', count: specs.length });
// Stay up until the test ends us (stdin closed or killed).
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
