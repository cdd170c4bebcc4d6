// Kitchen display: a live board of tickets over /ws/events/, actions over the REST API.
import { api, signIn } from "./api.js";
import * as sound from "./sound.js";
import * as textSize from "./textsize.js";
import { el, render as draw, renderAges, renderOffScreen, visibleTickets } from "./view.js";

const NEXT = { PENDING: "IN_PROGRESS", IN_PROGRESS: "READY" };
const ACTIVE = new Set(["CONFIRMED", "IN_PROGRESS", "READY"]);
const CANCELLED_TICKET_LINGER_MS = 60000;

const state = {
  tickets: new Map(), // orderId -> ticket (as GET /api/v1/kitchen/tickets/{id})
  lastEventId: null, // id of the last event applied to the board
  queue: Promise.resolve(), // events and reloads, applied one at a time, in order
  socket: null,
  live: false,
  backoff: 1000,
  holdReconnectUntil: 0,
  clockOffset: 0, // server clock minus this device's clock, in ms
  amber: 10,
  red: 20,
  station: localStorage.getItem("kitchen.station") || "",
  selected: null, // orderId
  selectedItem: 0,
  lastBumped: null,
};

const render = () => draw(state, actions);

// --- loading -------------------------------------------------------------------------------

async function loadBoard() {
  const board = await api("GET", "/kitchen/board");
  state.clockOffset = Date.parse(board.serverTime) - Date.now();
  state.amber = board.amberAfterMinutes;
  state.red = board.redAfterMinutes;
  fillStations(board.stations);
  state.tickets = new Map(board.tickets.map((t) => [t.orderId, t]));
  render();
}

async function refreshTicket(orderId, cue) {
  let ticket;
  try {
    ticket = await api("GET", "/kitchen/tickets/" + orderId);
  } catch (error) {
    if (error.status === 404) return;
    throw error;
  }
  if (!ACTIVE.has(ticket.status)) {
    state.tickets.delete(orderId);
  } else {
    if (cue) {
      ticket.newUntil = Date.now() + 5000;
      sound.play(cue);
    }
    state.tickets.set(orderId, ticket);
  }
  render();
}

function fillStations(stations) {
  const select = el("station");
  const known = new Set([...select.options].map((o) => o.value));
  for (const station of stations) {
    if (!known.has(station)) select.add(new Option(station, station));
  }
  select.value = stations.includes(state.station) ? state.station : "";
}

// --- WebSocket -----------------------------------------------------------------------------

function enqueue(task) {
  state.queue = state.queue.then(task).catch((error) => {
    // A failed read (server unreachable) leaves the board unreliable: reconnect and resync.
    console.error(error);
    state.lastEventId = null;
    if (state.socket) state.socket.close();
  });
}

function connect() {
  setLive(false);
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/ws/events/");
  state.socket = socket;
  socket.onmessage = (message) => onMessage(socket, JSON.parse(message.data));
  socket.onclose = (close) => {
    if (state.socket !== socket) return;
    state.socket = null;
    setLive(false);
    if (close.code === 4401) return signIn();
    const delay = Math.max(state.backoff, state.holdReconnectUntil - Date.now());
    state.backoff = Math.min(state.backoff * 2, 30000);
    setTimeout(connect, delay);
  };
}

function onMessage(socket, message) {
  if (message.type === "ready") {
    state.backoff = 1000;
    if (state.lastEventId !== null) {
      // Back after a drop: everything missed comes first, then live events.
      socket.send(JSON.stringify({ type: "resume", lastEventId: state.lastEventId }));
      setLive(true);
    } else {
      enqueue(async () => {
        state.lastEventId = message.lastEventId;
        await loadBoard();
        setLive(true);
      });
    }
  } else if (message.type === "event") {
    enqueue(() => applyEvent(message));
  } else if (message.type === "resync") {
    enqueue(async () => {
      setLive(false);
      state.lastEventId = null;
      await loadBoard();
      setLive(socket === state.socket);
    });
  }
}

async function applyEvent(message) {
  if (state.lastEventId !== null && Number(message.id) <= Number(state.lastEventId)) return;
  state.lastEventId = message.id;
  const data = message.data;
  const ticket = state.tickets.get(data.orderId);
  if (message.event === "order.new") {
    await refreshTicket(data.orderId, "newTicket");
  } else if (message.event === "order.item.status.changed") {
    const item = ticket && ticket.items.find((i) => i.id === data.itemId);
    if (!item) return refreshTicket(data.orderId);
    item.status = data.newStatus;
    item.updatedAt = data.updatedAt;
    render();
  } else if (message.event === "order.status.changed") {
    if (ACTIVE.has(data.newStatus)) {
      if (!ticket) return refreshTicket(data.orderId);
      ticket.status = data.newStatus;
    } else if (data.newStatus === "CANCELLED" && ticket) {
      // Voided: keep it on screen, struck through, long enough for the line to notice.
      ticket.status = "CANCELLED";
      setTimeout(() => {
        if (state.tickets.get(data.orderId) === ticket) {
          state.tickets.delete(data.orderId);
          render();
        }
      }, CANCELLED_TICKET_LINGER_MS);
    } else {
      state.tickets.delete(data.orderId);
    }
    render();
  }
}

