// Drawing the board: tickets, their ages, the all-day and 86 strip. Sizes are in em of the
// ticket text, which each screen sets for itself (textsize.js).

import { el, node, onStation } from "./common.js";
import { availabilityLabel } from "./menu.js";
import { ticketCard } from "./ticket.js";

const OPEN_ITEM = new Set(["PENDING", "IN_PROGRESS"]);

// Rush tickets first, then oldest first.
export function visibleTickets(state) {
  const rank = (t) => (t.priority === "RUSH" ? 0 : 1);
  const sentAt = (t) => Date.parse(t.confirmedAt || t.createdAt);
  return [...state.tickets.values()]
    .filter((t) => t.items.some((item) => onStation(state, item)))
    .sort((a, b) => rank(a) - rank(b) || sentAt(a) - sentAt(b));
}

function formatAge(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
}

export function render(state, actions) {
  const container = el("tickets");
  const tickets = visibleTickets(state);
  if (!tickets.some((t) => t.orderId === state.selected)) state.selected = tickets.length ? tickets[0].orderId : null;
  container.replaceChildren(...tickets.map((ticket) => ticketCard(state, ticket, actions)));
  if (!tickets.length) container.append(node("p", "empty", "No open tickets"));
  renderAges(state);
  renderStationsDown(state);
  renderAllDay(state, tickets);
  renderEightySix(state);
  renderOffScreen();
}

// Stations with open tickets that no screen shows (every one of theirs offline).
function renderStationsDown(state) {
  const banner = el("stations-down");
  const down = state.stationsDown || [];
  banner.hidden = down.length === 0;
  banner.textContent = down.length ? `⚠ No screen online for ${down.join(", ")}: open tickets are not being seen` : "";
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
      if (OPEN_ITEM.has(item.status) && item.firedAt !== null && onStation(state, item)) {
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

// Live 86 and countdown badges: every dish off the menu or counted down, on every screen.
export function renderEightySix(state) {
  const dishes = [...state.menu.values()]
    .filter((dish) => !dish.available || dish.remaining != null)
    .sort((a, b) => a.available - b.available || a.name.localeCompare(b.name));
  el("eighty-six").replaceChildren(
    ...dishes.map((dish) => {
      const row = node("li", dish.available ? "countdown" : "eighty-sixed");
      row.dataset.menuItem = dish.id;
      row.append(node("span", "dish", dish.name), node("strong", "badge", availabilityLabel(dish)));
      return row;
    })
  );
  el("eighty-six-strip").hidden = dishes.length === 0;
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
