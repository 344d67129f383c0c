/**
 * onnxruntime's error texts made into one readable line. ORT prefixes status codes, quotes the node's
 * full type signature, and points at its own C++ sources ("gemm_helper.h:14 onnxruntime::GemmHelper::
 * GemmHelper(const TensorShape&, ...) left.NumDimensions() == 2 was false."); users need the essence.
 */
import { UserError } from '../core/errors';

/** A failure inside onnxruntime: usually the model or the options, so it is shown to the user as is. */
export class OrtError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'OrtError';
  }
}

const MAX_LENGTH = 400;

/** The essential message of an ORT error, on one line. */
export function cleanOrtMessage(raw: string): string {
  let text = raw.split(/\n\s*Stacktrace:/i)[0];
  text = text.replace(/^(Error:\s*)+/, '');
  text = text.replace(/\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*/g, '');
  // Our callers name the file already.
  text = text.replace(/^Load model from .+? failed:\s*(?=\S)/, '');
  text = describeInvalidNode(text);
  text = stripSourceLocations(text);
  text = text.replace(/Non-zero status code returned while running (\S+) node\. Name:'([^']*)' Status Message:\s*/, (_, op: string, name: string) => `node ${name || '(unnamed)'} (${op}) failed: `);
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > MAX_LENGTH ? `${text.slice(0, MAX_LENGTH - 1)}…` : text;
}

/**
 * "This is an invalid model. In Node, ("y", FooBar, "", -1) : ("x": tensor(float),) -> (...) , Error No Op
 * registered for FooBar" -> "invalid model: node y (FooBar): No Op registered for FooBar".
 */
function describeInvalidNode(text: string): string {
  const m = /This is an invalid model\. In Node, \("([^"]*)", ([^,]+), "([^"]*)", -?\d+\) : .*? , Error (.*)$/s.exec(text);
  if (!m) return text;
  const [, name, op, domain, message] = m;
  return `${text.slice(0, m.index)}invalid model: node ${name || '(unnamed)'} (${domain ? `${domain}.` : ''}${op}): ${message}`;
}

/** Removes "path/file.cc:123 Function(signature) " locations, parentheses balanced. */
function stripSourceLocations(text: string): string {
  const location = /(?:\/[\w.+-]+)*\/?[\w.+-]+\.(?:cc|cpp|h|hpp|cu):\d+\s+/g;
  let out = '';
  let last = 0;
  for (let m = location.exec(text); m; m = location.exec(text)) {
    out += text.slice(last, m.index);
    last = skipFunctionName(text, m.index + m[0].length);
    location.lastIndex = last;
  }
  return out + text.slice(last);
}

/**
 * After a source location ORT writes the C++ function: a bare name ("Compute") or a pretty signature
 * with return type and parameters ("Status onnxruntime::Gemm<float>::Compute(OpKernelContext*) const").
 */
function skipFunctionName(text: string, start: number): number {
  const slice = text.slice(start, start + 400);
  const signature = /^[\w:~<>,*& ]{0,200}?[\w>]\(/.exec(slice);
  let i: number;
  if (signature) i = skipBalanced(text, start + signature[0].length - 1);
  else {
    const name = /^[\w:~<>]+(?=\s)/.exec(slice);
    if (!name) return start;
    i = start + name[0].length;
  }
  // Lambdas inside the function: "Initialize(...)::<lambda()>".
  const nested = /^(?:::[\w~]*(?:<[^<>]*>)?(?:\([^()]*\))?)+/.exec(text.slice(i));
  if (nested) i += nested[0].length;
  const rest = /^(\s+const)?\s+/.exec(text.slice(i));
  return rest ? i + rest[0].length : i;
}

function skipBalanced(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i + 1;
  }
  return open;
}

/** Wraps whatever an ORT call threw as an OrtError with `context` ("cannot load model.onnx"). */
export function ortError(context: string, err: unknown): Error {
  if (err instanceof Error && err.name === 'AbortError') return err;
  const message = err instanceof Error ? err.message : String(err);
  return new OrtError(`${context}: ${cleanOrtMessage(message)}`);
}
