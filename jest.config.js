// Three projects so each layer runs on the server it needs:
//   unit        pure logic, no servers
//   workflow    workflows on the time-skipping test server
//   integration the dev server, a real PostgreSQL (or PGlite), the sandbox over HTTP
//   reliability the system as separate processes killed with signals, on a real PostgreSQL
//   topology    the production topology: a Temporal cluster built from Go on PostgreSQL, two workers,
//               faults (`npm run test:topology`, a step of .ci/run; not in `npm test`: its first run
//               builds the Temporal server, minutes)
const swc = ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }];
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)sx?$': swc },
  // jose and @noble ship ESM only; let swc turn them into CommonJS for jest's module system.
  transformIgnorePatterns: ['/node_modules/(?!(jose|@noble)/)'],
  setupFilesAfterEnv: ['<rootDir>/test/helpers/hang-ceiling.ts'],
};
const servers = { setupFilesAfterEnv: ['<rootDir>/test/helpers/hang-ceiling.ts', '<rootDir>/test/helpers/server-tests.ts'] };

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'workflow', testMatch: ['<rootDir>/test/workflow/**/*.test.ts'], ...servers },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'], ...servers },
    { ...common, displayName: 'reliability', testMatch: ['<rootDir>/test/reliability/**/*.test.ts'], ...servers },
    ...(process.env.CAR_LOANS_TOPOLOGY === '1'
      ? [{ ...common, displayName: 'topology', testMatch: ['<rootDir>/test/topology/**/*.test.ts'], ...servers }]
      : []),
  ],
  collectCoverageFrom: ['src/domain/**/*.ts'],
  coverageThreshold: { 'src/domain/': { lines: 95 } },
  coverageReporters: ['text-summary', 'text'],
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
};
