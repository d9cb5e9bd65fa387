/**
 * Removes secrets from errors before they leave the package: in the message, the stack, every string property
 * (nodemailer adds `response` and `command`) and the `cause` chain. The password is also looked for in the
 * base64 forms SMTP AUTH sends it in.
 */

const MASK = '********';

/** Every form of the password that could show up in an SMTP error. */
export function secretForms(username: string | undefined, password: string | undefined): string[] {
  if (password === undefined || password === '') return [];
  const user = username ?? '';
  const forms = [
    password,
    Buffer.from(password).toString('base64'),
    Buffer.from(`\u0000${user}\u0000${password}`).toString('base64'),
    Buffer.from(`${user}\u0000${user}\u0000${password}`).toString('base64'),
  ];
  return forms; // every form, however short: the password must never show
}

function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(MASK);
  }
  return out;
}

/**
 * Scrubs `secrets` from a value in place when it is an error (and from its causes), and returns it.
 * Non-error values are returned as they are.
 */
export function scrubError<T>(error: T, secrets: readonly string[], seen = new Set<unknown>()): T {
  if (secrets.length === 0 || typeof error !== 'object' || error === null || seen.has(error)) return error;
  seen.add(error);
  const record = error as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(error)) {
    let value: unknown;
    try {
      value = record[key];
    } catch {
      continue;
    }
    if (typeof value === 'string') {
      const clean = scrubText(value, secrets);
      if (clean === value) continue;
      try {
        record[key] = clean;
      } catch {
        // a read-only property: nothing the package can do
      }
    } else if (key === 'cause' || value instanceof Error) {
      scrubError(value, secrets, seen);
    }
  }
  return error;
}
