/** The package version, read once from package.json (two levels up from src/ or dist/). */
import { readFileSync } from 'node:fs';

function read(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

export const VERSION: string = read();
