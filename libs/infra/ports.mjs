import net from 'node:net';

function listenOnce(port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const { port: bound } = server.address();
      server.close(() => resolve(bound));
    });
  });
}

/**
 * Throws if nothing can listen on 127.0.0.1:<port>. `purpose` (e.g. "Cassandra CQL")
 * only makes the message clearer.
 */
export async function assertPortFree(port, purpose = 'this service') {
  try {
    await listenOnce(port);
  } catch (err) {
    if (err.code === 'EADDRINUSE') {
      throw new Error(
        `Port ${port} (needed for ${purpose}) is already in use on 127.0.0.1. ` +
          `Stop the process holding it (find it with: ss -ltnp 'sport = :${port}') ` +
          `or configure a different port.`,
        { cause: err },
      );
    }
    throw new Error(`Cannot listen on 127.0.0.1:${port} (needed for ${purpose}): ${err.message}`, { cause: err });
  }
}

/** A port that was free a moment ago; the usual race applies. */
export async function freePort() {
  return listenOnce(0);
}

/**
 * Resolves true if `host:port` accepts a TCP connection within `timeoutMs`, false otherwise.
 * k8s/base/wait-for-tcp.mjs has its own copy: it is mounted alone into init containers.
 */
export function acceptsConnections({ host, port }, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
