/**
 * CPU seconds spent so far by each part of a benchmark run: this process, its worker processes,
 * Redis (from INFO) and PostgreSQL (every `postgres` process, from /proc). Two snapshots give what
 * a measurement cost each part. Linux only for the worker processes and PostgreSQL; elsewhere
 * those parts read as null.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

export type CpuSnapshot = {
  bench: number;
  workers: number | null;
  redis: number | null;
  postgres: number | null;
};

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of a process, in seconds, and its command name; null once it is gone. */
function procCpu(pid: string): { comm: string; seconds: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    return { comm, seconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND };
  } catch {
    return null;
  }
}

function sum(values: Array<number | null>): number | null {
  return values.some((v) => v === null) ? null : values.reduce<number>((a, b) => a + (b ?? 0), 0);
}

export async function cpuSnapshot(workerPids: number[], redis: Redis): Promise<CpuSnapshot> {
  const usage = process.cpuUsage();
  const info = await redis.info('cpu');
  const field = (name: string) => Number(info.match(new RegExp(`^${name}:([\\d.]+)`, 'm'))?.[1]);
  const redisSeconds = field('used_cpu_sys') + field('used_cpu_user');
  let postgres: number | null = null;
  try {
    postgres = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map(procCpu)
      .filter((p) => p?.comm === 'postgres')
      .reduce((a, p) => a + p!.seconds, 0);
  } catch {
    postgres = null;
  }
  return {
    bench: (usage.user + usage.system) / 1e6,
    workers: sum(workerPids.map((pid) => procCpu(String(pid))?.seconds ?? null)),
    redis: Number.isFinite(redisSeconds) ? redisSeconds : null,
    postgres,
  };
}

/** Milliseconds of CPU per item for each part between two snapshots, as one line. */
export function cpuPerItem(
  before: CpuSnapshot,
  after: CpuSnapshot,
  items: number,
  benchLabel: string,
  itemLabel = 'company',
): string {
  const perItem = (a: number | null, b: number | null) =>
    a === null || b === null ? null : ((b - a) * 1000) / items;
  const parts: Array<[string, number | null]> = [
    // A run without worker processes (bare BullMQ) has no worker part.
    ...(before.workers === 0 && after.workers === 0
      ? []
      : [['workers', perItem(before.workers, after.workers)] as [string, number | null]]),
    ['PostgreSQL', perItem(before.postgres, after.postgres)],
    ['Redis', perItem(before.redis, after.redis)],
    [benchLabel, perItem(before.bench, after.bench)],
  ];
  const text = parts.map(([label, ms]) => (ms === null ? `${label} n/a` : `${label} ${ms.toFixed(3)}`));
  const all = parts.every(([, ms]) => ms !== null)
    ? `; all ${parts.reduce((sum, [, ms]) => sum + ms!, 0).toFixed(3)}`
    : '';
  return `CPU ms per ${itemLabel}: ${text.join(', ')}${all}`;
}
