/**
 * Open budget documents and their results. A document is parsed on open and on every change; problems
 * in the text are published at once, measurements follow (debounced by DEBOUNCE_MS after typing, at once
 * on open) and each entry's diagnostics are published as soon as its measurement is in. Model files
 * changing on disk (workspace/didChangeWatchedFiles) re-evaluate the documents that budget them, after
 * the same debounce, cancelling measurements of the old content.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connection } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { forgetModelFile } from '../../budget/modelFacts';
import { BUDGET_FILE_NAME, parseBudget } from '../../budget/parse';
import type { BudgetEntry, EntryResult, ParsedBudget } from '../../budget/types';
import { BudgetStatusNotification, type BudgetStatusParams } from '../../shared/protocol';
import { toDiagnostics } from './diagnostics';
import { identityOf, type MeasurementRunner } from './runner';

export const DEBOUNCE_MS = 300;

export interface EntryState {
  /** Identity of the measurement the result is for (see runner.ts). */
  identity: string;
  result?: EntryResult;
  pending: boolean;
}

export interface BudgetDocument {
  uri: string;
  file: string;
  text: TextDocument;
  parsed: ParsedBudget;
  entries: Map<string, EntryState>;
  generation: number;
  timer?: NodeJS.Timeout;
  /** A debounced evaluation is waiting. */
  scheduled: boolean;
  /** The text version `parsed` was made from. */
  parsedVersion: number;
}

export function isBudgetUri(uri: string): boolean {
  return uri.startsWith('file:') && uri.endsWith(`/${BUDGET_FILE_NAME}`);
}

export class BudgetService {
  private readonly docs = new Map<string, BudgetDocument>();
  trusted: () => boolean = () => false;
  /** Called after diagnostics were published (code lenses follow the same results). */
  onPublished: () => void = () => undefined;

  constructor(
    private readonly connection: Connection,
    readonly runner: MeasurementRunner,
  ) {}

  get(uri: string): BudgetDocument | undefined {
    return this.docs.get(uri);
  }

  open(text: TextDocument): void {
    if (!isBudgetUri(text.uri)) return;
    const doc: BudgetDocument = { uri: text.uri, file: fileURLToPath(text.uri), text, parsed: parseBudget(text.getText(), fileURLToPath(text.uri)), entries: new Map(), generation: 0, scheduled: false, parsedVersion: text.version };
    this.docs.set(text.uri, doc);
    this.evaluate(doc);
  }

  change(text: TextDocument): void {
    const doc = this.docs.get(text.uri);
    if (!doc) return this.open(text);
    if (doc.parsedVersion === text.version) return;
    doc.parsedVersion = text.version;
    doc.text = text;
    doc.parsed = parseBudget(text.getText(), doc.file);
    doc.generation++;
    this.publish(doc);
    this.schedule(doc);
  }

  close(uri: string): void {
    const doc = this.docs.get(uri);
    if (!doc) return;
    clearTimeout(doc.timer);
    doc.generation++;
    this.docs.delete(uri);
    this.runner.release(uri);
    this.connection.sendDiagnostics({ uri, diagnostics: [] }).catch(() => undefined);
    this.sendStatus();
  }

  /** A file changed on disk: forget what is known about it, re-evaluate documents that use it. */
  fileChanged(file: string): void {
    forgetModelFile(file);
    this.runner.cancelFile(file);
    for (const doc of this.docs.values()) {
      if (doc.parsed.entries.some((e) => usesFile(e, file))) this.schedule(doc);
    }
  }

  /** Re-evaluates every document (trust changed). */
  refreshAll(): void {
    for (const doc of this.docs.values()) this.evaluate(doc);
  }

  /** Re-measures the entry `key` (or all) of a document, ignoring the cache. */
  remeasure(uri: string, key?: string): number {
    const doc = this.docs.get(uri);
    if (!doc) return 0;
    const entries = doc.parsed.entries.filter((e) => e.measurable && (key === undefined || e.key === key));
    for (const e of entries) this.measureEntry(doc, e, doc.generation, true);
    this.publish(doc);
    return entries.length;
  }

  private schedule(doc: BudgetDocument): void {
    clearTimeout(doc.timer);
    doc.scheduled = true;
    doc.timer = setTimeout(() => this.evaluate(doc), DEBOUNCE_MS);
  }

  private evaluate(doc: BudgetDocument): void {
    clearTimeout(doc.timer);
    doc.scheduled = false;
    const generation = ++doc.generation;
    const trusted = this.trusted();
    const wanted = new Set(doc.parsed.entries.filter((e) => e.measurable).map((e) => identityOf(e, trusted)));
    this.runner.release(doc.uri, wanted);
    const kept = new Map<string, EntryState>();
    for (const entry of doc.parsed.entries.filter((e) => e.measurable)) {
      // Keep the last result on screen until the new one is in: no flicker while re-measuring.
      const previous = doc.entries.get(entry.key);
      kept.set(entry.key, { identity: identityOf(entry, trusted), result: previous?.result, pending: true });
    }
    doc.entries = kept;
    this.publish(doc);
    for (const entry of doc.parsed.entries.filter((e) => e.measurable)) this.measureEntry(doc, entry, generation, false);
    this.sendStatus();
  }

  private measureEntry(doc: BudgetDocument, entry: BudgetEntry, generation: number, refresh: boolean): void {
    const trusted = this.trusted();
    const state: EntryState = { identity: identityOf(entry, trusted), result: doc.entries.get(entry.key)?.result, pending: true };
    doc.entries.set(entry.key, state);
    this.runner.run(doc.uri, entry, trusted, refresh).then(
      (result) => {
        if (doc.generation !== generation || doc.entries.get(entry.key) !== state) return;
        state.result = result;
        state.pending = false;
        this.publish(doc);
        this.sendStatus();
      },
      (err: unknown) => {
        // Cancelled: a newer evaluation (or the close) took over; anything else is a bug to log.
        if (!(err instanceof Error && (err.name === 'AbortError' || err.name === 'CancelledError'))) {
          this.connection.console.error(`budget: measuring ${entry.key} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        }
        if (doc.generation === generation && doc.entries.get(entry.key) === state) {
          state.pending = false;
          this.sendStatus();
        }
      },
    );
  }

  private publish(doc: BudgetDocument): void {
    const diagnostics = toDiagnostics(doc, this.trusted());
    this.connection.sendDiagnostics({ uri: doc.uri, version: doc.text.version, diagnostics }).catch(() => undefined);
    this.onPublished();
  }

  sendStatus(): void {
    const documents = [...this.docs.values()].map((d) => ({ uri: d.uri, version: d.text.version, pending: [...d.entries.values()].filter((e) => e.pending).length + (d.scheduled ? 1 : 0) }));
    const params: BudgetStatusParams = {
      state: this.runner.pending > 0 ? 'measuring' : 'idle',
      message: this.runner.statusMessage,
      pending: this.runner.pending,
      measured: this.runner.measured,
      cacheHits: this.runner.cacheHits,
      documents,
    };
    this.connection.sendNotification(BudgetStatusNotification.type, params).catch(() => undefined);
  }
}

function usesFile(entry: BudgetEntry, file: string): boolean {
  if (entry.model === file || entry.reference === file || file.startsWith(`${entry.model}.`)) return true;
  return entry.settings.dataDir !== undefined && path.dirname(file) === entry.settings.dataDir;
}
