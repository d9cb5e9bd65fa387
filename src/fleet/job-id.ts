/**
 * Message ids as BullMQ job ids. BullMQ refuses a custom id that is an integer or contains ':', and a message id
 * may be either; so every job id is `m.` and the message id with `%` and `:` escaped, which reads back exactly.
 */

/** The job id of a message. */
export function jobIdOf(id: string): string {
  return `m.${id.replaceAll('%', '%25').replaceAll(':', '%3A')}`;
}

/** The message id of a job id written by {@link jobIdOf} (any other id is returned as it is). */
export function messageIdOf(jobId: string): string {
  if (!jobId.startsWith('m.')) return jobId;
  return jobId.slice(2).replaceAll('%3A', ':').replaceAll('%25', '%');
}
