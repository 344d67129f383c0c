/**
 * Leaves no process behind. Every process the harness starts (code-server and everything it forks: the
 * extension host, ONNX Lean's engine, file watchers, terminals; and Chromium) carries an environment
 * variable naming the session, inherited by their children even when they leave the process group.
 * Teardown kills the process group, then anything still carrying the tag.
 */
import * as fs from 'node:fs';
import { poll } from './wait';

export const SESSION_ENV = 'ONNX_LEAN_E2E_SESSION';

/** The ids of live processes (other than this one) whose environment carries `SESSION_ENV=session`. */
export function processesOfSession(session: string): number[] {
  const tag = Buffer.from(`${SESSION_ENV}=${session}\0`);
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/environ`).includes(tag) && !isZombie(pid)) found.push(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** Synchronous last resort (for process.on('exit')): SIGKILL the group and every tagged process. */
export function killSessionNow(session: string, groupLeader: number | undefined): void {
  if (groupLeader !== undefined) signal(-groupLeader, 'SIGKILL');
  for (const pid of processesOfSession(session)) signal(pid, 'SIGKILL');
}

/**
 * SIGTERM the process group led by `groupLeader`, give it `graceMs` to exit, then SIGKILL whatever of the
 * session is left. Resolves once no tagged process remains; rejects naming them if some survive.
 */
export async function stopSession(session: string, groupLeader: number | undefined, graceMs = 5000): Promise<void> {
  if (groupLeader !== undefined) signal(-groupLeader, 'SIGTERM');
  const gone = () => processesOfSession(session).length === 0;
  try {
    await poll(gone, { timeoutMs: graceMs, intervalMs: 100, what: 'the session processes to exit after SIGTERM' });
    return;
  } catch {
    killSessionNow(session, groupLeader);
  }
  await poll(gone, { timeoutMs: 5000, intervalMs: 100, what: 'the session processes to exit after SIGKILL' }).catch(() => {
    throw new Error(`processes left behind by the e2e session: ${processesOfSession(session).join(', ')}`);
  });
}
