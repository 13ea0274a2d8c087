/**
 * Replays every stored history against two versions of the workflow code and compares the
 * commands each issues, inputs included: the replay test proves a change deterministic (command
 * types and ids), this proves it issues the very same commands with the very same inputs.
 *
 *   npx tsx scripts/replay-commands/compare.ts <git-ref> [history-name-filter]
 *
 * The other version is `<git-ref>`'s src/ (checked out under .replay-commands/, ignored by git).
 * Prints each history whose commands differ, with the first difference; exits 1 if any does.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { actKeyRingFromConfig, workflowBundlerOptions } from '../../src/temporal/actKeys';
import { loanWorkflowIdOf, storedHistories } from '../../test/helpers/histories';

const ROOT = path.resolve(__dirname, '..', '..');
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

function checkout(ref: string): string {
  const dir = path.join(ROOT, '.replay-commands', ref.replace(/[^\w.-]/g, '_'));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const tar = execFileSync('git', ['-C', ROOT, 'archive', '--format=tar', ref, 'src'], { maxBuffer: 1 << 28 });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

function bundle(root: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: path.join(root, 'src', 'workflows', 'index.ts'),
    workflowInterceptorModules: [path.join(root, 'src', 'workflows', 'logAttributes.ts'), require.resolve('./interceptors')],
    ...workflowBundlerOptions(actKeyRingFromConfig(loadConfig({}))),
    logger: quiet,
  });
}

async function commandsOf(workflowBundle: WorkflowBundleWithSourceMap): Promise<Map<string, { commands: string[]; error?: string }>> {
  const out = new Map<string, { commands: string[]; error?: string }>();
  const histories = storedHistories();
  const names = new Map(histories.map(([name, h]) => [loanWorkflowIdOf(h), name]));
  for (const [name] of histories) out.set(name, { commands: [] });
  const results = Worker.runReplayHistories(
    {
      workflowBundle,
      sinks: {
        commandLog: {
          record: {
            fn: (info, command: unknown) => out.get(names.get(info.workflowId) ?? info.workflowId)?.commands.push(JSON.stringify(command)),
            callDuringReplay: true,
          },
        },
      },
    },
    histories.map(([, history]) => ({ workflowId: loanWorkflowIdOf(history), history })),
  );
  for await (const r of results) if (r.error) out.get(names.get(r.workflowId) ?? r.workflowId)!.error = r.error.message;
  return out;
}

async function main(): Promise<void> {
  const [ref, filter] = process.argv.slice(2);
  if (!ref) throw new Error('usage: compare.ts <git-ref> [history-name-filter]');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const [before, after] = [await commandsOf(await bundle(checkout(ref))), await commandsOf(await bundle(ROOT))];
  let differing = 0;
  for (const [name, b] of before) {
    if (filter && !name.includes(filter)) continue;
    const a = after.get(name)!;
    const first = b.commands.findIndex((c, i) => c !== a.commands[i]);
    const same = !b.error && !a.error && b.commands.length === a.commands.length && first === -1;
    if (same) {
      console.log(`same       ${name} (${a.commands.length} commands)`);
      continue;
    }
    differing++;
    const at = first === -1 ? Math.min(b.commands.length, a.commands.length) : first;
    console.log(`DIFFERENT  ${name}: ${b.error ?? ''} ${a.error ?? ''}\n  command ${at}\n  ${ref}: ${b.commands[at] ?? '(none)'}\n  now: ${a.commands[at] ?? '(none)'}`);
  }
  process.exit(differing > 0 ? 1 : 0);
}

void main();
