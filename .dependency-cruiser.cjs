// The dependency rules of Attune's parts (docs/architecture.md): each part's public surface is its
// index.ts, dependencies point one way (sdk alone; analytics → nothing of ours; collector →
// analytics; population → collector, analytics), and there are no cycles. `npm test` runs this check (`npm run deps`).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A cycle makes two modules one: split what both need into a third.',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'no-type-cycles',
      severity: 'error',
      comment: 'Type-only cycles too: they keep two files from being understood apart.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'analytics-internals',
      severity: 'error',
      comment: 'Other parts use analytics through analytics/index.ts, never its src/ files.',
      from: { pathNot: '^analytics/' },
      to: { path: '^analytics/src/' },
    },
    {
      name: 'collector-internals',
      severity: 'error',
      comment: 'Other parts use the collector through collector/index.ts, never its src/ files.',
      from: { pathNot: '^collector/' },
      to: { path: '^collector/src/' },
    },
    {
      name: 'analytics-layers',
      severity: 'error',
      comment: 'Inside analytics: util and storage at the bottom, then the program document, then profiles, then decisions and reports.',
      from: { path: '^analytics/src/(util|storage)/', pathNot: '\\.test\\.ts$' },
      to: { path: '^analytics/src/(program|profiles|decide|reports)/' },
    },
    {
      name: 'analytics-program-below-models',
      severity: 'error',
      comment: 'The program document knows nothing of the models that read it.',
      from: { path: '^analytics/src/program/', pathNot: '\\.test\\.ts$' },
      to: { path: '^analytics/src/(profiles|decide|reports)/' },
    },
    {
      name: 'analytics-profiles-below-decisions',
      severity: 'error',
      comment: 'Profiles are read by decisions and reports, never the other way; reports may use the holdout assignment of decide.',
      from: { path: '^analytics/src/profiles/', pathNot: '\\.test\\.ts$' },
      to: { path: '^analytics/src/(decide|reports)/' },
    },
    {
      name: 'analytics-decide-below-reports',
      severity: 'error',
      comment: 'Reports measure decisions (and use the holdout assignment of decide); decisions never read reports.',
      from: { path: '^analytics/src/decide/', pathNot: '\\.test\\.ts$' },
      to: { path: '^analytics/src/reports/' },
    },
    {
      name: 'population-internals',
      severity: 'error',
      comment: 'Tests and benchmarks use the synthetic population through population/index.ts, never its src/ files.',
      from: { pathNot: '^population/' },
      to: { path: '^population/src/' },
    },
    {
      name: 'analytics-is-below-the-collector',
      severity: 'error',
      comment: 'analytics (ClickHouse, programs, models, decisions) knows nothing of the HTTP service, the SDK, tests or benchmarks.',
      from: { path: '^analytics/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(collector|population|sdk|test|bench|dashboards)/' },
    },
    {
      name: 'analytics-tests-below-the-collector',
      severity: 'error',
      comment: "analytics' unit tests may use the shared test helpers (temporary directories), not the collector.",
      from: { path: '^analytics/.*\\.test\\.ts$' },
      to: { path: '^(collector|population|sdk|bench|dashboards)/' },
    },
    {
      name: 'collector-does-not-reach-up',
      severity: 'error',
      comment:
        'The collector does not import the synthetic population, tests, benchmarks or the SDK (it serves the built SDK as files); the demo seed runs before it starts.',
      from: { path: '^collector/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(population|sdk|test|bench|dashboards)/' },
    },
    {
      name: 'population-drives-the-collector',
      severity: 'error',
      comment: 'The synthetic population feeds the collector and reads programs; it imports no tests, benchmarks or SDK code.',
      from: { path: '^population/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(sdk|test|bench|dashboards)/' },
    },
    {
      name: 'sdk-stands-alone',
      severity: 'error',
      comment: 'The browser SDK ships alone: it imports nothing of the server (types from the collector only as `import type`).',
      from: { path: '^sdk/src/' },
      to: { path: '^(collector|analytics|population|test|bench)/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|sdk/dist|data|bench/\\.cache)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.mjs', '.js', '.cjs', '.json'] },
  },
}
