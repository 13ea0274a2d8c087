/**
 * Summarises a V8 CPU profile (node --cpu-prof, or `npm run bench -- --profile`) by where the time
 * was spent: self time grouped by package or source folder, and the top functions.
 *
 *   npx tsx bench/profileSummary.ts <file.cpuprofile> [--top 25]
 */
import fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** `@temporalio/worker`, `drizzle-orm`, `src/activities`, `(native)`, `(gc)`, … */
function bucketOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /\/(src|bench|test)\/([^/]+)/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  if (url.startsWith('node:')) return 'node (built-in)';
  if (/workflows?\.js$|webpack/.test(url)) return 'workflow bundle';
  return url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
}

export function summarise(profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const buckets = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const b = bucketOf(n.callFrame.url, n.callFrame.functionName);
    buckets.set(b, (buckets.get(b) ?? 0) + us);
    const f = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url ? `${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}` : ''}`;
    fns.set(f, (fns.get(f) ?? 0) + us);
  }
  // Time under each of the project's own functions: every sample is charged to the innermost
  // src/ frame on its stack (what our code caused, library time included).
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ours = new Map<string, number>();
  for (const [id, us] of self) {
    let cur: number | undefined = id;
    let label = '(outside project code)';
    while (cur !== undefined) {
      const f = byId.get(cur)!.callFrame;
      const m = f.url.includes('node_modules') ? null : /\/(src\/[^?]+)/.exec(f.url);
      if (m) {
        label = `${f.functionName || '(anonymous)'} ${m[1]}:${f.lineNumber + 1}`;
        break;
      }
      cur = parent.get(cur);
    }
    if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
    ours.set(label, (ours.get(label) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const lines = [`${(total / 1e6).toFixed(1)} s of samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`, '', 'self time by package / folder:'];
  for (const [b, us] of [...buckets].sort((a, z) => z[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${b}`);
  lines.push('', 'busy time under the innermost project (src/) function:');
  for (const [f, us] of [...ours].sort((a, z) => z[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${f}`);
  lines.push('', 'top functions (self time):');
  for (const [f, us] of [...fns].sort((a, z) => z[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${f}`);
  return lines.join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: npx tsx bench/profileSummary.ts <file.cpuprofile> [--top N]\n');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  process.stdout.write(`${summarise(JSON.parse(fs.readFileSync(file, 'utf8')) as Profile, i > 0 ? Number(process.argv[i + 1]) : 25)}\n`);
}
