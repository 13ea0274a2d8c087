// Fills .tools/ with the pinned Temporal binaries (nothing happens when they are already there).
import { temporalCli, temporalTestServer } from '../src/temporal/binaries';

for (const [name, find] of [['temporal CLI', temporalCli], ['time-skipping test server', temporalTestServer]] as const) {
  const exe = find();
  process.stdout.write(`${name}: ${exe.type === 'existing-path' ? exe.path : 'SDK download at first use'}\n`);
}
