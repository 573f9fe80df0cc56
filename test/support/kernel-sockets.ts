import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

/** One TCP socket as `ss -tmni` shows it: queues and kernel memory (skmem), bytes. */
export interface KernelSocket {
  readonly local: string;
  readonly localPort: number;
  readonly peer: string;
  readonly peerPort: number;
  /** Bytes received and not yet read by the application (Recv-Q). */
  readonly recvQ: number;
  /** Bytes not yet acknowledged by the peer, unsent included (Send-Q). */
  readonly sendQ: number;
  /** Bytes the kernel holds unsent (`notsent:`; 0 when absent). */
  readonly notsent: number;
  /** skmem: receive memory allocated (r), send memory queued (w) and allocated (t), buffer limits (rb, tb). */
  readonly skmem: { r: number; rb: number; t: number; tb: number; w: number; f: number };
  /** Kernel memory the socket holds: receive + queued send memory (skmem r + w). */
  readonly memoryBytes: number;
}

/**
 * Every established TCP socket with an end on one of `ports` (local or peer), from `ss -tmni`
 * (iproute2). The kernel's side of a stream: what the pod, a proxy and a client each queue.
 */
export function kernelSockets(ports: readonly number[]): KernelSocket[] {
  const filter = ports.map((port) => `sport = :${port} or dport = :${port}`).join(' or ');
  const text = execFileSync('ss', ['-tmniH', 'state', 'established', `( ${filter} )`], {
    encoding: 'utf8',
    // Thousands of sockets print a few MB.
    maxBuffer: 256 * 1024 * 1024,
  });
  const sockets: KernelSocket[] = [];
  // Each socket is a header line (Recv-Q Send-Q Local Peer) followed by indented detail lines.
  for (const block of text.split(/\n(?=\S)/)) {
    const head = /^(\d+)\s+(\d+)\s+(\S+):(\d+)\s+(\S+):(\d+)/.exec(block.trim());
    const mem = /skmem:\(([^)]*)\)/.exec(block);
    if (!head || !mem) continue;
    const skmem = Object.fromEntries(
      mem[1]!.split(',').map((field) => {
        const [, key, value] = /^([a-z]+)(\d+)$/.exec(field) ?? [];
        return [key, Number(value)];
      }),
    ) as KernelSocket['skmem'];
    sockets.push({
      recvQ: Number(head[1]),
      sendQ: Number(head[2]),
      local: head[3]!,
      localPort: Number(head[4]),
      peer: head[5]!,
      peerPort: Number(head[6]),
      notsent: Number(/notsent:(\d+)/.exec(block)?.[1] ?? 0),
      skmem,
      memoryBytes: skmem.r + skmem.w,
    });
  }
  return sockets;
}

/** The host's TCP memory, `/proc/net/sockstat` "TCP: … mem N" (pages), in bytes. */
export function tcpMemoryBytes(): number {
  const match = /^TCP:.* mem (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'));
  if (!match) throw new Error('no TCP mem in /proc/net/sockstat');
  return Number(match[1]) * 4096;
}

const SOL_SOCKET = 1;
const SO_RCVBUF = 8;

/**
 * Sets SO_RCVBUF on a connected client socket (npm `sockopt`): the kernel receive buffer, and so
 * the window, of a reader on a slow link. The kernel doubles the value for its own overhead.
 */
export function setReceiveBuffer(socket: Socket, bytes: number): void {
  const { setsockopt } = createRequire(import.meta.url)('sockopt') as {
    setsockopt(socket: Socket, level: number, option: number, value: number): void;
  };
  setsockopt(socket, SOL_SOCKET, SO_RCVBUF, bytes);
}
