/** What every entry point does around its work: parse config once, stop cleanly on a signal. */
import type { Logger } from 'pino';
import { type Config, ConfigError, loadConfig } from './config';

export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nSee .env.example for every setting.\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** The oldest Node line that still gets security fixes; older ones run, with a warning. */
const OLDEST_SUPPORTED_NODE_MAJOR = 22;

/**
 * Node 20 reached its end of life in April 2026: it still runs everything (the README's two
 * commands must work where it is all there is), but it gets no security fixes, so every start says so.
 */
export function warnIfNodeEndOfLife(logger: Logger, version = process.versions.node): void {
  const major = Number(version.split('.')[0]);
  if (major >= OLDEST_SUPPORTED_NODE_MAJOR) return;
  logger.warn(
    { node_version: version },
    `Node.js ${major} is past its end of life and gets no security fixes: run on Node.js 24 LTS (22 is still supported)`,
  );
}

// Past the workers' SHUTDOWN_GRACE_MS: the time to release what they hold and close connections.
const SHUTDOWN_MARGIN_MS = 10_000;

// One request to stop often arrives twice: a terminal's Ctrl-C and `tini -g` signal the whole
// process group, and npm also forwards the signal to the script it runs. A repeat this soon is
// the same request; a later one is someone asking again, harder.
const REPEATED_SIGNAL_MS = 1_000;

/**
 * Runs the stop steps in order on SIGINT, SIGTERM or SIGHUP; a second signal (a second or more
 * after the first) or a stuck step forces exit.
 */
export function stopOnSignal(
  logger: Logger,
  steps: Array<() => Promise<void>>,
  opts: { graceMs: number } = { graceMs: 0 },
): void {
  let stoppingSince: number | null = null;
  const stop = async (signal: string) => {
    if (stoppingSince !== null) {
      if (Date.now() - stoppingSince < REPEATED_SIGNAL_MS) return;
      logger.warn({ signal }, 'asked again: exiting without finishing the shutdown');
      process.exit(1);
    }
    stoppingSince = Date.now();
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, opts.graceMs + SHUTDOWN_MARGIN_MS);
    force.unref();
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        logger.error({ err }, 'shutdown step failed');
      }
    }
    logger.info('stopped');
    logger.flush();
    process.exit(0);
  };
  // SIGHUP: the terminal that ran `npm start` was closed; without a handler the process would die
  // on the spot and leave its embedded PostgreSQL (in its own process group) running.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(signal));
}
