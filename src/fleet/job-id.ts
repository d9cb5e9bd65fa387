/**
 * Message ids as BullMQ job ids. BullMQ refuses a custom id that is an integer or contains ':', and a message id
 * may be either; so every job id is `m.` and the message id with `%` and `:` escaped, which reads back exactly.
 * A district's message in a fleet shared by many districts is `t.`, the district's id (`.` escaped too), `.` and
 * the message id: two districts may use the same message id.
 */

function escaped(text: string): string {
  return text.replaceAll('%', '%25').replaceAll(':', '%3A');
}

function unescaped(text: string): string {
  return text.replaceAll('%3A', ':').replaceAll('%2E', '.').replaceAll('%25', '%');
}

/** The job id of a message, of a district when `tenant` is given. */
export function jobIdOf(id: string, tenant?: string): string {
  if (tenant === undefined) return `m.${escaped(id)}`;
  return `t.${escaped(tenant).replaceAll('.', '%2E')}.${escaped(id)}`;
}

/** The message id of a job id written by {@link jobIdOf} (any other id is returned as it is). */
export function messageIdOf(jobId: string): string {
  if (jobId.startsWith('m.')) return unescaped(jobId.slice(2));
  if (jobId.startsWith('t.')) {
    const dot = jobId.indexOf('.', 2);
    if (dot > 0) return unescaped(jobId.slice(dot + 1));
  }
  return jobId;
}

/** The district of a job id written by {@link jobIdOf} with a district; undefined for any other id. */
export function tenantOf(jobId: string): string | undefined {
  if (!jobId.startsWith('t.')) return undefined;
  const dot = jobId.indexOf('.', 2);
  return dot > 0 ? unescaped(jobId.slice(2, dot)) : undefined;
}

/** Whether a job id is one of a message of this library. */
export function isMessageJob(jobId: string): boolean {
  return jobId.startsWith('m.') || (jobId.startsWith('t.') && jobId.indexOf('.', 2) > 0);
}
