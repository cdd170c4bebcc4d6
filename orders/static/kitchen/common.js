// Small helpers every module of the board uses.

export const UNROUTED = "__unrouted__"; // the station filter's value for items with no station
export const EXPO = "__expo__"; // expo: every station, each ticket's progress per station

export const el = (id) => document.getElementById(id);

export function node(tag, className, text) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text !== undefined) n.textContent = text;
  return n;
}

// A tap target inside a tappable row: the tap is the button's only.
export function button(className, text, title, onTap) {
  const b = node("button", className, text);
  b.type = "button";
  if (title) b.title = title;
  b.addEventListener("click", (event) => {
    event.stopPropagation();
    onTap();
  });
  return b;
}

// An item is on this screen when the screen shows every station, or the item's station
// (items with no station have their own "unrouted" choice, not every screen).
export function onStation(state, item) {
  if (!state.station || state.station === EXPO) return true;
  if (state.station === UNROUTED) return !item.station;
  return item.station === state.station;
}
