// Just enough of the CQL native protocol (v4) to run a query without a driver:
// used as the Cassandra readiness probe and by the infra self-check. Supports
// unauthenticated connections and single-page results of simple column types.
// Spec: https://github.com/apache/cassandra/blob/cassandra-5.0/doc/native_protocol_v4.spec
import net from 'node:net';

const VERSION_REQUEST = 0x04;
const HEADER_LENGTH = 9;
const FLAG_WARNING = 0x08;
const Opcode = { ERROR: 0x00, STARTUP: 0x01, READY: 0x02, AUTHENTICATE: 0x03, QUERY: 0x07, RESULT: 0x08 };
const ResultKind = { VOID: 1, ROWS: 2, SET_KEYSPACE: 3, PREPARED: 4, SCHEMA_CHANGE: 5 };
const CONSISTENCY_ONE = 0x0001;

const shortBytes = (n) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const intBytes = (n) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const string = (s) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([shortBytes(b.length), b]);
};
const longString = (s) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([intBytes(b.length), b]);
};

function encodeFrame(stream, opcode, body) {
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt8(VERSION_REQUEST, 0);
  header.writeUInt8(0, 1);
  header.writeInt16BE(stream, 2);
  header.writeUInt8(opcode, 4);
  header.writeInt32BE(body.length, 5);
  return Buffer.concat([header, body]);
}

class Reader {
  constructor(buf) {
    this.buf = buf;
    this.pos = 0;
  }
  int() {
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  short() {
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  string() {
    const len = this.short();
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
  bytes() {
    const len = this.int();
    if (len < 0) return null;
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }
  // [option]: type id plus, for parameterised types, their parameters.
  type() {
    const id = this.short();
    switch (id) {
      case 0x0000:
        return { id, custom: this.string() };
      case 0x0020: // list
      case 0x0022: // set
        return { id, element: this.type() };
      case 0x0021: // map
        return { id, key: this.type(), value: this.type() };
      case 0x0030: {
        // UDT
        const ks = this.string();
        const name = this.string();
        const fields = Array.from({ length: this.short() }, () => ({ name: this.string(), type: this.type() }));
        return { id, ks, name, fields };
      }
      case 0x0031: // tuple
        return { id, elements: Array.from({ length: this.short() }, () => this.type()) };
      default:
        return { id };
    }
  }
}

function decodeValue(type, bytes) {
  if (bytes === null) return null;
  switch (type.id) {
    case 0x0001: // ascii
    case 0x000d: // varchar
      return bytes.toString('utf8');
    case 0x0002: // bigint
    case 0x000b: // timestamp
      return bytes.readBigInt64BE();
    case 0x0004: // boolean
      return bytes[0] !== 0;
    case 0x0009: // int
      return bytes.readInt32BE();
    default:
      return bytes;
  }
}

function decodeRows(r) {
  const flags = r.int();
  const columnCount = r.int();
  if (flags & 0x0002) r.bytes(); // paging state; only the first page is returned
  if (flags & 0x0004) throw new Error('CQL result without metadata is not supported');
  const globalSpec = (flags & 0x0001) !== 0;
  if (globalSpec) {
    r.string();
    r.string();
  }
  const columns = [];
  for (let i = 0; i < columnCount; i++) {
    if (!globalSpec) {
      r.string();
      r.string();
    }
    columns.push({ name: r.string(), type: r.type() });
  }
  const rowCount = r.int();
  const rows = [];
  for (let i = 0; i < rowCount; i++) {
    const row = {};
    for (const col of columns) row[col.name] = decodeValue(col.type, r.bytes());
    rows.push(row);
  }
  return rows;
}

/**
 * Opens a connection, runs `queries` in order (consistency ONE) and closes it.
 * Resolves with one entry per query: an array of row objects for SELECTs,
 * otherwise null. Rejects on connection, protocol or query errors.
 */
export function cqlQuery({ host = '127.0.0.1', port, queries, timeoutMs = 10_000 }) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const results = [];
    let pending = Buffer.alloc(0);
    let stream = 0;
    let done = false;

    const finish = (err) => {
      if (done) return;
      done = true;
      socket.destroy();
      if (err) reject(err);
      else resolve(results);
    };
    const send = (opcode, body) => socket.write(encodeFrame(++stream, opcode, body));
    const sendNextQuery = () => {
      const query = queries[results.length];
      if (query === undefined) return finish();
      send(Opcode.QUERY, Buffer.concat([longString(query), shortBytes(CONSISTENCY_ONE), Buffer.from([0])]));
    };

    const onFrame = (flags, opcode, body) => {
      const r = new Reader(body);
      if (flags & FLAG_WARNING) {
        for (let n = r.short(); n > 0; n--) r.string();
      }
      if (opcode === Opcode.ERROR) {
        const code = r.int();
        return finish(new Error(`CQL error 0x${code.toString(16)}: ${r.string()}`));
      }
      if (opcode === Opcode.READY) return sendNextQuery();
      if (opcode === Opcode.AUTHENTICATE) return finish(new Error('CQL server requires authentication'));
      if (opcode !== Opcode.RESULT) return finish(new Error(`unexpected CQL opcode 0x${opcode.toString(16)}`));
      const kind = r.int();
      results.push(kind === ResultKind.ROWS ? decodeRows(r) : null);
      sendNextQuery();
    };

    socket.setTimeout(timeoutMs, () => finish(new Error(`CQL connection to ${host}:${port} timed out`)));
    socket.once('error', finish);
    socket.once('close', () => finish(new Error(`CQL connection to ${host}:${port} closed unexpectedly`)));
    socket.once('connect', () => {
      const options = Buffer.concat([shortBytes(1), string('CQL_VERSION'), string('3.0.0')]);
      send(Opcode.STARTUP, options);
    });
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (!done && pending.length >= HEADER_LENGTH) {
        const length = pending.readInt32BE(5);
        if (pending.length < HEADER_LENGTH + length) break;
        const flags = pending.readUInt8(1);
        const opcode = pending.readUInt8(4);
        const body = pending.subarray(HEADER_LENGTH, HEADER_LENGTH + length);
        pending = pending.subarray(HEADER_LENGTH + length);
        try {
          onFrame(flags, opcode, body);
        } catch (err) {
          finish(err);
        }
      }
    });
  });
}
