/** GET a JSON document; rejects with `{status, body}` on any non-2xx answer. */
export function getJson(path) {
  return sendJson('GET', path);
}

/** Sends `body` as JSON (when given) and parses the JSON answer; rejects with `{status, body}` on any non-2xx. */
export async function sendJson(method, path, body) {
  const init = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok)
    throw Object.assign(new Error(answer.message ?? `HTTP ${response.status}`), {
      status: response.status,
      body: answer,
    });
  return answer;
}

/** Creates an element with text and attributes. */
export function el(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}
