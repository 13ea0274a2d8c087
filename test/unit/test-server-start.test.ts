import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startTestServer } from '../../src/temporal/ephemeral';

// The SDK kills a test server that has not answered within five seconds; the suite starts it again
// (a busy machine), and only for that failure.

const late = () => new Error('Failed to start ephemeral server: ephemeral server at 127.0.0.1:39753 did not start within 5s. Make sure another download isn\u2019t stuck');
const env = {} as TestWorkflowEnvironment;

describe('startTestServer', () => {
  let stderr: jest.SpyInstance;
  beforeEach(() => (stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true)));
  afterEach(() => stderr.mockRestore());

  it('starts the server again when it did not answer in time, and says so', async () => {
    const start = jest.fn<Promise<TestWorkflowEnvironment>, []>().mockRejectedValueOnce(late()).mockRejectedValueOnce(late()).mockResolvedValueOnce(env);
    await expect(startTestServer(start)).resolves.toBe(env);
    expect(start).toHaveBeenCalledTimes(3);
    expect(stderr).toHaveBeenCalledWith(expect.stringContaining('attempt 2 of 5'));
  });

  it('throws any other failure at once', async () => {
    const start = jest.fn<Promise<TestWorkflowEnvironment>, []>().mockRejectedValue(new Error('ephemeral server executable does not exist: /nowhere'));
    await expect(startTestServer(start)).rejects.toThrow('does not exist');
    expect(start).toHaveBeenCalledTimes(1);
  });

  it('gives up after five late starts with the last failure', async () => {
    const start = jest.fn<Promise<TestWorkflowEnvironment>, []>().mockImplementation(() => Promise.reject(late()));
    await expect(startTestServer(start)).rejects.toThrow('did not start within 5s');
    expect(start).toHaveBeenCalledTimes(5);
  });
});
