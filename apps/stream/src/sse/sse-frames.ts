/**
 * Server-Sent Events framing (https://html.spec.whatwg.org/multipage/server-sent-events.html).
 * Field values are sanitised as Nest's own SSE stream does: a line break inside `event` or `id`
 * would end the field early, and inside `data` it starts a new `data:` line.
 */
export interface SseEvent {
  event?: string;
  id?: string | number;
  data?: string;
  retry?: number;
}

const LINE_BREAK = /\r\n|\r|\n/;

function field(value: string | number): string {
  return String(value).replace(/[\r\n]/g, '');
}

export function encodeEvent({ event, id, data, retry }: SseEvent): Buffer {
  let text = '';
  if (retry !== undefined) text += `retry: ${Math.max(0, Math.floor(retry))}\n`;
  if (id !== undefined) text += `id: ${field(id)}\n`;
  if (event !== undefined) text += `event: ${field(event)}\n`;
  if (data !== undefined) for (const line of data.split(LINE_BREAK)) text += `data: ${line}\n`;
  return Buffer.from(`${text}\n`, 'utf8');
}

/** A comment line: ignored by EventSource, keeps proxies and idle timeouts from closing the stream. */
export function encodeComment(text: string): Buffer {
  return Buffer.from(`: ${field(text)}\n\n`, 'utf8');
}
