// Kitchen display: a live board of tickets over /ws/events/, actions over the REST API.
(() => {
  "use strict";

  const NEXT = { PENDING: "IN_PROGRESS", IN_PROGRESS: "READY" };
  const ACTIVE = new Set(["CONFIRMED", "IN_PROGRESS", "READY"]);
  const OPEN_ITEM = new Set(["PENDING", "IN_PROGRESS"]);
  const CANCELLED_TICKET_LINGER_MS = 60000;

  const csrf = document.body.dataset.csrf;
  const el = (id) => document.getElementById(id);
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
    audio: null,
  };

  // --- REST -------------------------------------------------------------------------------

  async function api(method, path) {
    const response = await fetch("/api/v1" + path, {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
    });
    if (response.status === 401) {
      location.href = "/kitchen/login/?next=/kitchen/";
      throw new Error("Signed out");
    }
    const body = response.status === 204 ? null : await response.json();
    if (!response.ok) {
      const error = new Error((body && body.detail) || response.statusText);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  async function loadBoard() {
    const board = await api("GET", "/kitchen/board");
    state.clockOffset = Date.parse(board.serverTime) - Date.now();
    state.amber = board.amberAfterMinutes;
    state.red = board.redAfterMinutes;
    fillStations(board.stations);
    state.tickets = new Map(board.tickets.map((t) => [t.orderId, t]));
    render();
  }

  async function refreshTicket(orderId, isNew) {
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
      if (isNew) {
        ticket.newUntil = Date.now() + 5000;
        chime();
      }
      state.tickets.set(orderId, ticket);
    }
    render();
  }

  // --- WebSocket -------------------------------------------------------------------------

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
      if (close.code === 4401) {
        location.href = "/kitchen/login/?next=/kitchen/";
        return;
      }
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
      await refreshTicket(data.orderId, true);
    } else if (message.event === "order.item.status.changed") {
      const item = ticket && ticket.items.find((i) => i.id === data.itemId);
      if (!item) return refreshTicket(data.orderId, false);
      item.status = data.newStatus;
      item.updatedAt = data.updatedAt;
      render();
    } else if (message.event === "order.status.changed") {
      if (ACTIVE.has(data.newStatus)) {
        if (!ticket) return refreshTicket(data.orderId, false);
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

  // --- actions -----------------------------------------------------------------------------

  function toast(text) {
    const box = el("toast");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (box.hidden = true), 4000);
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

  async function advanceItem(orderId, itemId) {
    const ticket = state.tickets.get(orderId);
    const item = ticket && ticket.items.find((i) => i.id === itemId);
    if (!item || !NEXT[item.status]) return;
    try {
      const fresh = await postJson(`/orders/${orderId}/items/${itemId}/status`, {
        status: NEXT[item.status],
        expectedStatus: item.status,
      });
      item.status = fresh.status;
      render();
    } catch (error) {
      toast(error.message);
    }
  }

  async function bump(orderId) {
    if (!orderId) return;
    try {
      applyItems(await api("POST", `/orders/${orderId}/bump`));
      state.lastBumped = orderId;
      el("recall").disabled = false;
    } catch (error) {
      toast(error.message);
    }
  }

  async function recall() {
    if (!state.lastBumped) return;
    try {
      applyItems(await api("POST", `/orders/${state.lastBumped}/recall`));
      state.selected = state.lastBumped;
      state.lastBumped = null;
      el("recall").disabled = true;
      render();
    } catch (error) {
      toast(error.message);
    }
  }

  async function postJson(path, payload) {
    const response = await fetch("/api/v1" + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(payload),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.detail || response.statusText);
    return body;
  }

  // --- sound -------------------------------------------------------------------------------

  function enableSound() {
    state.audio = state.audio || new AudioContext();
    state.audio.resume();
    el("sound").textContent = "Sound on";
    chime();
  }

  function chime() {
    const audio = state.audio;
    if (!audio || audio.state !== "running") return;
    [0, 0.2].forEach((at) => {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.25, audio.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + at + 0.15);
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + at);
      tone.stop(audio.currentTime + at + 0.16);
    });
  }

  // --- rendering -------------------------------------------------------------------------

  function fillStations(stations) {
    const select = el("station");
    const known = new Set([...select.options].map((o) => o.value));
    for (const station of stations) {
      if (!known.has(station)) select.add(new Option(station, station));
    }
    select.value = stations.includes(state.station) ? state.station : "";
  }

  function onThisStation(item) {
    return !state.station || !item.station || item.station === state.station;
  }

  function visibleTickets() {
    return [...state.tickets.values()]
      .filter((t) => t.items.some(onThisStation))
      .sort((a, b) => Date.parse(a.confirmedAt || a.createdAt) - Date.parse(b.confirmedAt || b.createdAt));
  }

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function formatAge(ms) {
    const seconds = Math.max(0, Math.floor(ms / 1000));
    const minutes = Math.floor(seconds / 60);
    return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
  }

  function render() {
    const container = el("tickets");
    const tickets = visibleTickets();
    if (!tickets.some((t) => t.orderId === state.selected)) state.selected = tickets.length ? tickets[0].orderId : null;
    container.replaceChildren();
    if (!tickets.length) container.append(node("p", "empty", "No open tickets"));
    for (const ticket of tickets) {
      const card = node("section", "ticket");
      card.dataset.order = ticket.orderId;
      card.tabIndex = 0;
      if (ticket.orderId === state.selected) card.classList.add("selected");
      if (ticket.status === "CANCELLED") card.classList.add("cancelled");
      if (ticket.newUntil && ticket.newUntil > Date.now()) card.classList.add("new");
      const head = node("div", "ticket-head");
      head.append(node("span", "table", "Table " + ticket.tableName), node("span", "age", ""));
      card.append(head);
      if (ticket.notes) card.append(node("p", "ticket-notes", ticket.notes));
      const list = node("ul", "items");
      ticket.items.forEach((item, index) => {
        const row = node("li", "item " + item.status);
        row.dataset.item = item.id;
        if (!onThisStation(item)) row.classList.add("hidden-station");
        if (ticket.orderId === state.selected && index === state.selectedItem) row.classList.add("selected");
        const name = node("span", "name", item.name);
        if (item.notes) name.append(node("span", "notes", item.notes));
        row.append(node("span", "qty", item.qty + "×"), name, node("span", "state", item.status.replace("_", " ")));
        row.addEventListener("click", () => advanceItem(ticket.orderId, item.id));
        list.append(row);
      });
      card.append(list);
      const actions = node("div", "ticket-actions");
      const bumpButton = node("button", "bump", "Bump ✓");
      bumpButton.type = "button";
      bumpButton.addEventListener("click", () => bump(ticket.orderId));
      actions.append(bumpButton);
      card.append(actions);
      card.addEventListener("focus", () => {
        if (state.selected !== ticket.orderId) {
          state.selected = ticket.orderId;
          state.selectedItem = 0;
        }
      });
      container.append(card);
    }
    renderAges();
    renderAllDay(tickets);
  }

  function renderAges() {
    const now = Date.now() + state.clockOffset;
    for (const card of document.querySelectorAll(".ticket")) {
      const ticket = state.tickets.get(card.dataset.order);
      if (!ticket) continue;
      const age = now - Date.parse(ticket.confirmedAt || ticket.createdAt);
      card.querySelector(".age").textContent = formatAge(age);
      card.classList.toggle("red", age >= state.red * 60000);
      card.classList.toggle("amber", age >= state.amber * 60000 && age < state.red * 60000);
    }
  }

  function renderAllDay(tickets) {
    const counts = new Map();
    for (const ticket of tickets) {
      if (ticket.status === "CANCELLED") continue;
      for (const item of ticket.items) {
        if (OPEN_ITEM.has(item.status) && onThisStation(item)) {
          counts.set(item.name, (counts.get(item.name) || 0) + item.qty);
        }
      }
    }
    const list = el("all-day");
    list.replaceChildren(
      ...[...counts.entries()]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([name, qty]) => {
          const row = node("li");
          row.append(node("span", "dish", name), node("strong", "count", String(qty)));
          return row;
        })
    );
  }

  // --- keyboard (bump bars send keys) ------------------------------------------------------

  function onKey(event) {
    if (event.target.tagName === "SELECT" || event.target.tagName === "INPUT") return;
    const tickets = visibleTickets();
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
      if (current && current.items[state.selectedItem]) advanceItem(current.orderId, current.items[state.selectedItem].id);
    } else if (key === "Enter" || key === "b" || key === "B") {
      if (current) bump(current.orderId);
    } else if (key === "r" || key === "R") {
      recall();
    } else if (/^[1-9]$/.test(key) && tickets[Number(key) - 1]) {
      state.selected = tickets[Number(key) - 1].orderId;
      state.selectedItem = 0;
    } else {
      return;
    }
    event.preventDefault();
    render();
  }

  // --- start -------------------------------------------------------------------------------

  el("station").addEventListener("change", (event) => {
    state.station = event.target.value;
    localStorage.setItem("kitchen.station", state.station);
    render();
  });
  el("sound").addEventListener("click", enableSound);
  el("recall").addEventListener("click", recall);
  document.addEventListener("keydown", onKey);
  setInterval(renderAges, 1000);

  // For operators and tests: drop the connection and stay away for `ms` (a Wi-Fi blip).
  window.kitchenBoard = {
    state,
    dropConnection(ms = 0) {
      state.holdReconnectUntil = Date.now() + ms;
      if (state.socket) state.socket.close();
    },
  };

  connect();
})();
