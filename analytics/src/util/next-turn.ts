/**
 * Resolves after the event loop has turned once (setImmediate): long work on the collector's main
 * thread awaits it every few hundred steps so requests arriving meanwhile are answered in between.
 */
export const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve))
