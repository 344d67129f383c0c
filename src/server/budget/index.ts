/**
 * Latency budgets in the language server: wires documents, watched files, hover, code lenses, code
 * actions and the budget requests (src/shared/protocol.ts) to the BudgetService. server.ts calls
 * `initialize` from its onInitialize, merges `capabilities`, and calls `onTrustChanged`.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CodeLensRefreshRequest, FileChangeType, TextDocuments, TextDocumentSyncKind, type CancellationToken, type InitializeParams, type ServerCapabilities } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { MeasurementCache, defaultCacheDir } from '../../budget/cache';
import { parseBudget } from '../../budget/parse';
import { planBudget } from '../../budget/planner';
import type { PlanReport } from '../../budget/types';
import { UserError } from '../../core/errors';
import { PlanBudgetRequest, RemeasureRequest, RetargetBudgetRequest, type BudgetInitializationOptions, type PlanBudgetParams, type RetargetBudgetParams } from '../../shared/protocol';
import { toResponseError } from '../errors';
import { runExecutingJob, type ServerContext } from '../handlers';
import { PlanMemory, budgetCodeActions, retargetEdit } from './actions';
import { budgetHover } from './hover';
import { budgetLenses } from './lenses';
import { MeasurementRunner } from './runner';
import { BudgetService, isBudgetUri } from './service';

export interface BudgetFeature {
  capabilities: ServerCapabilities;
  initialize(params: InitializeParams): void;
  onTrustChanged(): void;
}

class Budgets {
  readonly documents = new TextDocuments(TextDocument);
  readonly plans = new PlanMemory();
  private cache = new MeasurementCache(defaultCacheDir());
  private service?: BudgetService;
  private lensRefresh = false;

  constructor(private readonly ctx: ServerContext) {}

  initialize(params: InitializeParams): void {
    const options = params.initializationOptions as BudgetInitializationOptions | undefined;
    if (typeof options?.budgetCacheDir === 'string' && options.budgetCacheDir !== '') this.cache = new MeasurementCache(options.budgetCacheDir);
    this.lensRefresh = params.capabilities.workspace?.codeLens?.refreshSupport === true;
    const log = (text: string) => this.ctx.connection.console.log(text);
    const runner = new MeasurementRunner(this.ctx.jobs, this.cache, { onStatus: () => this.service?.sendStatus(), log });
    this.service = new BudgetService(this.ctx.connection, runner);
    this.service.trusted = () => this.ctx.isTrusted();
    this.service.onPublished = () => this.refreshLenses();
  }

  get svc(): BudgetService {
    if (!this.service) throw new Error('the budget service starts at initialize');
    return this.service;
  }

  private refreshLenses(): void {
    if (this.lensRefresh) this.ctx.connection.sendRequest(CodeLensRefreshRequest.type).catch(() => undefined);
  }

  /** The entry named by a request, from the open document or the file on disk. */
  entryFor(uri: string, key: string) {
    const doc = this.service?.get(uri);
    const parsed = doc?.parsed ?? parseBudget(readText(uri), fileURLToPath(uri));
    const entry = parsed.entries.find((e) => e.key === key);
    if (!entry) throw new UserError(`the budget has no entry "${key}"`);
    if (!entry.measurable) throw new UserError(`the budget of "${key}" has invalid settings: fix them first`);
    return entry;
  }

  async plan(params: PlanBudgetParams, token: CancellationToken): Promise<PlanReport> {
    let entry;
    try {
      entry = this.entryFor(params.uri, params.key);
    } catch (err) {
      throw toResponseError(err, 'budget planning', (text) => this.ctx.connection.console.error(text));
    }
    const source = entry.reference ?? entry.model;
    const report = await runExecutingJob(this.ctx, { path: source, workDoneToken: params.workDoneToken, verb: 'Optimizing to meet the budget:', what: 'budget planning' }, token, (_file, signal, progress) =>
      planBudget(entry, { signal, cache: this.cache, onProgress: (p) => progress.step(p) }),
    );
    this.plans.remember(params.uri, params.key, report);
    return report;
  }

  retarget(params: RetargetBudgetParams) {
    try {
      const doc = this.service?.get(params.uri);
      const text = doc?.text ?? TextDocument.create(params.uri, 'jsonc', 0, readText(params.uri));
      const parsed = doc?.parsed ?? parseBudget(text.getText(), fileURLToPath(params.uri));
      return retargetEdit(text, parsed, params.key, params.model);
    } catch (err) {
      throw toResponseError(err, 'retarget', (text) => this.ctx.connection.console.error(text));
    }
  }
}

function readText(uri: string): string {
  if (!uri.startsWith('file:')) throw new UserError(`only file: URIs are supported, got ${uri}`);
  try {
    return fs.readFileSync(fileURLToPath(uri), 'utf8');
  } catch {
    throw new UserError(`cannot read the budget file ${fileURLToPath(uri)}`);
  }
}

export function registerBudget(ctx: ServerContext): BudgetFeature {
  const b = new Budgets(ctx);
  const { connection } = ctx;
  b.documents.onDidOpen((e) => b.svc.open(e.document));
  // Also fires right after open; the service skips a version it has already parsed.
  b.documents.onDidChangeContent((e) => b.svc.change(e.document));
  b.documents.onDidClose((e) => b.svc.close(e.document.uri));
  b.documents.listen(connection);
  connection.onDidChangeWatchedFiles((params) => {
    for (const change of params.changes) {
      if (!change.uri.startsWith('file:') || isBudgetUri(change.uri)) continue;
      b.svc.fileChanged(fileURLToPath(change.uri));
      if (change.type === FileChangeType.Deleted) connection.console.log(`budget: ${fileURLToPath(change.uri)} was deleted`);
    }
  });
  connection.onHover((params) => {
    const doc = b.svc.get(params.textDocument.uri);
    return doc ? budgetHover(doc, params.position) : null;
  });
  connection.onCodeLens((params) => {
    const doc = b.svc.get(params.textDocument.uri);
    return doc ? budgetLenses(doc, ctx.isTrusted()) : [];
  });
  connection.onCodeAction((params) => {
    const doc = b.svc.get(params.textDocument.uri);
    return doc ? budgetCodeActions(doc, params, b.plans) : [];
  });
  connection.onRequest(RemeasureRequest.type, (params) => ({ scheduled: b.svc.remeasure(params.uri, params.key) }));
  connection.onRequest(PlanBudgetRequest.type, (params, token) => b.plan(params, token));
  connection.onRequest(RetargetBudgetRequest.type, (params) => b.retarget(params));
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      hoverProvider: true,
      codeLensProvider: { resolveProvider: false },
      codeActionProvider: { codeActionKinds: ['quickfix', 'refactor.rewrite'] },
    },
    initialize: (params) => b.initialize(params),
    onTrustChanged: () => b.svc.refreshAll(),
  };
}
