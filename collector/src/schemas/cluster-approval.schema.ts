import type { z } from 'zod'
import { patternSchema } from '../../../analytics/index.ts'

/**
 * The body of `POST /v1/admin/programs/:id/clusters/:clusterId/approve` (optional): the new pattern
 * card's id and name, checked as the program document checks them; an unknown field is refused so a
 * misspelt one is not silently ignored.
 * @example { "id": "visible-and-low", "name": "Visible and low" }
 */
export const clusterApprovalSchema = patternSchema.pick({ id: true, name: true }).partial().strict()

/** A cluster approval request. */
export type ClusterApproval = z.infer<typeof clusterApprovalSchema>
