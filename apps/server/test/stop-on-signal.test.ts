/**
 * One request to stop often arrives twice within milliseconds (a terminal or `tini -g` signals the
 * whole process group, and npm forwards the signal to a script it runs, which a shell may have
 * exec'd): that must not cut the shutdown short. Asking again later does force the exit.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LIFECYCLE = fileURLToPath(new URL('../src/lifecycle.ts', import.meta.url));

/** A process whose shutdown takes `stepMs`; resolves with its exit code and output. */
function startStoppable(stepMs: number) {
  const script = `
    import pino from 'pino';
    import { stopOnSignal } from ${JSON.stringify(LIFECYCLE)};
    const logger = pino();
    stopOnSignal(logger, [() => new Promise((r) => setTimeout(r, ${stepMs}))]);
    logger.info('ready');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString('utf8');
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString('utf8');
  });
  const ready = new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (output.includes('"msg":"ready"')) {
        clearInterval(check);
        resolve();
      }
    }, 10);
  });
  const exited = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, output })),
  );
  return { child, ready, exited };
}

describe('stopOnSignal', () => {
  it('treats a signal repeated within a moment as the same request and finishes the shutdown', async () => {
    const p = startStoppable(1_500);
    await p.ready;
    p.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 20));
    p.child.kill('SIGINT');
    const { code, output } = await p.exited;
    expect(code).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  });

  it('stops cleanly on SIGHUP too (the terminal was closed)', async () => {
    const p = startStoppable(100);
    await p.ready;
    p.child.kill('SIGHUP');
    const { code, output } = await p.exited;
    expect(code).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  });

  it('exits at once when asked again later', async () => {
    const p = startStoppable(10_000);
    await p.ready;
    p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1_300));
    p.child.kill('SIGTERM');
    const { code, output } = await p.exited;
    expect(code).toBe(1);
    expect(output).toContain('asked again');
    expect(output).not.toContain('"msg":"stopped"');
  });
});
