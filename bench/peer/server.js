// The reference stack, minimal: Node http + socket.io 4 + pg + jsonwebtoken, serving the
// endpoints bench/run.py drives, on the tables Django's migrations created.
//
// Per event it does what the reference gateway did: one committed write (a single
// statement in autocommit), then `io.to("restaurant:<id>").emit(name, payload)`, then the
// HTTP answer. With an `Idempotency-Key` (POS clients send one on every POST) the write and
// the stored answer commit together (`keyed` below) and a retry replays the answer. Tokens are our access tokens (HS256, claims userId/role/restaurantId),
// verified with the same key.
//
//   PORT=3100 DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_restaurant \
//   JWT_SECRET=... [REDIS_URL=redis://127.0.0.1:6379/0] node server.js
"use strict";

const http = require("http");
const crypto = require("crypto");
const jwt = require("jsonwebtoken");
const { Pool } = require("pg");
const { Server } = require("socket.io");

const PORT = Number(process.env.PORT || 3100);
const SECRET = process.env.JWT_SECRET;
if (!SECRET) throw new Error("JWT_SECRET is required");

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.PG_POOL || 10) });

const ITEM_COLUMNS = "id, order_id, name, qty, unit_price, status, notes, created_at, updated_at";

function itemJson(row) {
  return {
    id: row.id, orderId: row.order_id, name: row.name, qty: row.qty,
    unitPrice: row.unit_price, status: row.status, notes: row.notes,
    createdAt: row.created_at.toISOString(), updatedAt: row.updated_at.toISOString(),
  };
}

function orderJson(row, items) {
  return {
    id: row.id, restaurantId: row.restaurant_id, tableSessionId: row.table_session_id,
    status: row.status, notes: row.notes, items: items || [],
    createdAt: row.created_at.toISOString(), updatedAt: row.updated_at.toISOString(),
  };
}

function send(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) });
  res.end(data);
}

function problem(res, status, title) {
  send(res, status, { type: "about:blank", title, status });
}

function claimsOf(req) {
  const header = req.headers.authorization || "";
  if (!header.startsWith("Bearer ")) return null;
  try {
    return jwt.verify(header.slice(7), SECRET, { algorithms: ["HS256"] });
  } catch (e) {
    return null;
  }
}

function readJson(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      if (!chunks.length) return resolve({});
      try { resolve(JSON.parse(Buffer.concat(chunks).toString())); } catch (e) { resolve(null); }
    });
  });
}

const server = http.createServer();
const io = new Server(server, { cors: { origin: false } });

io.use((socket, next) => {
  const header = socket.handshake.headers.authorization || "";
  const token = header.startsWith("Bearer ") ? header.slice(7) : socket.handshake.auth && socket.handshake.auth.token;
  if (!token) return next(new Error("No token provided"));
  try {
    socket.data.claims = jwt.verify(token, SECRET, { algorithms: ["HS256"] });
  } catch (e) {
    return next(new Error("Invalid token"));
  }
  next();
});

io.on("connection", (socket) => {
  socket.join(`restaurant:${socket.data.claims.restaurantId}`);
});

// Each route is a change: one statement run with `q` (the pool's autocommit query, or a
// transaction's client with an Idempotency-Key), answering {status, body, emit?}.
const routes = [
  // POST /api/v1/orders {tableSessionId}
  [/^\/api\/v1\/orders$/, async (q, claims, body) => {
    const { rows } = await q(
      `INSERT INTO orders_order (id, created_at, updated_at, status, notes, cancel_reason,
                                 created_by_id, restaurant_id, table_session_id)
       SELECT $1, now(), now(), 'DRAFT', $2, '', $3, t.restaurant_id, s.id
         FROM orders_tablesession s JOIN orders_table t ON t.id = s.table_id
        WHERE s.id = $4 AND t.restaurant_id = $5 AND s.status = 'OPEN'
       RETURNING *`,
      [crypto.randomUUID(), body.notes || "", claims.userId, body.tableSessionId, claims.restaurantId],
    );
    if (!rows.length) return problemAnswer(404, "Table session not found.");
    return { status: 201, body: orderJson(rows[0]) };
  }],
  // POST /api/v1/orders/:id/items {name, qty, unitPrice}
  [/^\/api\/v1\/orders\/([0-9a-f-]{36})\/items$/, async (q, claims, body, m) => {
    const { rows } = await q(
      `INSERT INTO orders_orderitem (id, created_at, updated_at, name, qty, unit_price, station,
                                     status, notes, order_id)
       SELECT $1, now(), now(), $2, $3, $4, '', 'PENDING', $5, o.id
         FROM orders_order o WHERE o.id = $6 AND o.restaurant_id = $7 AND o.status = 'DRAFT'
       RETURNING ${ITEM_COLUMNS}`,
      [crypto.randomUUID(), body.name, body.qty, body.unitPrice, body.notes || "", m[1], claims.restaurantId],
    );
    if (!rows.length) return problemAnswer(404, "Order not found.");
    return { status: 201, body: itemJson(rows[0]) };
  }],
  // POST /api/v1/orders/:id/confirm
  [/^\/api\/v1\/orders\/([0-9a-f-]{36})\/confirm$/, async (q, claims, body, m) => {
    const { rows } = await q(
      `WITH o AS (
         UPDATE orders_order SET status = 'CONFIRMED', confirmed_at = now(), updated_at = now()
          WHERE id = $1 AND restaurant_id = $2 AND status = 'DRAFT'
          RETURNING *)
       SELECT o.*, (SELECT coalesce(json_agg(i ORDER BY i.created_at), '[]')
                      FROM (SELECT ${ITEM_COLUMNS} FROM orders_orderitem WHERE order_id = o.id) i) AS items
         FROM o`,
      [m[1], claims.restaurantId],
    );
    if (!rows.length) return problemAnswer(409, "Order is not DRAFT.");
    const order = rows[0];
    const items = order.items.map((i) => itemJson({ ...i, created_at: new Date(i.created_at), updated_at: new Date(i.updated_at) }));
    const emit = () => {
      const room = io.to(`restaurant:${order.restaurant_id}`);
      room.emit("order.new", {
        orderId: order.id, restaurantId: order.restaurant_id, tableSessionId: order.table_session_id,
        status: "CONFIRMED", items, createdAt: order.created_at.toISOString(),
      });
      room.emit("order.status.changed", {
        orderId: order.id, restaurantId: order.restaurant_id, previousStatus: "DRAFT",
        newStatus: "CONFIRMED", updatedAt: order.updated_at.toISOString(),
      });
    };
    return { status: 200, body: orderJson(order, items), emit };
  }],
  // POST /api/v1/orders/:id/items/:itemId/status {status}
  [/^\/api\/v1\/orders\/([0-9a-f-]{36})\/items\/([0-9a-f-]{36})\/status$/, async (q, claims, body, m) => {
    const { rows } = await q(
      `WITH prev AS (
         SELECT i.id, i.status FROM orders_orderitem i JOIN orders_order o ON o.id = i.order_id
          WHERE i.id = $1 AND i.order_id = $2 AND o.restaurant_id = $3 FOR UPDATE OF i)
       UPDATE orders_orderitem i SET status = $4, updated_at = now()
         FROM prev WHERE i.id = prev.id
       RETURNING ${ITEM_COLUMNS.split(", ").map((c) => "i." + c).join(", ")}, prev.status AS previous_status`,
      [m[2], m[1], claims.restaurantId, body.status],
    );
    if (!rows.length) return problemAnswer(404, "Order item not found.");
    const item = rows[0];
    const emit = () => io.to(`restaurant:${claims.restaurantId}`).emit("order.item.status.changed", {
      orderId: item.order_id, itemId: item.id, restaurantId: claims.restaurantId,
      previousStatus: item.previous_status, newStatus: item.status, updatedAt: item.updated_at.toISOString(),
    });
    return { status: 200, body: itemJson(item), emit };
  }],
];

