/**
 * Rolling a build of the workers out, and the old one back in (Worker Versioning; the procedure
 * is in docs/architecture.md, "Releasing workflow code"):
 *
 *   npm run -s release -- build-id               this checkout's build id (BUILD_ID, else computed)
 *   npm run -s release -- status                 the deployment's versions, and what still runs on each
 *   npm run -s release -- promote [BUILD] [--ramp PERCENT]
 *                                                make BUILD (default: this checkout's) current, or ramp it
 *   npm run -s release -- move FROM [--to BUILD] [--where QUERY]
 *                                                move FROM's pinned runs onto BUILD (default: the current one)
 *   npm run -s release -- retire BUILD           delete a version nothing runs on (its workers stopped)
 *
 * Connects with the same configuration as the worker (TEMPORAL_ADDRESS, WORKER_DEPLOYMENT_NAME, …).
 */
import { parseArgs } from 'node:util';
import { configOrExit, connectTemporal } from '../bootstrap';
import { buildId } from '../temporal/buildId';
import { describeDeployment, moveRuns, openRuns, retireVersion, setCurrentVersion, setRampingVersion } from '../temporal/deployments';

const USAGE = 'usage: release build-id | status | promote [BUILD] [--ramp PERCENT] | move FROM [--to BUILD] [--where QUERY] | retire BUILD';

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { ramp: { type: 'string' }, to: { type: 'string' }, where: { type: 'string' } }, strict: true });
  } catch (err) {
    return usage((err as Error).message);
  }
  const [command, arg, ...rest] = parsed.positionals;
  const { values } = parsed;
  if (rest.length > 0) return usage(`unexpected ${rest.join(' ')}`);
  const config = configOrExit();
  const deploymentName = config.WORKER_DEPLOYMENT_NAME;
  const version = (build: string) => ({ deploymentName, buildId: build });

  if (command === 'build-id') {
    process.stdout.write(`${buildId(config)}\n`);
    return 0;
  }
  if (!['status', 'promote', 'move', 'retire'].includes(command ?? '')) return usage(command ? `unknown command ${command}` : 'a command is needed');
  const ramp = values.ramp === undefined ? undefined : Number(values.ramp);
  if (ramp !== undefined && !(Number.isInteger(ramp) && ramp >= 0 && ramp <= 100)) return usage('--ramp takes a whole percentage, 0 to 100');

  const { client, connection } = await connectTemporal(config);
  try {
    switch (command) {
      case 'status': {
        const deployment = await describeDeployment(client, deploymentName);
        if (!deployment) {
          process.stdout.write(`${JSON.stringify({ deploymentName, versions: [] }, null, 2)}\n`);
          return 0;
        }
        const versions = [];
        for (const v of deployment.versions) {
          const runs = await openRuns(client, version(v.buildId));
          const byStage: Record<string, number> = {};
          for (const r of runs) byStage[`${r.type}:${r.stage ?? '-'}`] = (byStage[`${r.type}:${r.stage ?? '-'}`] ?? 0) + 1;
          versions.push({ ...v, pinnedRunsOpen: runs.length, byStage });
        }
        process.stdout.write(`${JSON.stringify({ ...deployment, versions }, null, 2)}\n`);
        return 0;
      }
      case 'promote': {
        const target = version(arg ?? buildId(config));
        if (ramp === undefined || ramp === 100) await setCurrentVersion(client, target);
        else await setRampingVersion(client, target, ramp);
        process.stderr.write(ramp === undefined || ramp === 100 ? `${target.buildId} is current\n` : `${target.buildId} ramping at ${ramp}%\n`);
        return 0;
      }
      case 'move': {
        if (!arg) return usage('move needs the build to move runs from');
        const to = values.to ?? (await describeDeployment(client, deploymentName))?.current;
        if (!to) return usage('no current version to move onto: give --to');
        const moved = await moveRuns(client, version(arg), version(to), values.where);
        for (const r of moved) process.stdout.write(`${r.workflowId} (${r.type}, ${r.stage ?? '-'})\n`);
        process.stderr.write(`moved ${moved.length} run(s) from ${arg} to ${to}\n`);
        return 0;
      }
      case 'retire': {
        if (!arg) return usage('retire needs the build to retire');
        await retireVersion(client, version(arg));
        process.stderr.write(`${arg} retired\n`);
        return 0;
      }
    }
    return usage(`unknown command ${command}`);
  } finally {
    await connection.close();
  }
}

function usage(message: string): number {
  process.stderr.write(`${message}\n${USAGE}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`release: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
