// Public surface of analytics/: everything that touches ClickHouse.
export { createDb } from './src/storage/client.ts'
export type { Db, QueryParams } from './src/storage/client.ts'
export { storageConfigFromEnv, storageConfigSchema } from './src/storage/storage-config.ts'
export type { StorageConfig } from './src/storage/storage-config.ts'
export { migrate, loadMigrations, splitStatements, MigrationError } from './src/storage/migrate.ts'
export type { Migration, MigrationReport } from './src/storage/migrate.ts'
export { TABLES } from './src/storage/tables.ts'
export type { TableName } from './src/storage/tables.ts'
export { chTime, blankEventRow, encodeEventRow, EVENT_COLUMNS } from './src/storage/event-row.ts'
export { nextTurn } from './src/util/next-turn.ts'
export type { EventRow } from './src/storage/event-row.ts'
export { existingMessageIds, insertEventFile, insertEventLines, landedIdCount, landedIdPages } from './src/storage/events.ts'
export { readProfile, readTimeline, levelWithHysteresis, adherenceOf } from './src/profiles/profiles.ts'
export { ProfileStore } from './src/profiles/profile-store.ts'
export { linkedPatient } from './src/profiles/profiles.ts'
export { decide, actionChannel, bestFor, inQuietHours, preferredChannel } from './src/decide/decide.ts'
export type { DecideInput, DecideOutput, DecisionAnswer, DecisionChannel, DecisionRecord, RecentDecision, SuppressionReason } from './src/decide/decide.ts'
export { evaluate, compare, effectiveLevel, needRank } from './src/decide/evaluate.ts'
export type { ConditionTrace, EvaluationInput } from './src/decide/evaluate.ts'
export { sql } from './src/storage/sql.ts'
export { compileAudience } from './src/decide/compile-sql.ts'
export type { AudienceOptions, CompiledAudience } from './src/decide/compile-sql.ts'
export type { Action, Condition, Comparison, Rule, RuleClass, Stage, PlanStep, ContactPolicy } from './src/program/rule-schema.ts'
export { inRuleHoldout, inProgramHoldout, holdoutDraw } from './src/decide/holdout.ts'
export { upliftReport, upliftOptionsSchema } from './src/reports/uplift.ts'
export type { UpliftOptions, UpliftReport, RuleUplift, ProgramUplift } from './src/reports/uplift.ts'
export { wilsonInterval, newcombeInterval, compareGroups } from './src/reports/uplift-stats.ts'
export type { Interval, UpliftComparison, UpliftGroup } from './src/reports/uplift-stats.ts'
export type { LandedActor, OwnEvent } from './src/profiles/profile-store.ts'
export { goalAttribution } from './src/reports/attribution.ts'
export { clusterNeeds, kMeans } from './src/profiles/clusters.ts'
export type { Clustering, ClusteringSettings, NeedCluster } from './src/profiles/clusters.ts'
export { storeClustering, latestClustering, MEMBER_BATCH_ROWS } from './src/profiles/cluster-runs.ts'
export { patternFromCluster } from './src/profiles/cluster-pattern.ts'
export type { AttributionModel, AttributionRow } from './src/reports/attribution.ts'
export type { Profile, NeedScore, TimelineEntry } from './src/profiles/profiles.ts'
export { programSchema, loadPrograms, resolveProgram, programKey, catalogueOf, ProgramDocumentError } from './src/program/programs.ts'
export type { Program, ProgramKey, LoadedProgram, ProgramIssue, ResolveOptions, Channel, Catalogue } from './src/program/programs.ts'
export { KEY_SCOPES, WRITE_KEY_SCOPES, DEFAULT_SECRET_SCOPES, MIN_SECRET_CHARS, redactDocument, secretHash, secretForm } from './src/program/program-keys.ts'
export type { KeyScope, SecretForm } from './src/program/program-keys.ts'
export {
  canonicalJson,
  documentChecksum,
  programVersions,
  programVersionDocument,
  redactStoredVersions,
  storeProgramVersion,
} from './src/program/program-versions.ts'
export type { ProgramVersion, ProgramVersionSource, NewProgramVersion } from './src/program/program-versions.ts'
export {
  CHANNELS,
  CHANNEL_TABLE,
  DECISION_CHANNELS,
  OUTBOUND_CHANNELS,
  CONSENT_SCOPES,
  BROWSER_CONSENT_SCOPES,
  BROWSER_CHANNELS,
  CLICK_CHANNELS,
  channelOfEvent,
} from './src/program/channels.ts'
export type { ConsentScope } from './src/program/channels.ts'
export { programJsonSchema } from './src/program/program-json-schema.ts'
export { patternSchema } from './src/program/program-sections.ts'
export type { Need, ContentItem, ContentChannels, Goal, GoalEvent, Level, Questionnaire, Pattern } from './src/program/program-sections.ts'
export { isContentUsable, matchesUrlPattern, urlPatternToRegExp } from './src/program/content-availability.ts'
export { Random, seedOf, hash32 } from './src/util/random.ts'
export { wallTime, zoneOffset } from './src/util/zone-time.ts'
export { DAY_MS, dayNumber, dayText, utcDayNumber } from './src/util/days.ts'
