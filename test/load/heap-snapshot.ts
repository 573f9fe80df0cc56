// What a process holds per stream, by kind of object: two V8 heap snapshots (one with no stream
// open, one with N) counted by constructor and subtracted. The target process must run with
// `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=<dir>` (see `heapSnapshotNodeOptions`).
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** NODE_OPTIONS that let `takeHeapSnapshot` ask a process for a snapshot written into `dir`. */
export function heapSnapshotNodeOptions(dir: string): string {
  return `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;
}

/** Signals `pid` to write a heap snapshot into `dir` and waits until the file is complete. */
export async function takeHeapSnapshot(pid: number, dir: string, timeoutMs = 120_000): Promise<string> {
  const known = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const deadline = performance.now() + timeoutMs;
  let last = -1;
  while (performance.now() < deadline) {
    await sleep(500);
    const file = readdirSync(dir).find((name) => name.endsWith('.heapsnapshot') && !known.has(name));
    if (file === undefined) continue;
    const full = path.join(dir, file);
    const size = statSync(full).size;
    // V8 writes the snapshot in one go and ends it with the strings table's closing brackets.
    if (size > 0 && size === last && readFileSync(full, 'utf8').trimEnd().endsWith(']}')) return full;
    last = size;
  }
  throw new Error(`no complete heap snapshot from process ${pid} in ${dir} within ${timeoutMs} ms`);
}

/** Objects of one kind: how many, and their own (shallow) bytes. */
export interface HeapKind {
  count: number;
  bytes: number;
}

/**
 * A snapshot counted by kind: `<node type>:<constructor or function name>`. With `newerThan`,
 * only objects whose id is above it: those allocated after the snapshot that had it as its
 * largest id (V8 numbers objects in order) and still alive.
 */
export function countHeapKinds(file: string, newerThan = -1): Map<string, HeapKind> & { maxId: number } {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const idAt = fields.indexOf('id');
  const kinds = Object.assign(new Map<string, HeapKind>(), { maxId: 0 });
  const { nodes, strings } = snapshot;
  for (let index = 0; index < nodes.length; index += stride) {
    const id = nodes[index + idAt]!;
    if (id > kinds.maxId) kinds.maxId = id;
    if (id <= newerThan) continue;
    const type = types[nodes[index + typeAt]!]!;
    // Strings, numbers and code are counted by type: their "names" are their contents.
    const named = type === 'object' || type === 'closure' || type === 'native' || type === 'hidden';
    const name = strings[nodes[index + nameAt]!]!;
    const key = named ? `${type}:${name}` : type === 'string' ? `string:${stringShape(name)}` : type;
    const kind = kinds.get(key) ?? { count: 0, bytes: 0 };
    kind.count++;
    kind.bytes += nodes[index + sizeAt]!;
    kinds.set(key, kind);
  }
  return kinds;
}

/** A string's start with ids and numbers generalised: strings of one shape count together. */
function stringShape(text: string): string {
  return text
    .slice(0, 48)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/\d+/g, '#')
    .replace(/\s/g, ' ')
    .slice(0, 40);
}

/** The kinds that grew most between two snapshots, per stream, largest first. */
export function heapGrowthPerStream(
  before: Map<string, HeapKind>,
  after: Map<string, HeapKind>,
  streams: number,
  top = 30,
): { kind: string; perStream: number; bytesPerStream: number }[] {
  const rows = [...after].map(([kind, now]) => {
    const then = before.get(kind) ?? { count: 0, bytes: 0 };
    return { kind, perStream: (now.count - then.count) / streams, bytesPerStream: (now.bytes - then.bytes) / streams };
  });
  return rows.sort((a, b) => b.bytesPerStream - a.bytesPerStream).slice(0, top);
}

/** Removes a snapshot file (they are large). */
export function removeHeapSnapshot(file: string): void {
  rmSync(file, { force: true });
}

/** Resident bytes of a process by kind of mapping (from /proc/<pid>/smaps): what RSS is made of. */
export function rssByMapping(pid: number): Record<'mallocHeap' | 'anonymous' | 'files' | 'other', number> {
  const totals = { mallocHeap: 0, anonymous: 0, files: 0, other: 0 };
  let kind: keyof typeof totals = 'other';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[1]!;
      kind = name === '[heap]' ? 'mallocHeap' : name === '' ? 'anonymous' : name.startsWith('/') ? 'files' : 'other';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss) totals[kind] += Number(rss[1]) * 1024;
  }
  return totals;
}
