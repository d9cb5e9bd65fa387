/**
 * The checks of a {@link MailerGroup}'s options that can be made when it is created, and of a district's share
 * when it is used: each refusal names the option and the value received.
 */
import { showValue } from '../truncate.js';
import type { MailerGroupOptions } from './types.js';

const DEFAULT_IDLE_MS = 60_000;

/**
 * Checks the options and gives `idleMs` with its default.
 *
 * @throws TypeError naming the option that is not valid
 */
export function checkGroupOptions(options: MailerGroupOptions): { idleMs: number } {
  if (typeof options?.settings !== 'function') {
    throw new TypeError('MailerGroup needs settings: a function that loads a district’s Email Settings');
  }
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  if (!(typeof idleMs === 'number' && idleMs >= 0 && Number.isFinite(idleMs))) {
    throw new TypeError(
      `MailerGroupOptions.idleMs must be a number of milliseconds (received ${showValue(String(idleMs))})`,
    );
  }
  const relay = options.hostedRelay;
  if (relay !== undefined) {
    const { perSecond, connections } = relay;
    if (!(Number.isInteger(perSecond) && perSecond >= 1)) {
      throw new TypeError(
        `hostedRelay.perSecond must be a whole number of at least 1 (received ${showValue(String(perSecond))})`,
      );
    }
    if (connections !== undefined && !(Number.isInteger(connections) && connections >= 1)) {
      throw new TypeError(
        `hostedRelay.connections must be a whole number of at least 1 (received ${showValue(String(connections))})`,
      );
    }
  }
  return { idleMs };
}

/**
 * A district's weight in the shared relay's budget or the fleet's order: its `share`, checked.
 *
 * @throws TypeError when the share is not a positive number (or whatever the host's `share` throws)
 */
export function shareOf(options: MailerGroupOptions, id: string): number {
  const weight = options.share?.(id) ?? 1;
  if (!(typeof weight === 'number' && Number.isFinite(weight) && weight > 0)) {
    throw new TypeError(
      `MailerGroupOptions.share must give a positive number for district ${showValue(id)} (received ${showValue(String(weight))})`,
    );
  }
  return weight;
}
