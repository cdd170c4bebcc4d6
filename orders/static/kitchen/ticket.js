// One ticket card: head (number, table, waiter, age, priority), then its items by course,
// each with its modifiers, allergies, add-on / void / 86 marks. Taps call `actions`.

import { button, EXPO, node, onStation, UNROUTED } from "./common.js";
import { availabilityLabel } from "./menu.js";

const FLASH_MS = 4000; // board.css: .ticket.new, four one-second flashes
const STATUS_LABEL = { PENDING: "NEW", IN_PROGRESS: "COOKING", READY: "READY", SERVED: "SERVED", CANCELLED: "VOID" };

// The ticket number the floor calls out; for an order confirmed before orders were
// numbered, the id's first characters (what the admin shows).
export function ticketNumber(ticket) {
  return ticket.number != null ? "#" + ticket.number : ticket.orderId.slice(0, 8);
}

// firedAt is null while the course is held (a ticket without the key predates courses: fired).
const held = (item) => item.status !== "CANCELLED" && item.firedAt === null;
const allergyPending = (item) => (item.allergies || []).length > 0 && !item.allergyAcknowledgedAt;
const isAddOn = (ticket, item) => ticket.confirmedAt && Date.parse(item.createdAt) > Date.parse(ticket.confirmedAt);

// The items this screen shows, in the order it shows them: by course, then routed before
// unrouted (which, on an all-stations screen, sit under their own heading).
export function shownItems(state, ticket) {
  return ticket.items
    .filter((item) => onStation(state, item))
    .map((item, index) => ({ item, index }))
    .sort((a, b) => (a.item.course || 1) - (b.item.course || 1) || !a.item.station - !b.item.station || a.index - b.index)
    .map(({ item }) => item);
}

// The held courses among `items`, lowest first.
export function heldCourses(items) {
  return [...new Set(items.filter(held).map((item) => item.course || 1))].sort((a, b) => a - b);
}

function head(ticket, actions) {
  const top = node("header", "ticket-head");
  top.append(node("span", "number", ticketNumber(ticket)), node("span", "table", "Table " + ticket.tableName), node("span", "age", ""));
  const meta = node("div", "ticket-meta");
  meta.append(node("span", "waiter", ticket.waiterName || ""));
  const rush = ticket.priority === "RUSH";
  if (rush) meta.append(node("span", "priority", "RUSH"));
  meta.append(button("rush-toggle", rush ? "Normal" : "Rush", "Priority (P)", () => actions.priority(ticket.orderId, rush ? "NORMAL" : "RUSH")));
  return [top, meta];
}

function allergyLine(ticket, item, actions) {
  const line = node("div", "allergy");
  const conflicts = new Set(item.allergenConflicts || []);
  line.append(node("span", "allergy-label", "⚠ Allergy:"));
  for (const code of item.allergies) line.append(node("span", conflicts.has(code) ? "allergen conflict" : "allergen", code));
  if (conflicts.size) line.append(node("span", "conflict-note", "IN DISH"));
  if (allergyPending(item)) {
    line.append(button("acknowledge", "Acknowledge ✓", "Acknowledge the allergy (A)", () => actions.acknowledge(ticket.orderId, item.id)));
  } else {
    line.append(node("span", "acknowledged", "✓ read"));
  }
  return line;
}

function availabilityBadge(state, item) {
  const dish = item.menuItemId && state.menu.get(item.menuItemId);
  const label = dish && item.status === "PENDING" && availabilityLabel(dish);
  return label ? node("span", "badge " + (dish.available ? "countdown" : "eighty-six"), label) : null;
}

