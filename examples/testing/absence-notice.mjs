// The code under test: what an application does when attendance is taken. It hands each notice to the Mailer
// and returns at once; the Mailer delivers at the settings' pace and retries as they say.

/**
 * Sends one absence notice per guardian, from the teacher's template sender when the district allows it.
 *
 * @param {import('messenger-email').Mailer} mailer
 * @param {{ student: string, guardian: string, date: string }[]} absences
 * @param {{ templateSender?: string }} [options]
 * @returns {Promise<import('messenger-email').DeliveryReport[]>} one report per notice, once each is delivered
 */
export function sendAbsenceNotices(mailer, absences, options = {}) {
  return Promise.all(
    absences.map(({ student, guardian, date }) =>
      mailer.send(
        {
          to: guardian,
          subject: `Absence: ${student}, ${date}`,
          text: `${student} was absent on ${date}. Please call the school office if this is unexpected.`,
        },
        options.templateSender === undefined ? {} : { customSender: options.templateSender },
      ),
    ),
  );
}

/**
 * Sends a closing alert to every guardian as an emergency: ahead of any waiting notice, from the district's default
 * sender whatever the template says.
 *
 * @param {import('messenger-email').Mailer} mailer
 * @param {string[]} guardians
 * @param {string} text
 */
export function sendClosingAlert(mailer, guardians, text) {
  return Promise.all(
    guardians.map((to) =>
      mailer.send(
        { to, subject: 'School closed today', text },
        { kind: 'emergency', customSender: 'teacher@district.example' },
      ),
    ),
  );
}
