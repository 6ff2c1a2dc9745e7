/** Why the privacy step changed an event: a personal-data key removed, an e-mail address or a phone number masked. */
export type ScrubReason = (typeof SCRUB_REASONS)[number]
/** Every scrub reason, in the order metrics list them. */
export const SCRUB_REASONS = ['personal_data_key', 'email', 'phone'] as const

// What counts as a contact detail or other personal data in an event (DESIGN: contact details
// live in their own encrypted table, never in events; guarantee P8). One definition, used by
// the privacy step and by the id check of the wire schema.

/**
 * Keys whose values are personal data, normalised (lower case, without spaces, dots, dashes and
 * underscores: `address_line`, `Address-Line` and `addressLine` are one key). Removed from
 * traits, properties and context wherever they appear; a program adds its own
 * (`privacy.personalDataKeys`).
 */
export const PERSONAL_DATA_KEYS: ReadonlySet<string> = new Set([
  // e-mail
  'email',
  'emailaddress',
  'mail',
  'mailaddress',
  // phone
  'phone',
  'phonenumber',
  'mobile',
  'mobilenumber',
  'mobilephone',
  'cell',
  'cellphone',
  'tel',
  'telephone',
  'telephonenumber',
  'fax',
  'faxnumber',
  // postal address
  'address',
  'addressline',
  'addressline1',
  'addressline2',
  'streetaddress',
  'street',
  'housenumber',
  'postalcode',
  'postcode',
  'zip',
  'zipcode',
  // name
  'name',
  'firstname',
  'lastname',
  'surname',
  'familyname',
  'givenname',
  'fullname',
  'middlename',
  'maidenname',
  // birth
  'birthday',
  'birthdate',
  'dateofbirth',
  'dob',
  // identity, insurance and payment numbers
  'insurancenumber',
  'insuranceid',
  'healthinsurancenumber',
  'policynumber',
  'ssn',
  'socialsecuritynumber',
  'nationalid',
  'nationalidnumber',
  'nhsnumber',
  'passport',
  'passportnumber',
  'taxid',
  'iban',
  'creditcard',
  'cardnumber',
  // network
  'ip',
  'ipaddress',
])

/** A key as the list holds it. */
export const normaliseKey = (k: string): string => k.toLowerCase().replace(/[ _.-]/g, '')

/** Endings that make a key personal data whatever it starts with (`customer_email`, `patient_lastname`). */
const PERSONAL_DATA_ENDINGS = [
  'email',
  'emailaddress',
  'phone',
  'phonenumber',
  'mobilenumber',
  'firstname',
  'lastname',
  'fullname',
  'surname',
  'dateofbirth',
  'birthdate',
  'insurancenumber',
  'postalcode',
  'zipcode',
  'streetaddress',
  'addressline',
]
/** Names of people under a role (`patient_name`): `name` alone on its own is a view's or a thing's name. */
const PERSON_NAMES = new Set(['patientname', 'customername', 'contactname', 'username', 'membername', 'caregivername', 'doctorname', 'nursename'])

/** Whether a (normalised) key names personal data: Attune's list, its endings, or `extra` (a program's own). */
export function isPersonalDataKey(normalised: string, extra?: ReadonlySet<string> | null): boolean {
  return (
    PERSONAL_DATA_KEYS.has(normalised) ||
    PERSON_NAMES.has(normalised) ||
    PERSONAL_DATA_ENDINGS.some((e) => normalised.endsWith(e)) ||
    (extra?.has(normalised) ?? false)
  )
}

// Events of one site repeat the same few dozen keys: each raw key's answer (Attune's list) is
// remembered, bounded since any sender can send any key.
const keyAnswers = new Map<string, { normalised: string; personal: boolean }>()

/** A raw key's normalised form and whether Attune's list names it (remembered per key). */
export function classifyKey(key: string): { normalised: string; personal: boolean } {
  let a = keyAnswers.get(key)
  if (a === undefined) {
    const normalised = normaliseKey(key)
    a = { normalised, personal: isPersonalDataKey(normalised) }
    if (keyAnswers.size >= 10_000) keyAnswers.clear()
    keyAnswers.set(key, a)
  }
  return a
}

