// socket.io-client connection state recovery, driven line by line from stdin (JSON):
//   {"cmd": "open", "name", "url", "token", "transports"?, "pid"?, "offset"?}
//       a socket as the reference's clients open one; `pid`/`offset` preset the state a
//       client keeps between connections (to present another session's pid)
//   {"cmd": "drop", "name"}            close the Engine.IO connection under the socket
//   {"cmd": "reconnect", "name", "url"?} connect again (to `url`: another worker)
// and reporting on stdout as JSON lines:
//   {"socket", "kind": "connect", "recovered", "pid"} | "event" | "ready" | "disconnect" | ...
// `pid` is the session id the client holds (socket.io-client keeps it in `_pid`).
const io = require('socket.io-client');
const readline = require('readline');

const sockets = {};

function report(record) {
  process.stdout.write(JSON.stringify(record) + '\n');
}

function open({ name, url, token, transports, pid, offset }) {
  const options = { forceNew: true, reconnection: false, autoConnect: false, auth: { token } };
  if (transports) options.transports = transports;
  const socket = io(url, options);
  if (pid !== undefined) socket._pid = pid;
  if (offset !== undefined) socket._lastOffset = offset;
  socket.on('connect', () => report({ socket: name, kind: 'connect', recovered: socket.recovered, pid: socket._pid }));
  socket.on('connect_error', (error) => report({ socket: name, kind: 'connect_error', message: error.message }));
  socket.on('disconnect', (reason) => report({ socket: name, kind: 'disconnect', reason }));
  socket.onAny((event, data, offset) => {
    report({ socket: name, kind: event === 'ready' ? 'ready' : 'event', event, data, offset });
  });
  sockets[name] = socket;
  socket.connect();
}

const commands = {
  open,
  drop: ({ name }) => sockets[name].io.engine.close(),
  reconnect: ({ name, url }) => {
    const socket = sockets[name];
    if (url) socket.io.uri = url; // where a load balancer sends the next connection
    socket.connect();
  },
};

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line);
  commands[command.cmd](command);
}).on('close', () => {
  for (const socket of Object.values(sockets)) socket.disconnect();
  process.exit(0);
});
report({ kind: 'started' });
