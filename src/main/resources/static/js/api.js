// Calls to the Kaze API from the page: the API key kept in localStorage goes out as
// "Authorization: Bearer"; a WebSocket, an <img> or a <video> cannot send headers, so they carry it
// as ?access_token= (ApiKeyFilter accepts it on every /v1 path).
const KEY = 'kaze.apiKey';

export function apiKey() { return localStorage.getItem(KEY) || ''; }
export function setApiKey(key) { key ? localStorage.setItem(KEY, key) : localStorage.removeItem(KEY); }

/** An RFC 9457 problem (or any failed call) as an Error with the problem beside it. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem && (problem.detail || problem.title) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  get type() { return this.problem.type || ''; }
}

export async function call(path, { method = 'GET', json, form } = {}) {
  const headers = {};
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let body;
  if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
  else if (form) body = form;
  const r = await fetch(path, { method, headers, body });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

/** A URL of this server with the key as ?access_token= (for media elements and links). */
export function withKey(path, extra = {}) {
  const u = new URL(path, location.href);
  for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
  const key = apiKey();
  if (key) u.searchParams.set('access_token', key);
  return u.pathname + u.search;
}

/**
 * Follows a job's event log over WebSocket, resuming after the last seen seq when the connection
 * drops; onEvent gets each parsed frame. Returns a function that stops following.
 */
export function follow(eventsPath, onEvent, onEnd) {
  let after = 0, stopped = false, socket = null, retries = 0;
  const open = () => {
    const u = new URL(withKey(eventsPath, { after: String(after) }), location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(u);
    socket.onmessage = (m) => {
      retries = 0;
      const e = JSON.parse(m.data);
      if (e.seq > after) { after = e.seq; onEvent(e); }
    };
    socket.onclose = (c) => {
      if (stopped) return;
      if (c.code === 1000 || c.code === 4404 || c.code === 1008 || retries > 5) { stopped = true; onEnd && onEnd(c); return; }
      retries++;
      setTimeout(open, 500 * retries);
    };
  };
  open();
  return () => { stopped = true; if (socket) socket.close(1000); };
}
