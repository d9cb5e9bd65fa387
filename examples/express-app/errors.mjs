// How the app answers an error: JSON `{ error }` with a readable message, never a stack or a secret.

/**
 * Express error handler. Errors that carry `status` and `expose` (the app's own, and body-parser's) are answered
 * with their message; anything else is a bug, answered 500 and logged.
 *
 * @param {{ error(text: string): void }} log - where unexpected errors go
 */
export function errorHandler(log) {
  return (error, _req, res, _next) => {
    if (res.headersSent) return res.destroy();
    if (error.type === 'entity.parse.failed') {
      return res.status(400).json({ error: 'The body is not valid JSON' });
    }
    if (error.expose && typeof error.status === 'number') {
      if (error.retryAfter !== undefined) res.set('retry-after', String(error.retryAfter));
      return res.status(error.status).json({ error: error.message });
    }
    log.error(`unexpected error: ${error.stack ?? error}`); // never the request body: it may hold personal data
    return res.status(500).json({ error: 'Internal error' });
  };
}

/** Answers a path no route serves. */
export function notFound(_req, res) {
  res.status(404).json({ error: 'Not found' });
}
