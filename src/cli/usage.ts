/**
 * The help texts of the command-line tool.
 */

/** The commands of the tool, each with its help text. */
export const COMMAND_HELP = {
  check: `Usage: messenger-email check SETTINGS.json [options]

Validates the Email Settings in SETTINGS.json (every problem, by its label), then connects to the SMTP
server as they say (TLS, login) without sending, and tells what to fix when that fails. Beside it, it
checks the Default Sender's domain in DNS: MX (bounces come back), SPF (the SMTP Host may send for the
domain), DMARC (what receivers do with mail that fails) and DKIM selectors given. Each finding is ok,
WARNING or PROBLEM, with the record found and a fix (see docs/deliverability.md).

Options:
  --password-env NAME      take the SMTP password from the environment variable NAME
                           (instead of the settings file)
  --client-secret-env NAME take the OAuth 2.0 client secret from the environment variable NAME
  --private-key-env NAME   take the service account's private key (PEM) from the variable NAME
  --send-test-to ADDRESS   also send a test email to ADDRESS (one attempt, no retries)
  --ca FILE                also trust this certificate authority (PEM) for TLS
  --dns-server ADDRESS     ask this DNS server (IP, optional :port; repeat for several) instead of
                           the system's
  --dkim-selector NAME     also check the DKIM key NAME._domainkey.<domain> (repeat for several)
  --check-sender ADDRESS   also check the domain of this sender (a custom or Census sender)
  --relay-address IP       the public address the SMTP Host sends from, when DNS does not say
  --skip-domain            do not check the sender's domain
  --strict                 exit 3 when the domain check finds a PROBLEM
  --json                   print one JSON object: { ok, stage, message, hint, issues, test, domain, ... }
  -h, --help               show this help

Exit codes: 0 the settings work, 1 they are not valid (or a file cannot be read),
2 the server cannot be reached, TLS or the login fails, or the test email was not accepted,
3 (with --strict) the connection works but the sender's domain has a PROBLEM.`,

  send: `Usage: messenger-email send --settings SETTINGS.json --to ADDRESS --subject TEXT --text FILE [options]
       messenger-email send --settings SETTINGS.json --to-file LIST.csv --subject TEXT --text FILE [options]

Sends one message with the Email Settings in SETTINGS.json, or the same message to every address of a
list (one message each, at the settings' throttle, with a progress line and a summary).

Options:
  --settings FILE          the Email Settings as JSON (required)
  --to ADDRESS             a recipient (repeat for several recipients of one message)
  --to-file LIST           a CSV file with an "email" column (or one address a line): one message
                           to each address (see "The list" below)
  --column NAME            the column of --to-file that holds the addresses (e.g. "Guardian Email")
  --remaining FILE         on Ctrl+C, write the addresses of --to-file not sent yet to FILE
  --subject TEXT           the subject line (required)
  --text FILE              the plain-text body
  --html FILE              the HTML body (give --text, --html or both)
  --attach FILE            attach a file (repeat for several)
  --emergency              send as an emergency message: ahead of others, from the default sender
  --census ADDRESS         the sending user's Census address (used with "Use Sender's Email from Census")
  --from ADDRESS           a custom sender (used with "Allow Custom Sender's Email Address")
  --password-env NAME      take the SMTP password from the environment variable NAME
  --client-secret-env NAME take the OAuth 2.0 client secret from the environment variable NAME
  --private-key-env NAME   take the service account's private key (PEM) from the variable NAME
  --ca FILE                also trust this certificate authority (PEM) for TLS
  --json                   print one JSON object with the delivery report (or the summary)
  -h, --help               show this help

The list: the address column is the one headed email, e-mail or email address, else the first whose
header names an email (Guardian Email), or the one --column names; another such column is not used,
and a warning says so. Each cell of that column holds an address, with or without a name
(Jo Smith <jo@example.org>). A cell with several addresses separated by "," or ";" is split: each
address gets its own message, so no one sees the others' addresses. An address is sent once however
often it appears, ignoring letter case and names. Text that is not an address is not sent and is
listed at the end. The summary counts messages sent, cancelled (given up after Max Errors Before
Cancel), refused (by the SMTP server) and invalid (not an address; never offered to the server).

Failed attempts are retried as the settings say (Minutes Between Retries, Max Errors Before Cancel).

Ctrl+C (or SIGTERM) stops the send at any moment, even while the files are still being read: nothing
more is handed to the SMTP server (a message already being transferred may finish), the messages not
sent yet are cancelled and counted on one line ("interrupted: N messages not sent"), and the summary
is printed. With --remaining FILE their addresses are written to FILE, a list for --to-file: send
again with --to-file FILE to resume where it stopped (addresses that failed are not in it). Press
Ctrl+C again to quit at once (exit code 130; no file is written then).

Exit codes: 0 delivered (every message, with --to-file), 1 invalid settings, message or arguments,
2 a message was not delivered (cancelled after failed attempts, refused by the server, not an
address, or interrupted with Ctrl+C).`,

  sink: `Usage: messenger-email sink [--port 2525] [--host 127.0.0.1] [--dir ./mail]

Runs a local SMTP server for development: it accepts every message (no TLS, no login), saves it as an
.eml file and prints one line per message, until Ctrl+C. Needs the smtp-server package.

Options:
  --port PORT              port to listen on; 0 picks a free one (default 2525)
  --host ADDRESS           address to listen on (default 127.0.0.1: this machine only)
  --dir FOLDER             folder to save messages in (default ./mail)
  -h, --help               show this help`,

  queue: `Usage: messenger-email queue DIR [--json]
       messenger-email queue DIR --delete ID
       messenger-email queue DIR --retry-now ID|all

Lists the messages waiting in the spool DIR (the directory given to spoolOutbox()), as a mail
server's queue tool does: id, kind, recipients, attempts, state, next attempt (local time, "now"
when due) and the last error; then a summary: how many wait, how many are emergencies, the files
moved to quarantine/ with their reason, and the process whose Mailer holds the spool, if one runs.
Listing works while a Mailer runs on the spool; nothing is sent and no message content is shown.

Options:
  --delete ID              delete the message ID from the spool: it is never sent
  --retry-now ID|all       make the message ID (or every waiting message) due now: it is attempted
                           as soon as a Mailer runs on the spool
  --json                   print one JSON object: { ok, dir, items, quarantined, lockedBy }
  -h, --help               show this help

--delete and --retry-now change the spool, so they refuse while a Mailer holds it: stop the
service first.

Exit codes: 0 done, 1 invalid arguments, no such directory, or no message with that id,
3 the spool is locked by a running Mailer (nothing was changed).`,
} as const;

