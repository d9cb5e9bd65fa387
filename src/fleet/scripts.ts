/**
 * The two Lua scripts the shared window runs in Redis, and their typed calls. The window is one sorted set: each
 * member is a permit (`<client id>:<sequence>`), its score a time in milliseconds by Redis's own clock
 * (`redis.call('TIME')`), never a Node host's. A committed start is scored with the time it was reported; a
 * reservation (a start granted, not yet reported) with that time plus the lease, so it holds its place until it is
 * committed or released, or, when its process died, until the lease has run out.
 */
import type { Redis } from 'ioredis';
import { WINDOW_MS } from '../permits/window.js';

/**
 * Redis's clock in milliseconds, with its microseconds as the fraction. Scripts that read the clock and then write
 * are replicated by their effects (always from Redis 7; asked for on Redis 3.2 to 6, where it is not the default).
 */
const NOW = `redis.replicate_commands()
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000`;

/**
 * Grants up to `n` starts. KEYS[1]: the window. ARGV: limit (R), n, want (how many places the caller waits for
 * when it gets fewer than n), lease in ms, member prefix, first sequence number.
 *
 * Returns `{granted, waitMs, reserved}`: the members granted are `prefix .. first` onwards; when fewer than `n`
 * were granted, `waitMs` is how long until `want` more places leave the window, and `reserved` is 1 when a
 * reservation holds the place waited for (its commit or release can free it sooner: `waitMs` is then the least
 * it can take, one window).
 */
export const TAKE_SCRIPT = `${NOW}
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
local prefix = ARGV[5]
local first = tonumber(ARGV[6])
-- A take that runs again (the client resends a command cut off by a lost connection) replaces its first grant.
for i = 0, n - 1 do redis.call('ZREM', key, prefix .. (first + i)) end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - ${WINDOW_MS})
local count = redis.call('ZCARD', key)
local granted = math.max(0, math.min(n, limit - count))
for i = 0, granted - 1 do redis.call('ZADD', key, now + lease, prefix .. (first + i)) end
if granted > 0 then redis.call('PEXPIRE', key, math.ceil(lease + 2 * ${WINDOW_MS})) end
if granted == n then return {granted, 0, 0} end
-- Full: the place wanted frees when the need-th oldest entry leaves the window.
local need = count + granted - limit + math.min(want, n - granted)
local entry = redis.call('ZRANGE', key, need - 1, need - 1, 'WITHSCORES')
local score = tonumber(entry[2])
if score == nil or score > now then return {granted, ${WINDOW_MS}, 1} end
return {granted, math.max(1, math.ceil(score + ${WINDOW_MS} - now)), 0}`;

/**
 * Records what happened to permits, in one call. KEYS[1]: the window. ARGV: lease in ms, the number of commits,
 * the number of renewals, then the members: those committed (scored now), those renewed (scored now + lease: a
 * start still on its way keeps its place however long it takes), then those released (removed). Commits and
 * renewals add a member that is no longer there (its lease ran out, or Redis lost its data): the start is real
 * and must count.
 */
export const SETTLE_SCRIPT = `${NOW}
local key = KEYS[1]
local lease = tonumber(ARGV[1])
local commits = tonumber(ARGV[2])
local renewals = tonumber(ARGV[3])
local i = 4
for _ = 1, commits do
  redis.call('ZADD', key, now, ARGV[i])
  i = i + 1
end
for _ = 1, renewals do
  redis.call('ZADD', key, now + lease, ARGV[i])
  i = i + 1
end
while i <= #ARGV do
  redis.call('ZREM', key, ARGV[i])
  i = i + 1
end
if commits + renewals > 0 then redis.call('PEXPIRE', key, math.ceil(lease + 2 * ${WINDOW_MS})) end
return commits + renewals`;

/** The script commands' names on the client: distinctive, as a client passed in may define its own. */
const TAKE = 'messengerEmailFleetTake';
const SETTLE = 'messengerEmailFleetSettle';

/** A take's answer, as {@link TAKE_SCRIPT} returns it. */
export interface TakeReply {
  /** Starts granted, from the first sequence number on. */
  granted: number;
  /** When fewer than asked were granted: milliseconds until asking again may give more. */
  waitMs: number;
  /** The place waited for is held by a reservation: a commit or release of ours may free it sooner. */
  reserved: boolean;
}

/** What to record in one {@link SETTLE_SCRIPT} call. */
export interface SettleBatch {
  /** Members whose start happened. */
  commits: string[];
  /** Members still on their way, whose lease is extended. */
  renewals: string[];
  /** Members whose start did not happen. */
  releases: string[];
}

type ScriptCall = (key: string, ...args: (string | number)[]) => Promise<unknown>;

/** The window's two commands on one Redis client. */
export interface WindowCommands {
  take(
    key: string,
    request: { limit: number; n: number; want: number; leaseMs: number; prefix: string; first: number },
  ): Promise<TakeReply>;
  settle(key: string, leaseMs: number, batch: SettleBatch): Promise<void>;
}

/**
 * Defines the scripts on a client (ioredis `defineCommand`: EVALSHA, and EVAL when Redis lost its script cache)
 * and returns typed calls.
 */
export function windowCommands(redis: Redis): WindowCommands {
  redis.defineCommand(TAKE, { numberOfKeys: 1, lua: TAKE_SCRIPT });
  redis.defineCommand(SETTLE, { numberOfKeys: 1, lua: SETTLE_SCRIPT });
  const commands = redis as unknown as Record<typeof TAKE | typeof SETTLE, ScriptCall>;
  return {
    async take(key, r) {
      const reply = await commands[TAKE](key, r.limit, r.n, r.want, r.leaseMs, r.prefix, r.first);
      const [granted, waitMs, reserved] = reply as [number, number, number];
      return { granted, waitMs, reserved: reserved === 1 };
    },
    async settle(key, leaseMs, batch) {
      const { commits, renewals, releases } = batch;
      await commands[SETTLE](
        key,
        leaseMs,
        commits.length,
        renewals.length,
        ...commits,
        ...renewals,
        ...releases,
      );
    },
  };
}
