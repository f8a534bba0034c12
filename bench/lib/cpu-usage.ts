import { readdir, readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc times (USER_HZ, 100 on Linux). */
export const TICKS_PER_SECOND = 100;

/** CPU time and memory of some processes. */
export interface ProcessUsage {
  /** user + system CPU, in clock ticks. */
  ticks: number;
  /** Resident memory, KiB. */
  rssKiB: number;
}

/** Splits /proc/PID/stat after the command name: [state, ppid, pgrp, …]. */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU ticks (user + system) from the fields of /proc/PID/stat. */
export function statTicks(fields: readonly string[]): number {
  // utime and stime are fields 14 and 15 of the file: 12 and 13 after the command name.
  return Number(fields[11]) + Number(fields[12]);
}

/** Busy ticks of the whole machine (all cores) from the first line of /proc/stat. */
export function busyTicks(procStat: string): number {
  const cpu = procStat.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
  return user + nice + system + irq + softirq + steal;
}

/** Busy ticks of the machine now. */
export async function machineBusyTicks(): Promise<number> {
  return busyTicks(await readFile('/proc/stat', 'utf8'));
}

/** CPU and RSS of one process, or null when it is gone. */
export async function processUsage(pid: number): Promise<ProcessUsage | null> {
  try {
    const fields = statFields(await readFile(`/proc/${pid}/stat`, 'utf8'));
    // rss (field 24) is in pages; 4 KiB pages on the machines this runs on.
    return { ticks: statTicks(fields), rssKiB: Number(fields[21]) * 4 };
  } catch {
    return null;
  }
}

/** The processes of a process group (a server and its workers). */
export async function groupPids(pgid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (entry.charCodeAt(0) > 57) continue;
    try {
      const fields = statFields(await readFile(`/proc/${entry}/stat`, 'utf8'));
      if (Number(fields[2]) === pgid) pids.push(Number(entry));
    } catch {
      // The process went away between listing and reading.
    }
  }
  return pids;
}

/** CPU and RSS summed over some processes (those gone count nothing). */
export async function sumUsage(pids: readonly number[]): Promise<ProcessUsage> {
  const total: ProcessUsage = { ticks: 0, rssKiB: 0 };
  for (const u of await Promise.all(pids.map(processUsage))) {
    if (u === null) continue;
    total.ticks += u.ticks;
    total.rssKiB += u.rssKiB;
  }
  return total;
}

/** CPU and RSS summed over every process of a process group. */
export async function groupUsage(pgid: number): Promise<ProcessUsage> {
  return sumUsage(await groupPids(pgid));
}

/** Where the CPU went during a measured run, in cores (1.0 = one core busy all the time). */
export interface CpuSplit {
  /** The server's processes. */
  server: number;
  /** The load generator. */
  load: number;
  /** Everything else on the machine (PostgreSQL, other people's work): the noise. */
  other: number;
}

/** Splits machine busy time into server, load generator and the rest. */
export function splitCpu(
  seconds: number,
  machineTicks: number,
  serverTicks: number,
  loadTicks: number,
): CpuSplit {
  const cores = (ticks: number) => Math.round((ticks / TICKS_PER_SECOND / seconds) * 100) / 100;
  return {
    server: cores(serverTicks),
    load: cores(loadTicks),
    other: cores(Math.max(0, machineTicks - serverTicks - loadTicks)),
  };
}