function problemAnswer(status, title) {
  return { status, body: { type: "about:blank", title, status } };
}

const VALID_KEY = /^[\x21-\x7e]{1,255}$/;

// With an Idempotency-Key, as a minimal server does it for real: the change and the stored
// answer in one transaction, the answer stored by one INSERT ... ON CONFLICT DO NOTHING on
// the (user, key) unique index (Django's orders_idempotencyrecord). A key already stored
// (or stored meanwhile by a concurrent request, which the index makes this one wait for)
// rolls the change back and replays the stored answer, or is 422 for another body.
async function keyed(req, claims, body, key, change, m) {
  const fingerprint = crypto.createHash("sha256")
    .update(`${req.method} ${req.url.split("?")[0]}\n${JSON.stringify(body)}`).digest("hex");
  const client = await pool.connect();
  let answer;
  try {
    await client.query("BEGIN");
    answer = await change((text, values) => client.query(text, values), claims, body, m);
    const stored = await client.query(
      `INSERT INTO orders_idempotencyrecord (user_id, key, fingerprint, response_status, response_body, created_at)
       VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (user_id, key) DO NOTHING RETURNING id`,
      [claims.userId, key, fingerprint, answer.status, JSON.stringify(answer.body)],
    );
    if (stored.rows.length) {
      await client.query("COMMIT");
      return answer;
    }
    await client.query("ROLLBACK");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
  const { rows } = await pool.query(
    "SELECT fingerprint, response_status, response_body FROM orders_idempotencyrecord WHERE user_id = $1 AND key = $2",
    [claims.userId, key],
  );
  if (rows[0].fingerprint !== fingerprint) return problemAnswer(422, "Idempotency-Key reused for another request.");
  return { status: rows[0].response_status, body: rows[0].response_body, replayed: true };
}

server.on("request", async (req, res) => {
  if (req.url === "/healthz") return send(res, 200, { status: "ok" });
  if (req.method !== "POST") return problem(res, 405, "Method not allowed.");
  const claims = claimsOf(req);
  if (!claims) return problem(res, 401, "Unauthorized");
  for (const [pattern, change] of routes) {
    const m = pattern.exec(req.url);
    if (m) {
      const body = await readJson(req);
      if (body === null) return problem(res, 400, "Bad JSON");
      const key = req.headers["idempotency-key"];
      if (key !== undefined && !VALID_KEY.test(key)) return problem(res, 400, "Bad Idempotency-Key");
      try {
        // Without a key: the change's one statement in autocommit, as the reference did.
        const answer = key === undefined
          ? await change((text, values) => pool.query(text, values), claims, body, m)
          : await keyed(req, claims, body, key, change, m);
        // Committed: emit, then answer (the reference's order).
        if (answer.emit) answer.emit();
        if (answer.replayed) res.setHeader("Idempotent-Replayed", "true");
        return send(res, answer.status, answer.body);
      } catch (e) {
        return problem(res, 500, String(e.message));
      }
    }
  }
  problem(res, 404, "Not found.");
});

async function main() {
  if (process.env.REDIS_URL) {
    // Several peer processes: the socket.io Redis adapter, as the reference would scale out.
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pub = createClient({ url: process.env.REDIS_URL });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  server.listen(PORT, "127.0.0.1", () => console.log(`peer listening on ${PORT}`));
}

main();
