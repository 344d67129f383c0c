/** Where a request's model lives on this machine: a `file:` URI or an absolute path, checked up front. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from 'vscode-languageserver/node';
import { UserError } from '../core/errors';
import type { ModelLocation } from '../shared/protocol';
import { RequestRefused } from './errors';

/** The absolute path of the model a request names; throws a clear error when it is unusable. */
export function resolveModelPath(location: ModelLocation | undefined): string {
  const file = toPath(location);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new UserError(`no such file: ${file}`);
  }
  if (stat.isDirectory()) throw new UserError(`${file} is a folder, not a model file`);
  return file;
}

function toPath(location: ModelLocation | undefined): string {
  if (typeof location?.uri === 'string') {
    if (!location.uri.startsWith('file:')) throw invalid(`only file: URIs are supported, got ${location.uri}`);
    return fileURLToPath(location.uri);
  }
  if (typeof location?.path === 'string' && location.path !== '') {
    if (!path.isAbsolute(location.path)) throw invalid(`the model path must be absolute, got ${location.path}`);
    return path.normalize(location.path);
  }
  throw invalid('the request names no model: pass "uri" or "path"');
}

function invalid(message: string): RequestRefused {
  return new RequestRefused(ErrorCodes.InvalidParams, message);
}

/** One key per file, whatever path or link names it, so a model cannot be profiled twice at once. */
export function modelKey(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}
