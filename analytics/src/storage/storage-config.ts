import { z } from 'zod'

/** Where ClickHouse lives: the embedded engine in a data directory, or a server. */
export const storageConfigSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('embedded'), path: z.string().min(1) }),
  z.object({
    mode: z.literal('server'),
    url: z.string().url(),
    user: z.string().default('default'),
    password: z.string().default(''),
    database: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier')
      .default('default'),
    requestTimeoutMs: z.number().int().positive().default(30_000),
  }),
])

/** Parsed storage settings. */
export type StorageConfig = z.infer<typeof storageConfigSchema>

/** Reads CLICKHOUSE_* (a server) or falls back to the embedded engine under the data directory. */
export function storageConfigFromEnv(env: NodeJS.ProcessEnv, dataDir: string): StorageConfig {
  if (env.CLICKHOUSE_URL) {
    return storageConfigSchema.parse({
      mode: 'server',
      url: env.CLICKHOUSE_URL,
      user: env.CLICKHOUSE_USER || undefined,
      password: env.CLICKHOUSE_PASSWORD || undefined,
      database: env.CLICKHOUSE_DATABASE || undefined,
    })
  }
  return { mode: 'embedded', path: `${dataDir.replace(/\/$/, '')}/clickhouse` }
}
