import { loadPrograms, type LoadedProgram } from '../../../analytics/index.ts'
import { configFromEnv } from '../config.ts'

/**
 * The program a command line names, read as the collector reads programs (ATTUNE_PROGRAMS,
 * `env:NAME` keys and secrets from the environment); `stop` is called with what is wrong.
 */
export function programArg(id: string | undefined, stop: (message: string) => never): LoadedProgram {
  let programs: LoadedProgram[]
  try {
    programs = loadPrograms(configFromEnv(process.env).programsDir, process.env)
  } catch (e) {
    stop((e as Error).message)
  }
  const program = programs.find((p) => p.program.id === id)
  if (!program) stop(`no program ${id}; programs: ${programs.map((p) => p.program.id).join(', ')}`)
  return program
}
