import { hash32 } from '../util/random.ts'

// Holdouts: who is held back from a rule (or from the whole program) is a pure function of the
// person's id and the rule's (or program's) id, so every collector process, the dispatcher and the
// uplift report agree without storing an assignment, and a person stays in the same group for as
// long as the share does not change. Each key hashes to its own uniform draw: a person held out of
// one rule is no more or less likely to be held out of another (property-tested in holdout.test.ts).
// Raising a share only adds people to the control group; lowering it only releases some.

const TWO_32 = 4294967296

/** The person's uniform draw in [0, 1) for a holdout kind and id: the 32-bit hash of `person|kind|id` over 2^32. */
export function holdoutDraw(person: string, kind: 'rule' | 'program', id: string): number {
  return hash32(`${person}|${kind}|${id}`) / TWO_32
}

/**
 * Whether the person is in the rule's holdout (its control group) at this share (0–1).
 * @example inRuleHoldout('p-1029', 'email-itch-tips', 0.1) // the same answer on every call
 */
export function inRuleHoldout(person: string, ruleId: string, share: number): boolean {
  return share > 0 && holdoutDraw(person, 'rule', ruleId) < share
}

/**
 * Whether the patient is in the program-level holdout (basic service only) at this share (0–1).
 * @example inProgramHoldout('p-1029', 'psoriasis-demo', program.contactPolicy.programHoldout)
 */
export function inProgramHoldout(person: string, programId: string, share: number): boolean {
  return share > 0 && holdoutDraw(person, 'program', programId) < share
}
