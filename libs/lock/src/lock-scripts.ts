import type { Redis } from 'ioredis';

// Every step of the lock is one script per server, so each server sees it atomically and the
// holder's unique random value (ARGV owner) decides ownership everywhere — never the fencing token.

/**
 * Identity of the server: run_id and uptime from INFO, and its data-set id (written if missing).
 * KEYS: dataset. ARGV: a new random id. → {run_id, uptime_s, dataset id, 1 if we wrote it}.
 */
const IDENTIFY = `
local info = redis.call('INFO', 'server')
local created = redis.call('SET', KEYS[1], ARGV[1], 'NX') and 1 or 0
return {
  string.match(info, 'run_id:(%w+)') or '',
  tonumber(string.match(info, 'uptime_in_seconds:(%d+)')) or 0,
  redis.call('GET', KEYS[1]) or '',
  created
}
`;

/**
 * Try-lock. KEYS: lock, fence, dataset, launched. ARGV: owner, ttl ms, expected dataset id, floor
 * (the acquiring pod's clock in ms), the launched record's JSON up to its fencing token, and the
 * client session that may take the pair over ('' for none).
 * → -1 the data set is not the one we know (no vote), 0 busy, else the pair's next fencing value
 * on this server — above its high-water mark and not below the floor — after writing the mark
 * and the launched record carrying it. A held pair whose record names the same non-empty session
 * is taken over: the lock key gets our value, so the previous holder's renewal fails. Servers
 * that agree (the usual case: all at the floor) need nothing more; the others get CONFIRM.
 */
const ACQUIRE = `
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return -1 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if ARGV[6] == '' then return 0 end
  local ok, record = pcall(cjson.decode, redis.call('GET', KEYS[4]) or '')
  if not (ok and type(record) == 'table' and record.session == ARGV[6]) then return 0 end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
local fence = math.max((tonumber(redis.call('GET', KEYS[2])) or 0) + 1, tonumber(ARGV[4]))
local text = string.format('%d', fence)
redis.call('SET', KEYS[2], text)
redis.call('SET', KEYS[4], ARGV[5] .. text .. '}', 'PX', ARGV[2])
return fence
`;

/**
 * Where a server handed out less than the token: raise the high-water mark to the token, and
 * rewrite the launched record with it only where the lock key is still ours, expiring with it (a
 * copy that arrives after the release writes no record).
 * KEYS: lock, fence, launched. ARGV: owner, token, record JSON. → 1 written, 0 lock not ours here.
 */
const CONFIRM = `
if (tonumber(redis.call('GET', KEYS[2])) or 0) < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ttl)
return 1
`;

// Is the launched record at KEYS[2] the one written by owner ARGV[1]?
const RECORD_IS_OURS = `
local function recordIsOurs()
  local raw = redis.call('GET', KEYS[2])
  if not raw then return false end
  local ok, record = pcall(cjson.decode, raw)
  return ok and type(record) == 'table' and record.owner == ARGV[1]
end
`;

/** Renewal. KEYS: lock, launched. ARGV: owner, ttl ms. → 1 both extended, 2 lock ours but not the record, 0 not ours. */
const EXTEND = `${RECORD_IS_OURS}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if not recordIsOurs() then return 2 end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`;

/**
 * Renewal of many leases in one call, each as EXTEND decides it. KEYS: lock and launched of each
 * lease in turn. ARGV: ttl ms, then each lease's owner. → one answer per lease, in order: EXTEND's
 * (1, 2 or 0), or -1 where the lease's keys could not be read (that lease alone fails).
 */
const EXTEND_MANY = `
local function extend(lock, launched, owner, ttl)
  if redis.call('GET', lock) ~= owner then return 0 end
  redis.call('PEXPIRE', lock, ttl)
  local raw = redis.call('GET', launched)
  if not raw then return 2 end
  local ok, record = pcall(cjson.decode, raw)
  if not (ok and type(record) == 'table' and record.owner == owner) then return 2 end
  redis.call('PEXPIRE', launched, ttl)
  return 1
end
local answers = {}
for i = 1, #ARGV - 1 do
  local ok, answer = pcall(extend, KEYS[2 * i - 1], KEYS[2 * i], ARGV[i + 1], ARGV[1])
  answers[i] = ok and answer or -1
end
return answers
`;

/** Release. KEYS: lock, launched. ARGV: owner. Deletes each only while it is ours. → 1 if the lock was. */
const RELEASE = `${RECORD_IS_OURS}
local released = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  released = 1
end
if recordIsOurs() then redis.call('DEL', KEYS[2]) end
return released
`;

const SCRIPTS = {
  kubescalerIdentify: { numberOfKeys: 1, lua: IDENTIFY },
  kubescalerAcquire: { numberOfKeys: 4, lua: ACQUIRE },
  kubescalerConfirm: { numberOfKeys: 3, lua: CONFIRM },
  kubescalerExtend: { numberOfKeys: 2, lua: EXTEND },
  // The number of keys is the call's first argument.
  kubescalerExtendMany: { lua: EXTEND_MANY },
  kubescalerRelease: { numberOfKeys: 2, lua: RELEASE },
} as const;

type ScriptName = keyof typeof SCRIPTS;
type Call = (...args: (string | number)[]) => Promise<unknown>;

/** Defines the lock scripts as commands of `client` (and of its pipelines), once. */
export function defineScripts(client: Redis): void {
  const commands = client as unknown as Record<string, Call | undefined>;
  if (typeof commands.kubescalerRelease !== 'function') {
    for (const [scriptName, definition] of Object.entries(SCRIPTS)) client.defineCommand(scriptName, definition);
  }
}

/** Runs one of the lock scripts on `client` (EVALSHA, falling back to EVAL once per server start). */
/**
 * The arguments of a script over many items whose number of keys is the call's first argument:
 * `[#keys, ...keys, leading, ...values]` — KEYS are the items' keys, ARGV[1] is `leading`, and
 * the items' values follow it in order.
 */
export function manyKeysArgs(
  keys: readonly string[],
  leading: string | number,
  values: readonly (string | number)[],
): (string | number)[] {
  return [keys.length, ...keys, leading, ...values];
}

export function runScript(client: Redis, name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
  defineScripts(client);
  return (client as unknown as Record<string, Call>)[name]!.call(client, ...args);
}