/** A command of the tool. */
export type CommandName = keyof typeof COMMAND_HELP;

/** The tool's general help. */
export const GENERAL_HELP = `messenger-email: check Email Settings, send email with them, run a local SMTP sink, and
look after a spool.

Usage:
  messenger-email check SETTINGS.json [--password-env NAME] [--client-secret-env NAME]
                        [--private-key-env NAME] [--ca FILE] [--send-test-to ADDRESS]
                        [--dns-server ADDRESS] [--dkim-selector NAME] [--skip-domain] [--strict]
                        [--json]
  messenger-email send --settings SETTINGS.json (--to ADDRESS | --to-file LIST.csv) --subject TEXT
                       (--text FILE | --html FILE) [--attach FILE]... [--emergency]
                       [--census ADDRESS] [--from ADDRESS] [--password-env NAME]
                       [--client-secret-env NAME] [--private-key-env NAME] [--ca FILE] [--json]
  messenger-email sink [--port 2525] [--host 127.0.0.1] [--dir ./mail]
  messenger-email queue DIR [--delete ID | --retry-now ID|all] [--json]
  messenger-email help [COMMAND] | --help | --version

Commands:
  check   validate the settings, connect to the SMTP server (TLS, login), check the sender's
          domain (SPF, DMARC, MX) and say what to fix
  send    send a message, or the same message to every address of a CSV list
  sink    run a local SMTP server that saves every message as .eml, for development
  queue   list the messages waiting in a spool directory, delete one, or make them due now

The SMTP password comes from the settings file or, with --password-env NAME, from that environment
variable; so do an OAuth 2.0 client secret (--client-secret-env NAME) and a Google service account's
private key (--private-key-env NAME). None of them is ever printed.

Exit codes: 0 ok, 1 invalid arguments, files, settings or message, 2 the SMTP server cannot be used,
a message was not delivered, or the send was interrupted (Ctrl+C), 3 the spool is locked by a
running Mailer (queue --delete, --retry-now) or, with check --strict, the sender's domain has a
problem, 130 a second Ctrl+C.

Run 'messenger-email help COMMAND' for the options of a command.`;
