/**
 * The namespace of browsers' anonymous ids. What a write key sends as `anonymousId` is whatever
 * the page (or an attacker) chose: stored as it is, an anonymous id equal to a patient's id would
 * write to and decide as that patient's profile (every aggregate keys a person by user id, else
 * anonymous id). So a write key's anonymous id is stored and looked up as `browser:<id>`, and no
 * user id may start with the prefix. A backend naming a browser it learned of (to link or import
 * it) uses the same form.
 */
export const BROWSER_ID_PREFIX = 'browser:'

/** The stored id of a browser's anonymous id. */
export const browserId = (anonymousId: string): string => `${BROWSER_ID_PREFIX}${anonymousId}`
