// Waiting for the Mailer to finish what it holds, for a bounded time, before closing it.

/**
 * Resolves once the Mailer has nothing queued, sending or waiting to retry (its `idle` event), or once
 * `timeoutMs` has passed, whichever comes first. Closing the in-memory Mailer after this loses only what could not
 * be sent in time; a message waiting Minutes Between Retries usually outlasts any shutdown, and is then cancelled.
 *
 * @param {import('messenger-email').Mailer} mailer - a Mailer that takes no new messages any more
 * @param {number} timeoutMs - the longest wait; 0 does not wait
 * @returns {Promise<boolean>} whether everything was delivered (or given up) in time
 */
export function drain(mailer, timeoutMs) {
  const { queued, sending, waitingRetry } = mailer.stats();
  if (queued + sending + waitingRetry === 0) return Promise.resolve(true);
  if (timeoutMs <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (drained) => {
      clearTimeout(timer);
      mailer.off('idle', onIdle);
      resolve(drained);
    };
    const onIdle = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    mailer.on('idle', onIdle);
  });
}
