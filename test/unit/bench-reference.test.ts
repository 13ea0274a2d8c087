import { readFileSync } from 'node:fs';
import { REFERENCE_HISTORY, referenceShape } from '../../bench/baseline/reference';
import { actsOf, countsOf } from '../../bench/baseline/shape';

// Benchmark 1's fixed reference (issue 17): the no-op the system must beat by 1.3× is release
// 0.1.0's command shape, read from its stored history; if the file or the reader changed, the
// target would silently mean something else.
describe('the 0.1.0 reference shape of benchmark 1', () => {
  const events = (JSON.parse(readFileSync(REFERENCE_HISTORY, 'utf8')) as { events: Record<string, unknown>[] }).events;
  const shape = referenceShape(undefined);

  it('is the old application: 48 activities, 3 acts raced against 3 timers, ending by starting its servicing child', () => {
    const c = countsOf(events);
    expect(c).toMatchObject({ activities: 48, updates: 3, timers: 3, children: 1 });
    expect(actsOf(shape)).toBe(3);
    expect(shape.end).toBe('child');
  });

  it('replays every activity of the history as a no-op, batch by batch', () => {
    const scheduled = shape.segments.flatMap((s) => s.batches).reduce((n, b) => n + b.activities, 0);
    expect(scheduled).toBe(48);
  });
});
