import { connect } from 'node:net';

export interface RawExchange {
  status: number;
  /** The status line and header lines as received. */
  head: string;
  body: string;
}

/**
 * Sends `request` byte for byte to `url`'s host and port (no client normalises anything: a
 * missing Host, a bad header, HTTP/1.0, TRACE) and reads the answer until the server closes or
 * has sent a whole answer with a Content-Length, within `timeoutMs`.
 */
export function rawExchange(url: string, request: string | Buffer, timeoutMs = 5000): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    const complete = () => {
      const received = Buffer.concat(chunks);
      const split = received.indexOf('\r\n\r\n');
      if (split < 0) return false;
      const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(received.subarray(0, split).toString('latin1'))?.[1];
      return length !== undefined && received.length - split - 4 >= Number(length);
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // A whole answer with a length is enough: nginx may linger before it closes.
      if (complete()) socket.destroy();
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      let body = split < 0 ? '' : text.slice(split + 4);
      if (/\r\ntransfer-encoding: chunked/i.test(head)) body = unchunk(body);
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0), head, body });
    });
    socket.write(request);
  });
}

function unchunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const line = rest.indexOf('\r\n');
    if (line < 0) return out;
    const size = parseInt(rest.slice(0, line), 16);
    if (!size) return out;
    out += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 2 + size + 2);
  }
}

/** The header `name` of a raw head (first occurrence), lower-cased name match. */
export function headerOf(head: string, name: string): string | undefined {
  const match = new RegExp(`\\r\\n${name}:[ \\t]*([^\\r\\n]*)`, 'i').exec(head);
  return match?.[1];
}
