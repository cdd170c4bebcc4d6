// Small helpers every module of the board uses.

export const UNROUTED = "__unrouted__"; // the station filter's value for items with no station

export const el = (id) => document.getElementById(id);

export function node(tag, className, text) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text !== undefined) n.textContent = text;
  return n;
}

// An item is on this screen when the screen shows every station, or the item's station
// (items with no station have their own "unrouted" choice, not every screen).
export function onStation(state, item) {
  if (!state.station) return true;
  if (state.station === UNROUTED) return !item.station;
  return item.station === state.station;
}
