// Text size of this screen (a wall screen far away wants it bigger), kept in its localStorage.

const KEY = "kitchen.textSize";
const MIN = 20;
const MAX = 56;
const STEP = 2;

function defaultSize() {
  return window.innerWidth >= 1600 ? 30 : 28;
}

export function current() {
  const stored = Number(localStorage.getItem(KEY));
  return stored >= MIN && stored <= MAX ? stored : defaultSize();
}

export function apply(size) {
  document.documentElement.style.setProperty("--text-size", size + "px");
  const label = document.getElementById("text-size");
  if (label) label.textContent = size + " px";
}

export function change(direction) {
  const size = Math.min(MAX, Math.max(MIN, current() + direction * STEP));
  localStorage.setItem(KEY, String(size));
  apply(size);
  return size;
}
