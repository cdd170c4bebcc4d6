// The menu as the kitchen controls it: "86" a dish (off the menu), or count its portions
// down. Every screen follows menu.item.availability.changed.

import { api } from "./api.js";
import { el, node } from "./common.js";

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
  const status = node("span", "dish-status", dish.available ? (dish.remaining != null ? dish.remaining + " left" : "on") : "86");
  const change = (body) => setAvailability(state, dish, body, onError).then(redraw);
  const toggle = node("button", "toggle-86", dish.available ? "86 it" : "Back on");
  toggle.type = "button";
  toggle.addEventListener("click", () => change(dish.available ? { available: false } : { available: true, remaining: null }));
  const count = node("input", "count");
  count.type = "number";
  count.min = "0";
  count.placeholder = "left";
  count.setAttribute("aria-label", "Portions left of " + dish.name);
  const setCount = node("button", "set-count", "Count");
  setCount.type = "button";
  setCount.addEventListener("click", () => {
    if (count.value !== "") change({ available: Number(count.value) > 0, remaining: Number(count.value) });
  });
  row.append(label, status, toggle, count, setCount);
  if (dish.remaining != null) {
    const stop = node("button", "stop-count", "No count");
    stop.type = "button";
    stop.addEventListener("click", () => change({ available: dish.available, remaining: null }));
    row.append(stop);
  }
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
