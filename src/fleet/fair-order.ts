/**
 * The fair order of a queue that many districts share. BullMQ (without its commercial groups) takes the wait list
 * first, then the prioritized set by priority, first come first served within one priority. Each district's
 * standard message is given a priority when it is added, by start-time fair queueing: the district's tag moves on
 * by `1 / weight` from the later of its last tag and the queue's virtual time (the priority of the latest message
 * claimed), and the priority is the tag rounded up. A district with a 50,000-message backlog therefore has one
 * message (two at weight 2) in each round, and a district that starts sending joins the next round instead of
 * waiting behind the backlog. Emergencies carry no priority: they go on the wait list, ahead of every round.
 *
 * The order lives in Redis, so every server of a fleet claims in the same order: fairness holds across servers.
 *
 * BullMQ's priorities end at 2,097,151: a round beyond it keeps that priority (first come, first served among
 * those). The rounds start again from 1 when no message with a round is left (waiting, claimed or waiting to retry)
 * and none was given one for {@link QUIET_MS}.
 */
import type { Redis } from 'ioredis';

/** BullMQ's highest priority. */
export const PRIORITY_LIMIT = 2_097_151;
/** How long the queue has no standard message waiting before the rounds start again from 1. */
export const QUIET_MS = 10_000;

const NOW = `redis.replicate_commands()
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

/**
 * Tags `n` standard messages of one district. KEYS[1]: the order's hash (`v`: virtual time, `at`: when the last tag
 * was given, `t:<district>`: the district's tag); KEYS[2], KEYS[3], KEYS[4]: BullMQ's prioritized set, active list
 * and delayed set. ARGV: district, weight, n, limit, quiet. Returns the `n` priorities.
 */
const TAG_SCRIPT = `${NOW}
local state = KEYS[1]
local tenant = 't:' .. ARGV[1]
local weight = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local quiet = tonumber(ARGV[5])
local at = tonumber(redis.call('HGET', state, 'at') or '0')
-- a new count of rounds only when no message that has a place in the old one is left anywhere: waiting, claimed or
-- waiting to retry (the wait list holds emergencies, which have none)
if now - at > quiet and redis.call('ZCARD', KEYS[2]) == 0 and redis.call('LLEN', KEYS[3]) == 0
  and redis.call('ZCARD', KEYS[4]) == 0 then
  redis.call('DEL', state)
end
local v = tonumber(redis.call('HGET', state, 'v') or '0')
local tag = math.max(v, tonumber(redis.call('HGET', state, tenant) or '0'))
local out = {}
for i = 1, n do
  tag = tag + 1 / weight
  out[i] = math.min(limit, math.ceil(tag - 1e-9))
end
redis.call('HSET', state, tenant, tostring(tag), 'at', tostring(now))
return out`;

/** Moves the virtual time on to a claimed message's priority. KEYS[1]: the order's hash; ARGV[1]: the priority. */
const ADVANCE_SCRIPT = `local p = tonumber(ARGV[1])
if p > tonumber(redis.call('HGET', KEYS[1], 'v') or '0') then redis.call('HSET', KEYS[1], 'v', p) end
return 0`;

interface OrderCommands {
  meTag(
    state: string,
    prioritized: string,
    active: string,
    delayed: string,
    ...args: (string | number)[]
  ): Promise<number[]>;
  meAdvance(state: string, priority: number): Promise<number>;
}

/** The fair order of one shared queue, kept in Redis. */
export class FairOrder {
  readonly #redis: Redis & OrderCommands;
  readonly #state: string;
  readonly #queueKey: string;

  /**
   * @param redis - a client for the order's commands (shared with the districts' permits)
   * @param prefix - BullMQ's key prefix
   * @param queue - the queue's name
   */
  constructor(redis: Redis, prefix: string, queue: string) {
    redis.defineCommand('meTag', { numberOfKeys: 4, lua: TAG_SCRIPT });
    redis.defineCommand('meAdvance', { numberOfKeys: 1, lua: ADVANCE_SCRIPT });
    this.#redis = redis as Redis & OrderCommands;
    this.#state = `${prefix}:${queue}:fair-order`;
    this.#queueKey = `${prefix}:${queue}`;
  }

  /** The priorities of a district's next `n` standard messages. */
  async next(tenant: string, weight: number, n = 1): Promise<number[]> {
    if (!(typeof weight === 'number' && Number.isFinite(weight) && weight > 0)) {
      throw new TypeError(
        `The share of district ${JSON.stringify(tenant)} must be a positive number (received ${String(weight)}): check MailerGroupOptions.share`,
      );
    }
    const q = this.#queueKey;
    const tags = await this.#redis.meTag(
      this.#state,
      `${q}:prioritized`,
      `${q}:active`,
      `${q}:delayed`,
      tenant,
      weight,
      n,
      PRIORITY_LIMIT,
      QUIET_MS,
    );
    return tags.map(Number);
  }

  /** A standard message of this priority was claimed: a district that starts sending joins the round after it. */
  async advance(priority: number): Promise<void> {
    await this.#redis.meAdvance(this.#state, priority);
  }
}
