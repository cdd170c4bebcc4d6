// This display as a kitchen screen (realtime.screens): it names itself and its station on
// the socket, and proves delivery by acknowledging an event only once the board has drawn
// what it changed: after the next paint, not on receipt. A hidden tab paints nothing, so it
// acknowledges nothing and shows as behind, which is the truth.
import { EXPO, UNROUTED } from "./common.js";
import { setScreen } from "./api.js";

export { EXPO };

const NAME_KEY = "kitchen.screenName";

export function screenName() {
  let name = localStorage.getItem(NAME_KEY);
  if (!name) {
    name = "Screen " + Math.random().toString(36).slice(2, 6).toUpperCase();
    localStorage.setItem(NAME_KEY, name);
  }
  return name;
}

export function rename(state, name) {
  if (!name.trim()) return;
  localStorage.setItem(NAME_KEY, name.trim());
  announce(state);
}

const stationOf = (state) => (state.station === UNROUTED || state.station === EXPO ? "" : state.station);

function send(state, message) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(message));
}

export function announce(state) {
  send(state, { type: "screen", name: screenName(), station: stationOf(state) });
}

// The server's answer to `announce`: REST calls name the screen from now on (history).
export function named(state, message) {
  state.screenId = message.screenId;
  setScreen(message.screenId);
}

// Resolves after the browser has painted: the first frame callback runs before the paint
// of the frame that shows the change, the second after it.
const painted = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));

// Acknowledge `eventId` once what it changed is on screen; bursts are acknowledged once.
export function acknowledgeWhenDrawn(state, eventId) {
  state.drawnEventId = eventId;
  if (state.ackPending) return;
  state.ackPending = true;
  painted().then(() => {
    state.ackPending = false;
    if (state.screenId && state.drawnEventId !== null) {
      send(state, { type: "ack", lastEventId: state.drawnEventId });
      state.ackedEventId = state.drawnEventId;
    }
  });
}
