import { execFileSync } from 'node:child_process';

/** One TCP socket as `ss -tmn` shows it; sizes in bytes. */
export interface TcpSocket {
  readonly local: string;
  readonly peer: string;
  /** Bytes received and not yet read by the application (Recv-Q). */
  readonly recvQ: number;
  /** Bytes not yet acknowledged by the peer, sent or not (Send-Q). */
  readonly sendQ: number;
  /** skmem: memory the receive queue holds (`r`) and may hold (`rb`); the same for sending (`w`, `tb`). */
  readonly rmemAlloc: number;
  readonly rcvbuf: number;
  readonly wmemQueued: number;
  readonly sndbuf: number;
}

const HEAD = /^(\d+)\s+(\d+)\s+(\S+)\s+(\S+)/;
const SKMEM = /skmem:\(r(\d+),rb(\d+),t\d+,tb(\d+),f\d+,w(\d+),/;

/**
 * Established TCP sockets matching an `ss` filter (e.g. `['dport', '=', ':3002']`), with the
 * kernel's memory per socket — what the process's RSS does not show.
 */
export function tcpSockets(filter: string[]): TcpSocket[] {
  const out = execFileSync('ss', ['-tmnH', 'state', 'established', ...filter], { encoding: 'utf8' });
  const sockets: TcpSocket[] = [];
  const lines = out.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const head = HEAD.exec(lines[i]!.trim());
    if (!head) continue;
    const mem = SKMEM.exec(lines[i]!) ?? SKMEM.exec(lines[i + 1] ?? '');
    if (!mem) throw new Error(`ss printed no skmem for ${lines[i]}`);
    sockets.push({
      recvQ: Number(head[1]),
      sendQ: Number(head[2]),
      local: head[3]!,
      peer: head[4]!,
      rmemAlloc: Number(mem[1]),
      rcvbuf: Number(mem[2]),
      sndbuf: Number(mem[3]),
      wmemQueued: Number(mem[4]),
    });
  }
  return sockets;
}
