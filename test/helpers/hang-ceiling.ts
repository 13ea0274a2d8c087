// Jest's per-test timeout is only the hang detector, for every project: each wait inside a test is
// on an event with its own ceiling, so this one must never be what a slow machine hits (jest's
// default is 5 s). Twenty minutes: a workflow test that takes a minute alone took over five on a
// machine four times oversubscribed (two full suites under two stress-ng loads), and a property
// test's thousand runs slow down the same way. No test sets a shorter one.
jest.setTimeout(20 * 60_000);