function itemRow(state, ticket, item, selected, actions) {
  const row = node("li", "item " + item.status);
  row.dataset.item = item.id;
  if (held(item)) row.classList.add("held");
  if (allergyPending(item)) row.classList.add("allergy-pending");
  if ((item.allergenConflicts || []).length) row.classList.add("allergy-conflict");
  if (isAddOn(ticket, item)) row.classList.add("add-on");
  if (selected) row.classList.add("selected");
  const body = node("div", "body");
  const line = node("div", "line");
  line.append(node("span", "qty", item.qty + "×"), node("span", "name", item.name));
  if (item.seat) line.append(node("span", "badge seat", "S" + item.seat));
  if (isAddOn(ticket, item)) line.append(node("span", "badge add-on-badge", "ADD-ON"));
  const badge = availabilityBadge(state, item);
  if (badge) line.append(badge);
  line.append(node("span", "state", held(item) ? "HELD" : STATUS_LABEL[item.status] || item.status));
  body.append(line);
  if ((item.modifiers || []).length) {
    const mods = node("ul", "modifiers");
    for (const modifier of item.modifiers) mods.append(node("li", "modifier", modifier.name));
    body.append(mods);
  }
  if (item.notes) body.append(node("div", "notes", item.notes));
  if ((item.allergies || []).length) body.append(allergyLine(ticket, item, actions));
  if (item.status === "CANCELLED" && item.voidReason) body.append(node("div", "void-reason", "Void: " + item.voidReason));
  row.append(body);
  row.addEventListener("click", () => actions.advance(ticket.orderId, item.id));
  return row;
}

function courseHeading(ticket, course, isHeld, actions) {
  const heading = node("li", "course-heading" + (isHeld ? " held" : ""));
  heading.dataset.course = course;
  heading.append(node("span", "course-name", `Course ${course}` + (isHeld ? " · held" : "")));
  if (isHeld) heading.append(button("fire", `Fire ${course} ▶`, "Fire the next held course (F)", () => actions.fire(ticket.orderId, course)));
  return heading;
}

// Expo: how far each station is with this ticket (ready or served of its live, fired items).
function stationProgress(ticket) {
  const byStation = new Map();
  for (const item of ticket.items) {
    if (item.status === "CANCELLED" || held(item)) continue;
    const station = item.station || "unrouted";
    const [done, all] = byStation.get(station) || [0, 0];
    byStation.set(station, [done + (item.status === "READY" || item.status === "SERVED" ? 1 : 0), all + 1]);
  }
  const row = node("ul", "station-progress");
  for (const [station, [done, all]] of [...byStation.entries()].sort()) {
    const chip = node("li", "progress" + (done === all ? " done" : ""), `${station} ${done}/${all}`);
    chip.dataset.station = station;
    row.append(chip);
  }
  return row;
}

export function ticketCard(state, ticket, actions) {
  const card = node("section", "ticket");
  card.dataset.order = ticket.orderId;
  card.tabIndex = 0;
  const isSelected = ticket.orderId === state.selected;
  card.classList.toggle("selected", isSelected);
  card.classList.toggle("cancelled", ticket.status === "CANCELLED");
  card.classList.toggle("rush", ticket.priority === "RUSH");
  const sinceFlash = Date.now() - (ticket.flashedAt || 0);
  if (sinceFlash < FLASH_MS) {
    // Cards are redrawn on every change: carry on the flash where it was, not from the start.
    card.classList.add("new");
    card.style.animationDelay = -sinceFlash + "ms";
  }
  card.append(...head(ticket, actions));
  if (ticket.notes) card.append(node("p", "ticket-notes", ticket.notes));

  const items = shownItems(state, ticket);
  const courses = new Set(items.map((item) => item.course || 1));
  const heldNow = new Set(heldCourses(items));
  const withHeadings = courses.size > 1 || heldNow.size > 0;
  const list = node("ul", "items");
  let course = null;
  let unroutedShown = false;
  items.forEach((item, index) => {
    if (withHeadings && (item.course || 1) !== course) {
      course = item.course || 1;
      unroutedShown = false;
      list.append(courseHeading(ticket, course, heldNow.has(course), actions));
    }
    if (!item.station && state.stations.length && state.station !== UNROUTED && !unroutedShown) {
      unroutedShown = true;
      list.append(node("li", "unrouted-heading", "Unrouted"));
    }
    list.append(itemRow(state, ticket, item, isSelected && index === state.selectedItem, actions));
  });
  card.append(list);

  const buttons = node("div", "ticket-actions");
  if (state.station === EXPO) {
    card.insertBefore(stationProgress(ticket), list);
    if (ticket.status === "READY") {
      buttons.append(button("call", "Call ▶", "Call the order for pickup: the waiter's POS hears it", () => actions.call(ticket.orderId)));
    }
  }
  buttons.append(button("bump", "Bump ✓", "Bump the ticket (Enter / B)", () => actions.bump(ticket.orderId)));
  card.append(buttons);
  card.addEventListener("focus", () => {
    if (state.selected !== ticket.orderId) {
      state.selected = ticket.orderId;
      state.selectedItem = 0;
    }
  });
  return card;
}
