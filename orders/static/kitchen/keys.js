// Bump bars send keys: ← → pick a ticket (1–9 jump), ↑ ↓ an item, Space advances it,
// Enter / B bumps, R recalls, F fires the next held course, A acknowledges an allergy,
// P toggles rush.

import { heldCourses, shownItems } from "./ticket.js";
import { visibleTickets } from "./view.js";

export function bumpBar(state, actions, render) {
  return function onKey(event) {
    if (event.target.tagName === "SELECT" || event.target.tagName === "INPUT") return;
    const tickets = visibleTickets(state);
    const index = tickets.findIndex((t) => t.orderId === state.selected);
    const current = tickets[index];
    const items = current ? shownItems(state, current) : [];
    const item = items[state.selectedItem];
    const key = event.key;
    if (key === "ArrowRight" || key === "ArrowLeft") {
      const step = key === "ArrowRight" ? 1 : -1;
      const next = tickets[Math.min(tickets.length - 1, Math.max(0, index + step))];
      if (next) {
        state.selected = next.orderId;
        state.selectedItem = 0;
      }
    } else if (key === "ArrowDown" || key === "ArrowUp") {
      const step = key === "ArrowDown" ? 1 : -1;
      state.selectedItem = Math.min(items.length - 1, Math.max(0, state.selectedItem + step));
    } else if (key === " ") {
      if (item) actions.advance(current.orderId, item.id);
    } else if (key === "f" || key === "F") {
      // The lowest held course this screen shows items of.
      const course = heldCourses(items)[0];
      if (course) actions.fire(current.orderId, course);
    } else if (key === "a" || key === "A") {
      // The selected item's allergy, else the ticket's first one not yet acknowledged.
      const pending = (i) => i && (i.allergies || []).length && !i.allergyAcknowledgedAt;
      const target = pending(item) ? item : items.find(pending);
      if (target) actions.acknowledge(current.orderId, target.id);
    } else if (key === "p" || key === "P") {
      if (current) actions.priority(current.orderId, current.priority === "RUSH" ? "NORMAL" : "RUSH");
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
  };
}
