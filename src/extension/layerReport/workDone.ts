/** Sends an LSP request with a fresh work-done token and forwards its progress to a panel job. */
import { randomUUID } from 'node:crypto';
import { WorkDoneProgress, type LanguageClient } from 'vscode-languageclient/node';
import type { JobControl } from './dispatcher';

export async function withWorkDone<T>(client: LanguageClient, job: JobControl, send: (workDoneToken: string) => Promise<T>): Promise<T> {
  const workDoneToken = randomUUID();
  const listener = client.onProgress(WorkDoneProgress.type, workDoneToken, (value) => {
    if (value.kind === 'begin') job.progress(value.message ?? value.title, value.percentage);
    else if (value.kind === 'report' && value.message) job.progress(value.message, value.percentage);
  });
  try {
    return await send(workDoneToken);
  } finally {
    listener.dispose();
  }
}
