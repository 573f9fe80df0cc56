import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** What a live stream writes to and watches: its socket, or (where it cannot be taken) its response. */
export interface StreamOutput {
  readonly writableLength: number;
  readonly destroyed: boolean;
  write(chunk: Buffer, callback?: () => void): boolean;
  cork(): void;
  uncork(): void;
  end(): void;
  destroy(): void;
  on(event: 'error' | 'drain', listener: () => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}

export interface OpenedStream {
  readonly output: StreamOutput;
  /** The TCP socket, for its options (TCP_NOTSENT_LOWAT); null when the response has none. */
  readonly socket: Socket | null;
  /** Whether the socket was taken from Node's HTTP server (false: the response is written as usual). */
  readonly detached: boolean;
}

/**
 * The listeners Node's HTTP server (`connectionListenerInternal` in lib/_http_server.js) puts on
 * each connection, by name: its per-connection state lives in them. Node's own upgrade path
 * removes the same ones when it hands a socket to a WebSocket server.
 */
const SERVER_LISTENERS: ReadonlyArray<readonly [event: string, name: string]> = [
  ['data', 'bound socketOnData'],
  ['end', 'bound socketOnEnd'],
  ['close', 'bound socketOnClose'],
  ['drain', 'bound socketOnDrain'],
  ['error', 'socketOnError'],
  ['timeout', 'socketOnTimeout'],
  ['resume', 'onSocketResume'],
  ['pause', 'onSocketPause'],
];

/** The parts of Node's HTTP parser (lib/_http_common.js) that freeing it touches. */
interface HttpParser {
  _consumed?: boolean;
  socket: unknown;
  incoming: unknown;
  outgoing: unknown;
  onIncoming: unknown;
  unconsume(): void;
  remove(): void;
  close(): void;
}

type ServerSocket = Socket & { parser?: HttpParser | null; _httpMessage?: unknown };

/**
 * Sends the stream's head and takes its socket away from Node's HTTP server, as Node does for an
 * upgraded connection: the server's listeners off the socket, its parser unhooked and freed, the
 * response detached. What a live stream then holds is the socket and its session — not an
 * `IncomingMessage`, a `ServerResponse`, a parser and the server's per-connection state, about
 * half the memory of an idle stream. The body is the event stream itself, ended by closing the
 * connection (`Connection: close`, no chunked framing), which every HTTP/1.1 client and proxy
 * reads; the socket is never given back for another request, and the server's `closeAllConnections`
 * no longer reaches it: the stream ends it (shutdown ends every stream first).
 *
 * Where the HTTP internals are not as expected (a newer Node, a test's fake response), the head
 * goes out through the response as usual and the stream writes to it: slower and larger, the
 * same on the wire for a client.
 *
 * Call it only after the request's parser has returned (after any I/O of the request's own):
 * the parser is closed one turn of the event loop later all the same, as Node closes its own.
 */
export function openStream(
  request: IncomingMessage,
  response: ServerResponse,
  headers: OutgoingHttpHeaders,
): OpenedStream {
  const socket = response.socket as ServerSocket | null;
  // A request whose body is still coming (a GET may have one) keeps the parser it needs.
  const parser = socket && request.complete ? detachableParser(socket, response) : undefined;
  if (!socket || !parser) {
    response.writeHead(200, headers);
    response.flushHeaders();
    return { output: response, socket, detached: false };
  }
  for (const [event, name] of SERVER_LISTENERS) {
    const listener = socket.listeners(event).find((candidate) => candidate.name === name);
    if (listener) socket.removeListener(event, listener as (...args: unknown[]) => void);
  }
  response.detachSocket(socket);
  if (parser._consumed) parser.unconsume();
  parser._consumed = false;
  parser.socket = parser.incoming = parser.outgoing = parser.onIncoming = null;
  parser.remove();
  socket.parser = null;
  setImmediate(closeParser, parser);
  // Without the server's handlers: errors end in `close` (which ends the session); the client's
  // FIN means it left (the server allows half-open connections, a stream has no use for one).
  socket.on('error', ignore);
  socket.on('end', destroySocket);
  socket.setTimeout(0);
  // Read (and drop) whatever the client sends, so its leaving is noticed at once.
  socket.resume();
  socket.write(head({ ...response.getHeaders(), ...headers }));
  return { output: socket, socket, detached: true };
}

/** The socket's parser when the socket can be taken as Node's upgrade path takes one; else undefined. */
function detachableParser(socket: ServerSocket, response: ServerResponse): HttpParser | undefined {
  const parser = socket.parser;
  if (!parser || socket._httpMessage !== response || response.headersSent || socket.destroyed) return undefined;
  if (typeof parser.unconsume !== 'function' || typeof parser.remove !== 'function') return undefined;
  if (typeof parser.close !== 'function' || typeof response.detachSocket !== 'function') return undefined;
  // Every listener the server puts on a connection must be there to take off: otherwise its
  // per-connection state would stay reachable, or this is a server that works differently.
  const named = (event: string, name: string) => socket.listeners(event).some((listener) => listener.name === name);
  return SERVER_LISTENERS.every(([event, name]) => event === 'timeout' || named(event, name)) ? parser : undefined;
}

/** The response head, written as Node would, but for a body that ends with the connection. */
function head(headers: OutgoingHttpHeaders): string {
  const lines = [`HTTP/1.1 200 OK`, `Date: ${new Date().toUTCString()}`];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || /^(connection|transfer-encoding|content-length|date|keep-alive)$/i.test(name)) continue;
    for (const one of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(one)}`);
  }
  lines.push('Connection: close');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

// Module-level functions, not closures: a closure made in `openStream` would share its scope, and
// through `parser` (its bound handlers hold the server's per-connection state) keep the request.
const ignore = (): void => {};

function destroySocket(this: Socket): void {
  this.destroy();
}

function closeParser(parser: HttpParser): void {
  parser.close();
}
