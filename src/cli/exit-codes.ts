/**
 * The exit codes of the command-line tool.
 */

/** Exit code: everything worked. */
export const EXIT_OK = 0;
/** Exit code: bad input (arguments, files, settings, the message). */
export const EXIT_INPUT = 1;
/** Exit code: the server could not be used, a message was not delivered, or the send was interrupted (Ctrl+C). */
export const EXIT_DELIVERY = 2;
/** Exit code: `queue --delete` or `--retry-now` refused to change a spool that a running Mailer holds. */
export const EXIT_LOCKED = 3;
/** Exit code: `check --strict` found a problem with the sender's domain (SPF, DMARC, MX, DKIM) and nothing worse. */
export const EXIT_DOMAIN_PROBLEM = 3;
/** Exit code: a second Ctrl+C (or SIGTERM) quit at once, as a shell reports a process ended by SIGINT. */
export const EXIT_QUIT = 130;
