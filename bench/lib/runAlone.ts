/**
 * Runs one benchmark script (bench/<name>.ts) in a process of its own, so its memory figures are
 * its own, and reads the JSON line it prints last (`{"bench":"<name>",…}`); what it printed before
 * that line is its report. Progress lines on stderr matching `progress` are passed to `log`.
 */
import { fork } from 'node:child_process';
import path from 'node:path';

export interface AloneRun<T> {
  figures: T;
  report: string;
  exitCode: number | null;
}

export function runAlone<T>(name: string, args: string[], progress: RegExp, log: (m: string) => void): Promise<AloneRun<T>> {
  const script = path.join(__dirname, '..', `${name}.ts`);
  return new Promise((resolve, reject) => {
    const child = fork(script, args, { cwd: path.resolve(__dirname, '..', '..'), execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      for (const line of c.toString().split('\n')) if (progress.test(line)) log(`  ${line}`);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const json = out
        .split('\n')
        .reverse()
        .find((l) => l.startsWith(`{"bench":"${name}"`));
      if (!json) {
        reject(new Error(`bench/${name}.ts exited ${code} without figures:\n${err.slice(-2000)}`));
        return;
      }
      if (code !== 0) log(`  bench/${name}.ts exited ${code}: ${err.split('\n').filter(Boolean).slice(-1)[0] ?? ''}`);
      resolve({ figures: JSON.parse(json) as T, report: out.slice(0, out.indexOf(json)).trim(), exitCode: code });
    });
  });
}