function setLive(live) {
  state.live = live;
  const indicator = el("connection");
  indicator.textContent = live ? "Live" : "Reconnecting…";
  indicator.className = "connection " + (live ? "live" : "offline");
  document.body.classList.toggle("stale", !live);
}

// --- actions -------------------------------------------------------------------------------

function toast(text) {
  const box = el("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 4000);
}

// Runs one tap's request; its error (409: another screen was first) is shown, not thrown.
async function attempt(request) {
  try {
    return await request();
  } catch (error) {
    toast(error.message);
    return null;
  }
}

function applyItems(order) {
  const ticket = state.tickets.get(order.id);
  if (!ticket) return;
  for (const fresh of order.items) {
    const item = ticket.items.find((i) => i.id === fresh.id);
    if (item) item.status = fresh.status;
  }
  ticket.status = order.status;
  render();
}

const actions = {
  async advance(orderId, itemId) {
    const ticket = state.tickets.get(orderId);
    const item = ticket && ticket.items.find((i) => i.id === itemId);
    if (!item || !NEXT[item.status]) return;
    const fresh = await attempt(() =>
      api("POST", `/orders/${orderId}/items/${itemId}/status`, { status: NEXT[item.status], expectedStatus: item.status })
    );
    if (fresh) {
      item.status = fresh.status;
      render();
    }
  },

  async bump(orderId) {
    if (!orderId) return;
    const order = await attempt(() => api("POST", `/orders/${orderId}/bump`));
    if (!order) return;
    applyItems(order);
    state.lastBumped = orderId;
    el("recall").disabled = false;
  },

  async recall() {
    if (!state.lastBumped) return;
    const order = await attempt(() => api("POST", `/orders/${state.lastBumped}/recall`));
    if (!order) return;
    applyItems(order);
    state.selected = state.lastBumped;
    state.lastBumped = null;
    el("recall").disabled = true;
    render();
  },
};

// --- keyboard (bump bars send keys) --------------------------------------------------------

function onKey(event) {
  if (event.target.tagName === "SELECT" || event.target.tagName === "INPUT") return;
  const tickets = visibleTickets(state);
  const index = tickets.findIndex((t) => t.orderId === state.selected);
  const current = tickets[index];
  const key = event.key;
  if (key === "ArrowRight" || key === "ArrowLeft") {
    const step = key === "ArrowRight" ? 1 : -1;
    const next = tickets[Math.min(tickets.length - 1, Math.max(0, index + step))];
    if (next) {
      state.selected = next.orderId;
      state.selectedItem = 0;
    }
  } else if (key === "ArrowDown" || key === "ArrowUp") {
    if (current) {
      const step = key === "ArrowDown" ? 1 : -1;
      state.selectedItem = Math.min(current.items.length - 1, Math.max(0, state.selectedItem + step));
    }
  } else if (key === " ") {
    if (current && current.items[state.selectedItem]) actions.advance(current.orderId, current.items[state.selectedItem].id);
  } else if (key === "Enter" || key === "b" || key === "B") {
    if (current) actions.bump(current.orderId);
  } else if (key === "r" || key === "R") {
    actions.recall();
  } else if (/^[1-9]$/.test(key) && tickets[Number(key) - 1]) {
    state.selected = tickets[Number(key) - 1].orderId;
    state.selectedItem = 0;
  } else {
    return;
  }
  event.preventDefault();
  render();
}

// --- start ---------------------------------------------------------------------------------

textSize.apply(textSize.current());
el("text-smaller").addEventListener("click", () => (textSize.change(-1), renderOffScreen()));
el("text-larger").addEventListener("click", () => (textSize.change(+1), renderOffScreen()));
el("station").addEventListener("change", (event) => {
  state.station = event.target.value;
  localStorage.setItem("kitchen.station", state.station);
  render();
});
el("sound").addEventListener("click", () => sound.enable().then(() => (el("sound").textContent = "Sound on")));
el("recall").addEventListener("click", actions.recall);
document.addEventListener("keydown", onKey);
window.addEventListener("resize", renderOffScreen);
setInterval(() => renderAges(state), 1000);

// For operators and tests: drop the connection and stay away for `ms` (a Wi-Fi blip).
window.kitchenBoard = {
  state,
  dropConnection(ms = 0) {
    state.holdReconnectUntil = Date.now() + ms;
    if (state.socket) state.socket.close();
  },
};

connect();
