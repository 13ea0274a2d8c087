/**
 * The repayment-reminders Schedule from the command line (the worker also ensures it at start):
 *
 *   npm run -s schedule              create or update it (idempotent), then describe it
 *   npm run -s schedule -- describe  print its definition, next and recent runs
 *   npm run -s schedule -- trigger   start a sweep now (what the Temporal UI's Trigger does)
 *
 * Connects with the same configuration as the worker (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, …).
 */
import { configOrExit, connectTemporal } from '../bootstrap';
import { REMINDERS_SCHEDULE_ID } from '../domain/ids';
import { describeReminderSchedule, ensureReminderSchedule } from '../temporal/schedules';

const USAGE = 'usage: schedule [ensure|describe|trigger]';

async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'ensure';
  if (!['ensure', 'describe', 'trigger'].includes(command) || argv.length > 1) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = configOrExit();
  // The Schedule's arguments are encrypted like every payload: describing it needs the codec.
  const { client, connection } = await connectTemporal(config);
  try {
    if (command === 'ensure') {
      const outcome = await ensureReminderSchedule(client, { taskQueue: config.TEMPORAL_TASK_QUEUE });
      process.stderr.write(`schedule ${REMINDERS_SCHEDULE_ID} ${outcome}\n`);
    } else if (command === 'trigger') {
      await client.schedule.getHandle(REMINDERS_SCHEDULE_ID).trigger();
      process.stderr.write(`schedule ${REMINDERS_SCHEDULE_ID} triggered\n`);
    }
    process.stdout.write(`${JSON.stringify(await describeReminderSchedule(client), null, 2)}\n`);
    return 0;
  } finally {
    await connection.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`schedule: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
