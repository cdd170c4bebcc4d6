// The menu as the kitchen controls it: "86" a dish (off the menu), or count its portions
// down. Every screen follows menu.item.availability.changed.

import { api } from "./api.js";
import { button, el, node } from "./common.js";

export async function loadMenu(state) {
  const menu = new Map();
  let path = "/menu-items?active=true&pageSize=200";
  while (path) {
    const page = await api("GET", path);
    for (const dish of page.results) menu.set(dish.id, dish);
    const next = page.next && new URL(page.next, location.href);
    path = next ? next.pathname.replace(/^\/api\/v1/, "") + next.search : null;
  }
  state.menu = menu;
}

// "86", "86 until 18:30", "3 left", or null for a dish on the menu and not counted.
export function availabilityLabel(dish) {
  if (!dish.available) {
    if (!dish.availableAgainAt) return "86";
    const at = new Date(dish.availableAgainAt);
    return "86 until " + at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  return dish.remaining != null ? dish.remaining + " left" : null;
}

// The next time the screen's clock shows `hhmm` ("18:30"): today, or tomorrow if past.
function nextTimeOfDay(hhmm) {
  const [hours, minutes] = hhmm.split(":").map(Number);
  const at = new Date();
  at.setHours(hours, minutes, 0, 0);
  if (at <= new Date()) at.setDate(at.getDate() + 1);
  return at.toISOString();
}

export function applyAvailability(state, data) {
  const dish = state.menu.get(data.menuItemId);
  if (!dish) return false;
  Object.assign(dish, { available: data.available, remaining: data.remaining, availableAgainAt: data.availableAgainAt });
  return true;
}

async function setAvailability(state, dish, body, onError) {
  try {
    const fresh = await api("POST", `/menu-items/${dish.id}/availability`, body);
    state.menu.set(fresh.id, fresh);
  } catch (error) {
    onError(error.message);
  }
}

function dishRow(state, dish, redraw, onError) {
  const row = node("li", "dish-row" + (dish.available ? "" : " off"));
  row.dataset.menuItem = dish.id;
  const label = node("span", "dish-name", dish.name);
  if (dish.station) label.append(node("span", "dish-station", dish.station));
  const status = node("span", "dish-status", availabilityLabel(dish) || "on");
  const change = (body) => setAvailability(state, dish, body, onError).then(redraw);
  const until = node("input", "until");
  until.type = "time";
  until.title = "86 until (empty: until put back on)";
  until.setAttribute("aria-label", "86 " + dish.name + " until");
  const toggle = button("toggle-86", dish.available ? "86 it" : "Back on", null, () => {
    if (!dish.available) return change({ available: true, remaining: null });
    change({ available: false, availableAgainAt: until.value ? nextTimeOfDay(until.value) : null });
  });
  const count = node("input", "count");
  count.type = "number";
  count.min = "0";
  count.placeholder = "left";
  count.setAttribute("aria-label", "Portions left of " + dish.name);
  const setCount = button("set-count", "Count", null, () => {
    if (count.value !== "") change({ available: Number(count.value) > 0, remaining: Number(count.value) });
  });
  const controls = node("div", "dish-controls");
  controls.append(...(dish.available ? [node("span", "until-label", "until"), until] : []), toggle, count, setCount);
  if (dish.remaining != null) {
    controls.append(button("stop-count", "No count", null, () => change({ available: dish.available, remaining: null })));
  }
  row.append(label, status, controls);
  return row;
}

export function renderMenuPanel(state, onError) {
  const panel = el("menu-panel");
  // Not while someone types a count in it: the list redraws after their tap.
  if (panel.hidden || (panel.contains(document.activeElement) && document.activeElement.tagName === "INPUT")) return;
  const redraw = () => renderMenuPanel(state, onError);
  const dishes = [...state.menu.values()].sort((a, b) => (a.station || "~").localeCompare(b.station || "~") || a.name.localeCompare(b.name));
  el("menu-list").replaceChildren(...dishes.map((dish) => dishRow(state, dish, redraw, onError)));
}
