/** Every ClickHouse table and view Attune owns, by role. SQL names tables only through this. */
export const TABLES = {
  /** Append-only landing table: one row per accepted touch point, each message id once. */
  events: 'events',
  /** (program, message_id) of every landed event: the writer's de-duplication index. */
  eventIds: 'event_ids',
  /** Inferred needs: need weights of content shown, per person id, need and day (decayed at read time). */
  needDayWeights: 'need_day_weights',
  /** Anonymous ids (and aliases) seen with a patient id. */
  identityLinks: 'identity_links',
  /** Questionnaire answers per person id and question; the latest counts. */
  questionnaireAnswers: 'questionnaire_answers',
  /** Touches per person id and channel: count and last time. */
  channelTouches: 'channel_touches',
  /** Goal conversions per person id and goal: times, first and last. */
  goalConversions: 'goal_conversions',
  /** Touches per person id that showed catalogued content. */
  profiledTouches: 'profiled_touches',
  /** Goal conversions per person id, goal and hour (adherence reads check-in days from it). */
  goalHours: 'goal_hours',
  /** Consent per person id and scope (channel or purpose); the latest record counts. */
  consentStates: 'consent_states',
  /** Touches per person id, day, channel and event name (Attune's own events excluded). */
  activityDays: 'activity_days',
  /** Decisions per person id, day, rule, channel and outcome. */
  decisionDays: 'decision_days',
  /** The latest dialogue-plan stage per person id. */
  stageStates: 'stage_states',
  /** Clinical dates per person id and name (identify traits.dates); the latest counts. */
  patientDates: 'patient_dates',
  /** Every id that arrived as a user id: the patients batch audiences select from. */
  patients: 'patients',
  /** Every accepted version of every program document (from its file or the admin API). */
  programVersions: 'program_versions',
  /** Every need clustering run: settings and the clusters offered (a row marks the run complete). */
  needClusterRuns: 'need_cluster_runs',
  /** Who was in which cluster of each run. */
  needClusterMembers: 'need_cluster_members',
  /** Migrations applied, with checksums. */
  migrations: 'schema_migrations',
} as const

/** A table name from {@link TABLES}. */
export type TableName = (typeof TABLES)[keyof typeof TABLES]
