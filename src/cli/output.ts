/** Where CLI output goes: results on stdout (one JSON document with --json), progress on stderr. */

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printText(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** A one-line progress indicator on stderr, only when a person is watching (stderr is a terminal). */
export function progressLine(): { update(text: string): void; done(): void } {
  const live = process.stderr.isTTY === true;
  let shown = false;
  return {
    update(text) {
      if (!live) return;
      process.stderr.write(`\r\x1b[2K${text}`);
      shown = true;
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[2K');
    },
  };
}
