/** What `npm start` prints for the README's walkthrough; the walkthrough test runs the same line. */
import path from 'node:path';
import type { Provisioned } from './provision';

/**
 * The one line that sets up a second shell for the README's walkthrough: the API and its tokens, the
 * servers, and the `temporal` CLI this stack runs on PATH. Tokens the user chose are not printed.
 */
export function pasteLine(p: {
  api: string;
  tokens: { service: string; admin: string } | undefined;
  temporal: string;
  mongoUri: string;
  mongoDb: string;
  cli: Provisioned['temporal'];
}): string {
  const tokens = p.tokens
    ? `ADMIN=${p.tokens.admin} SERVICE=${p.tokens.service}`
    : "ADMIN='<an admin token of API_TOKENS>' SERVICE='<a service token of API_TOKENS>'";
  const cliPath = p.cli?.kind === 'binary' ? ` PATH="${path.dirname(path.resolve(p.cli.path))}:$PATH"` : '';
  return `export API=${p.api} ${tokens} TEMPORAL_ADDRESS=${p.temporal} MONGODB_URI=${p.mongoUri} MONGODB_DB=${p.mongoDb}${cliPath}`;
}
