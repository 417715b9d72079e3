/** Jest runs the TypeScript sources through ts-jest; the servers are started once per run. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }], '^.+\\.mjs$': '<rootDir>/test/harness/esm-transform.js' },
  // typebox ships only ES modules, which jest's loader cannot require on Node 20: transformed (above).
  transformIgnorePatterns: ['/node_modules/(?!typebox/)'],
  globalSetup: '<rootDir>/test/harness/global-setup.ts',
  globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
  // Integration tests share one Temporal server and one MongoDB server; two cores run two files at a time.
  maxWorkers: 2,
  testTimeout: 120000,
  verbose: true,
};
