// Ends the run with what CI and people need to read: every test that did not run, with the reason
// its suite gives (test/helpers/skips.ts puts it in the title), then one plain line
// "Tests: N passed, N failed, N skipped". With REQUIRE_ALL_SUITES=1 (set by .ci/run) a skipped test
// fails the run, whatever skipped it. (A `-t` filter marks the tests it leaves out as skipped too.)
const path = require('node:path');

class SummaryReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    this.error = undefined;
  }

  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests } = results;
    const groups = new Map();
    for (const file of results.testResults) {
      for (const t of file.testResults) {
        if (t.status !== 'pending' && t.status !== 'todo' && t.status !== 'skipped') continue;
        const where = `${path.relative(this.rootDir, file.testFilePath)}: ${t.ancestorTitles[0] ?? t.title}`;
        groups.set(where, (groups.get(where) ?? 0) + 1);
      }
    }
    const out = [];
    if (groups.size > 0) {
      const n = [...groups.values()].reduce((a, b) => a + b, 0);
      out.push('', `SKIPPED: ${n} test${n === 1 ? '' : 's'} did not run`);
      for (const [where, count] of groups) out.push(`  ${where} (${count} test${count === 1 ? '' : 's'})`);
      if (process.env.REQUIRE_ALL_SUITES === '1') {
        this.error = new Error(`REQUIRE_ALL_SUITES=1: ${n} test(s) were skipped`);
        out.push('  REQUIRE_ALL_SUITES=1: a skipped test fails this run');
      }
    }
    out.push('', `Tests: ${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests + numTodoTests} skipped`);
    process.stdout.write(`${out.join('\n')}\n`);
  }

  getLastError() {
    return this.error;
  }
}
module.exports = SummaryReporter;
