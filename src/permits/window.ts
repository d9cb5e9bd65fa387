/**
 * The window the exact check uses, in milliseconds: one second, for the local and the shared (fleet) permits. No
 * guard is needed: a start's place frees a second after the reply to its MAIL FROM arrived, which is after the
 * server counted it, and the next start's MAIL FROM is written after the check, so the server sees more than a
 * second between them.
 */
export const WINDOW_MS = 1000;
