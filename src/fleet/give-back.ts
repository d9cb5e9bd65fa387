/**
 * Gives a claimed job back to its queue without an attempt: BullMQ counted a start when it was claimed, so the
 * job's own count of claims given back goes up by one (subtracted from BullMQ's starts when it is read).
 */
import type { FleetJobData } from './job-data.js';
import { jobData } from './job-data.js';
import type { Claim } from './tenant-link.js';

/**
 * @param claim - the job and the token of its claim
 * @param delayMs - 0: back to the queue at once; more: delayed that long
 * @param patch - more changes to the job's data
 */
export async function giveBackJob(
  claim: Claim,
  delayMs: number,
  patch: Partial<FleetJobData> = {},
): Promise<void> {
  const { job, token } = claim;
  const data = jobData(job);
  if (data !== undefined) {
    const updated = { ...data, unstarted: (data.unstarted ?? 0) + 1, ...patch };
    await job.updateData(updated);
    job.data = updated;
  }
  if (delayMs > 0) await job.moveToDelayed(Date.now() + delayMs, token);
  else await job.moveToWait(token);
}