// The look-behind starts a match only where a local part can start: without it a 30 KB run of
// local-part characters without an `@` costs about 1 s (quadratic backtracking), 20 s a body.
const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g
// International (+49 170 1234567, +1 (555) 010-0199; a time zone offset +01:00 is too short),
// with the 00 prefix (0049 170 1234567), or national with a trunk 0 (0170 1234567, 030/1234567):
// a run of digits, spaces, slashes, dots, dashes and brackets that is no part of a longer word,
// number, date or time. 9–15 digits (E.164 has at most 15; national numbers at least 9 here).
const PHONE = /(?:\+\d|(?<![A-Za-z0-9.+/-])0\d)[\d ()/.-]{6,}\d(?![\w-])/g
// North American numbers without a trunk prefix: (555) 010-0199, 555-010-0199, 555 010 0199.
const NANP = /(?<![\w-])(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4}(?![\w-])/g
// A day.month.year date (01.12.2026 10:30) reads like a national number.
const DATE_LIKE = /^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b/

const digits = (s: string): number => s.replace(/\D/g, '').length
const isPhone = (m: string): boolean => {
  const n = digits(m)
  return n >= 9 && n <= 15 && !DATE_LIKE.test(m)
}

/** What a text's masking found. */
export interface Masked {
  text: string
  emails: number
  phones: number
}

function maskPlain(text: string): Masked {
  let emails = 0
  let phones = 0
  let out = text.replace(EMAIL, () => (emails++, '[redacted]'))
  out = out.replace(PHONE, (m) => (isPhone(m) ? (phones++, '[redacted]') : m)).replace(NANP, () => (phones++, '[redacted]'))
  return { text: out, emails, phones }
}

/**
 * A text with its e-mail addresses and phone numbers replaced by `[redacted]`, and how many of
 * each. Fullwidth and other compatibility forms (＋４９, ＠) are read as their plain letters, and
 * a percent-encoded text (`jane%40example.com`) as decoded: where those hold a contact detail,
 * the plain or decoded text is what is kept, masked.
 */
export function maskContacts(text: string): Masked {
  const plain = maskPlain(text)
  if (plain.emails + plain.phones > 0) return plain
  if (NON_ASCII.test(text)) {
    const normal = maskPlain(text.normalize('NFKC'))
    if (normal.emails + normal.phones > 0) return normal
  }
  if (/%(40|2b)/i.test(text)) {
    let decoded: string | null = null
    try {
      decoded = decodeURIComponent(text)
    } catch {
      decoded = null
    }
    if (decoded !== null) {
      const masked = maskPlain(decoded)
      if (masked.emails + masked.phones > 0) return masked
    }
  }
  return plain
}

/** Whether a text holds an e-mail address or a phone number (an event name must not). */
export const holdsContact = (text: string): boolean => CONTACT_HINT.test(text) && maskContacts(text).text !== text

/** Cheap test for text that may hold an e-mail address or a phone number (most strings hold neither): worth masking. */
export const CONTACT_HINT = /@|\+\d|(?<![A-Za-z0-9.+/-])0\d[\d ()/.-]{6,}\d|\d{3}[-.) ] ?\d{3}[-. ]\d{4}|[\u0080-\uffff]|%(40|2b)/i

/** Any character outside ASCII (where full-width digits and look-alike @ signs hide). */
const NON_ASCII = /[\u0080-\uffff]/
const PERCENT = /%(40|2b)/i
const NUMBER_HINT = /(?<![A-Za-z0-9.+/-])0\d[\d ()/.-]{6,}\d|\d{3}[-.) ] ?\d{3}[-. ]\d{4}/

/**
 * CONTACT_HINT for a whole request body, as a few simple scans (one regex of alternations over
 * 40 KB cost a twentieth of ingesting it): what it finds, CONTACT_HINT finds, and the other way.
 */
export function mayHoldContactText(text: string): boolean {
  return text.includes('@') || text.includes('+') || NON_ASCII.test(text) || PERCENT.test(text) || NUMBER_HINT.test(text)
}

/** Whether an id (user, anonymous, previous, group) is an e-mail address or a phone number, as a whole. */
export function isContactId(id: string): boolean {
  const t = (NON_ASCII.test(id) ? id.normalize('NFKC') : id).trim().replace(/^(tel|mailto|sms):/i, '')
  if (t.includes('@') && /[^\s@]+@[^\s@]+\.[A-Za-z]{2,}/.test(t)) return true
  if (!/^[\d\s()+/.-]+$/.test(t)) return false
  return (t.startsWith('+') || t.startsWith('0') || t.startsWith('(')) && isPhone(t)
}
