// The REST API, as the signed-in kitchen user (session cookie + CSRF token).

const csrf = document.body.dataset.csrf;
const LOGIN = "/kitchen/login/?next=/kitchen/";
let screenId = null; // this display's kitchen screen: the history names it (X-Kitchen-Screen)

export function setScreen(id) {
  screenId = id;
}

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export async function api(method, path, payload) {
  const headers = { Accept: "application/json", "X-CSRFToken": csrf };
  if (payload !== undefined) headers["Content-Type"] = "application/json";
  if (screenId) headers["X-Kitchen-Screen"] = screenId;
  const response = await fetch("/api/v1" + path, {
    method,
    credentials: "same-origin",
    headers,
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  if (response.status === 401) {
    signIn();
    throw new ApiError("Signed out", 401);
  }
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new ApiError((body && body.detail) || response.statusText, response.status);
  return body;
}

export function signIn() {
  location.href = LOGIN;
}
