// Kitchen display: a live board of tickets over /ws/events/, actions over the REST API.
import { api, signIn } from "./api.js";
import * as sound from "./sound.js";
import * as textSize from "./textsize.js";
import { el, onStation, UNROUTED } from "./common.js";
import { applyAvailability, loadMenu, renderMenuPanel } from "./menu.js";
import { bumpBar } from "./keys.js";
import { render as draw, renderAges, renderOffScreen } from "./view.js";
import { acknowledgeWhenDrawn, announce, EXPO, named, rename, screenName } from "./screen.js";

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
  stations: [],
  station: localStorage.getItem("kitchen.station") || "",
  menu: new Map(), // menuItemId -> MenuItem (as GET /api/v1/menu-items), for 86 and countdowns
  stationsDown: [], // stations with open tickets and no screen online (GET /kitchen/board)
  screenId: null, // this display as a kitchen screen, once the server has named it
  drawnEventId: null, // the last event drawn on the board, acknowledged after the paint
  ackPending: false,
  ackedEventId: null,
  selected: null, // orderId
  selectedItem: 0,
  lastBumped: null,
};

const render = () => {
  draw(state, actions);
  renderMenuPanel(state, toast);
};
const shown = (items) => items.some((item) => onStation(state, item));

// --- loading -------------------------------------------------------------------------------

async function loadBoard() {
  const board = await api("GET", "/kitchen/board");
  state.clockOffset = Date.parse(board.serverTime) - Date.now();
  state.amber = board.amberAfterMinutes;
  state.red = board.redAfterMinutes;
  state.stations = board.stations;
  state.stationsDown = board.stationsDown || [];
  fillStations(board.stations);
  await loadMenu(state);
  state.tickets = new Map(board.tickets.map((t) => [t.orderId, t]));
  render();
}

