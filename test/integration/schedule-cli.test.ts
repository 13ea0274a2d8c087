import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { connectTemporal, temporalTarget } from '../../src/bootstrap';
import { loadConfig } from '../../src/config';
import { REMINDERS_SCHEDULE_ID } from '../../src/domain/ids';
import { ensureReminderSchedule } from '../../src/temporal/schedules';
import { runCommand } from '../helpers/cli';
import { localEnv } from '../helpers/temporal';

/**
 * `npm run schedule -- describe` against a cluster whose Schedule a worker created: the Schedule's
 * arguments are encrypted like every payload, so the command reads them with the deployment's codec
 * (it failed with "Unknown encoding: binary/encrypted" when its client had none).
 */
describe('npm run schedule', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await localEnv();
    // As a worker does at start: with the codec of the deployment (the development key here).
    const config = loadConfig({ TEMPORAL_ADDRESS: env.address });
    const { client, connection } = await connectTemporal(config, temporalTarget(config));
    try {
      await ensureReminderSchedule(client, { taskQueue: config.TEMPORAL_TASK_QUEUE });
    } finally {
      await connection.close();
    }
  });
  afterAll(async () => {
    await env?.teardown();
  });

  const schedule = (args: string[], extra: Record<string, string> = {}) => runCommand('src/cli/schedule.ts', args, { TEMPORAL_ADDRESS: env.address, ...extra });

  it('describes the Schedule a worker created, its encrypted arguments read with the codec', async () => {
    const { code, stdout, stderr } = await schedule(['describe']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toMatchObject({
      scheduleId: REMINDERS_SCHEDULE_ID,
      paused: false,
      timezone: 'Asia/Shanghai',
      workflowType: 'repaymentReminders',
      taskQueue: 'car-loans',
    });
  });

  it('cannot read them with another key: the codec is the configured one', async () => {
    const { code, stderr } = await schedule(['describe'], { TEMPORAL_CODEC_KEY: Buffer.alloc(32, 99).toString('base64'), TEMPORAL_CODEC_KEY_ID: 'other' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^schedule: /);
  });

  it('refuses a bad configuration with the variable named, before connecting', async () => {
    const { code, stderr } = await schedule(['describe'], { TEMPORAL_DEV_PORT: 'seventy' });
    expect(code).toBe(2);
    expect(stderr).toContain('TEMPORAL_DEV_PORT');
  });
});
