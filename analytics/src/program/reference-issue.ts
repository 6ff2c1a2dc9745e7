/** A fault in a program document that only the whole document shows: where (its path as keys and indexes), and what. */
export interface ReferenceIssue {
  path: (string | number)[]
  message: string
}
