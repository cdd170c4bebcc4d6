// Drawing the board: tickets, their ages, the all-day counts. Sizes are in em of the ticket
// text, which each screen sets for itself (textsize.js).

const OPEN_ITEM = new Set(["PENDING", "IN_PROGRESS"]);
const STATUS_LABEL = { PENDING: "NEW", IN_PROGRESS: "COOKING", READY: "READY", SERVED: "SERVED", CANCELLED: "VOID" };

export const el = (id) => document.getElementById(id);

export function node(tag, className, text) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text !== undefined) n.textContent = text;
  return n;
}

// The ticket number the floor calls out; before orders had one, the id's first characters
// (what the admin shows).
export function ticketNumber(ticket) {
  return ticket.number != null ? "#" + ticket.number : ticket.orderId.slice(0, 8);
}

export function onStation(state, item) {
  return !state.station || !item.station || item.station === state.station;
}

export function visibleTickets(state) {
  return [...state.tickets.values()]
    .filter((t) => t.items.some((item) => onStation(state, item)))
    .sort((a, b) => Date.parse(a.confirmedAt || a.createdAt) - Date.parse(b.confirmedAt || b.createdAt));
}

function formatAge(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
}

function ticketHead(ticket) {
  const head = node("header", "ticket-head");
  head.append(
    node("span", "number", ticketNumber(ticket)),
    node("span", "table", "Table " + ticket.tableName),
    node("span", "age", "")
  );
  const meta = node("div", "ticket-meta");
  if (ticket.waiterName) meta.append(node("span", "waiter", ticket.waiterName));
  return [head, meta];
}

function itemRow(state, ticket, item, index, actions) {
  const row = node("li", "item " + item.status);
  row.dataset.item = item.id;
  if (!onStation(state, item)) row.classList.add("hidden-station");
  if (ticket.orderId === state.selected && index === state.selectedItem) row.classList.add("selected");
  const name = node("span", "name", item.name);
  if (item.notes) name.append(node("span", "notes", item.notes));
  row.append(node("span", "qty", item.qty + "×"), name, node("span", "state", STATUS_LABEL[item.status] || item.status));
  row.addEventListener("click", () => actions.advance(ticket.orderId, item.id));
  return row;
}

function ticketCard(state, ticket, actions) {
  const card = node("section", "ticket");
  card.dataset.order = ticket.orderId;
  card.tabIndex = 0;
  if (ticket.orderId === state.selected) card.classList.add("selected");
  if (ticket.status === "CANCELLED") card.classList.add("cancelled");
  if (ticket.newUntil && ticket.newUntil > Date.now()) card.classList.add("new");
  card.append(...ticketHead(ticket));
  if (ticket.notes) card.append(node("p", "ticket-notes", ticket.notes));
  const list = node("ul", "items");
  ticket.items.forEach((item, index) => list.append(itemRow(state, ticket, item, index, actions)));
  card.append(list);
  const bump = node("button", "bump", "Bump ✓");
  bump.type = "button";
  bump.addEventListener("click", () => actions.bump(ticket.orderId));
  const buttons = node("div", "ticket-actions");
  buttons.append(bump);
  card.append(buttons);
  card.addEventListener("focus", () => {
    if (state.selected !== ticket.orderId) {
      state.selected = ticket.orderId;
      state.selectedItem = 0;
    }
  });
  return card;
}

export function render(state, actions) {
  const container = el("tickets");
  const tickets = visibleTickets(state);
  if (!tickets.some((t) => t.orderId === state.selected)) state.selected = tickets.length ? tickets[0].orderId : null;
  container.replaceChildren(...tickets.map((ticket) => ticketCard(state, ticket, actions)));
  if (!tickets.length) container.append(node("p", "empty", "No open tickets"));
  renderAges(state);
  renderAllDay(state, tickets);
  renderOffScreen();
}

export function renderAges(state) {
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

function renderAllDay(state, tickets) {
  const counts = new Map();
  for (const ticket of tickets) {
    if (ticket.status === "CANCELLED") continue;
    for (const item of ticket.items) {
      if (OPEN_ITEM.has(item.status) && onStation(state, item)) {
        counts.set(item.name, (counts.get(item.name) || 0) + item.qty);
      }
    }
  }
  el("all-day").replaceChildren(
    ...[...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([name, qty]) => {
        const row = node("li");
        row.append(node("strong", "count", String(qty)), node("span", "dish", name));
        return row;
      })
  );
}

// Tickets pushed past the right edge: say how many, so nobody forgets them.
export function renderOffScreen() {
  const container = el("tickets");
  const edge = container.getBoundingClientRect().right;
  const hidden = [...container.querySelectorAll(".ticket")].filter((card) => card.getBoundingClientRect().right > edge + 1);
  const more = el("more");
  more.hidden = hidden.length === 0;
  more.textContent = `+${hidden.length} more →`;
}