// The ticket as the server has it now; `flash`: it just arrived or grew. Null when gone.
async function refreshTicket(orderId, flash = false) {
  let ticket;
  try {
    ticket = await api("GET", "/kitchen/tickets/" + orderId);
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
  if (!ACTIVE.has(ticket.status)) {
    state.tickets.delete(orderId);
    ticket = null;
  } else {
    if (flash) ticket.flashedAt = Date.now();
    state.tickets.set(orderId, ticket);
  }
  render();
  return ticket;
}

function fillStations(stations) {
  const select = el("station");
  const known = new Set([...select.options].map((o) => o.value));
  for (const station of stations) {
    if (!known.has(station)) select.add(new Option(station, station), select.options.length - 1);
  }
  const choices = [...stations, UNROUTED, EXPO];
  select.value = choices.includes(state.station) ? state.station : "";
  state.station = select.value;
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
    announce(state);
    if (state.lastEventId !== null) {
      // Back after a drop: everything missed comes first, then live events.
      socket.send(JSON.stringify({ type: "resume", lastEventId: state.lastEventId }));
      setLive(true);
    } else {
      enqueue(async () => {
        state.lastEventId = message.lastEventId;
        await loadBoard();
        acknowledgeWhenDrawn(state, state.lastEventId);
        setLive(true);
      });
    }
  } else if (message.type === "screen") {
    named(state, message);
    if (state.drawnEventId !== null) acknowledgeWhenDrawn(state, state.drawnEventId);
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

const findItem = (ticket, itemId) => ticket && ticket.items.find((i) => i.id === itemId);

// How each event changes the board. Events the board knows no ticket for fetch it.
const ON_EVENT = {
  async "order.new"(data) {
    const ticket = await refreshTicket(data.orderId, true);
    if (ticket && shown(ticket.items)) sound.play(ticket.priority === "RUSH" ? "rush" : "newTicket");
  },
  async "order.items.added"(data) {
    const ticket = await refreshTicket(data.orderId, true);
    if (ticket && shown(data.items)) sound.play("addOn");
  },
  async "order.item.status.changed"(data, ticket) {
    const item = findItem(ticket, data.itemId);
    if (!item) return refreshTicket(data.orderId);
    if (data.newStatus === "CANCELLED") {
      // A void: its reason comes with the ticket.
      if (shown([item])) sound.play("void");
      return refreshTicket(data.orderId);
    }
    item.status = data.newStatus;
    item.updatedAt = data.updatedAt;
    render();
  },
  async "order.status.changed"(data, ticket) {
    if (ACTIVE.has(data.newStatus)) {
      if (!ticket) return refreshTicket(data.orderId);
      ticket.status = data.newStatus;
    } else if (data.newStatus === "CANCELLED" && ticket) {
      // Voided: keep it on screen, struck through, long enough for the line to notice.
      if (ticket.status !== "CANCELLED" && shown(ticket.items)) sound.play("void");
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
  },
  async "order.course.fired"(data, ticket) {
    if (!ticket) return refreshTicket(data.orderId);
    const fired = data.itemIds.map((id) => findItem(ticket, id)).filter(Boolean);
    if (fired.length < data.itemIds.length) return refreshTicket(data.orderId, true);
    for (const item of fired) item.firedAt = data.firedAt;
    if (shown(fired)) sound.play("newTicket");
    ticket.flashedAt = Date.now();
    render();
  },
  async "order.priority.changed"(data, ticket) {
    if (!ticket) return refreshTicket(data.orderId);
    ticket.priority = data.priority;
    if (data.priority === "RUSH" && shown(ticket.items)) sound.play("rush");
    render();
  },
  async "order.item.allergy.acknowledged"(data, ticket) {
    const item = findItem(ticket, data.itemId);
    if (!item) return refreshTicket(data.orderId);
    item.allergyAcknowledgedAt = data.acknowledgedAt;
    item.allergyAcknowledgedBy = data.acknowledgedBy;
    render();
  },
  async "screen.status.changed"() {
    // Another screen came or went: which stations nobody sees now.
    const board = await api("GET", "/kitchen/board");
    state.stationsDown = board.stationsDown || [];
    render();
  },
  async "menu.item.availability.changed"(data) {
    if (!applyAvailability(state, data)) await loadMenu(state);
    render();
  },
};

async function applyEvent(message) {
  if (state.lastEventId !== null && Number(message.id) <= Number(state.lastEventId)) return;
  state.lastEventId = message.id;
  const handler = ON_EVENT[message.event];
  if (handler) await handler(message.data, state.tickets.get(message.data.orderId));
  // Drawn (every handler renders what it changed): acknowledged after the paint.
  acknowledgeWhenDrawn(state, message.id);
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

// A tap that changes a ticket: the request, then the ticket as the server has it (the event
// brings it to the other screens).
async function changeTicket(orderId, request) {
  if ((await attempt(request)) !== null) enqueue(() => refreshTicket(orderId));
}

const actions = {
  fire: (orderId, course) => changeTicket(orderId, () => api("POST", `/orders/${orderId}/fire`, { course })),
  acknowledge: (orderId, itemId) =>
    changeTicket(orderId, () => api("POST", `/orders/${orderId}/items/${itemId}/acknowledge-allergy`)),
  priority: (orderId, priority) => changeTicket(orderId, () => api("POST", `/orders/${orderId}/priority`, { priority })),
  async call(orderId) {
    if ((await attempt(() => api("POST", `/orders/${orderId}/call`))) !== null) toast("Called for pickup");
  },

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

// --- start ---------------------------------------------------------------------------------

textSize.apply(textSize.current());
el("text-smaller").addEventListener("click", () => (textSize.change(-1), renderOffScreen()));
el("text-larger").addEventListener("click", () => (textSize.change(+1), renderOffScreen()));
el("station").addEventListener("change", (event) => {
  state.station = event.target.value;
  localStorage.setItem("kitchen.station", state.station);
  document.body.classList.toggle("expo", state.station === EXPO);
  announce(state);
  render();
});
el("screen-name").value = screenName();
el("screen-name").addEventListener("change", (event) => rename(state, event.target.value));
document.body.classList.toggle("expo", state.station === EXPO);
el("sound").addEventListener("click", () => sound.enable().then(() => (el("sound").textContent = "Sound on")));
el("recall").addEventListener("click", actions.recall);
function toggleMenuPanel() {
  const panel = el("menu-panel");
  panel.hidden = !panel.hidden;
  el("eighty-six-button").setAttribute("aria-expanded", String(!panel.hidden));
  renderMenuPanel(state, toast);
}
el("eighty-six-button").addEventListener("click", toggleMenuPanel);
el("menu-panel-close").addEventListener("click", toggleMenuPanel);
document.addEventListener("keydown", bumpBar(state, actions, render));
window.addEventListener("resize", renderOffScreen);
setInterval(() => renderAges(state), 1000);

// For operators and tests: drop the connection and stay away for `ms` (a Wi-Fi blip).
window.kitchenBoard = {
  state,
  soundsPlayed: sound.played,
  dropConnection(ms = 0) {
    state.holdReconnectUntil = Date.now() + ms;
    if (state.socket) state.socket.close();
  },
};

connect();
