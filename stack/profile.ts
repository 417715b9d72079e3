/**
 * Which Temporal the stack runs (`STACK`): `dev`, the CLI's single-process dev server on SQLite (the
 * default), or `server`, Temporal Server built from its Go module over a PostgreSQL cluster of the
 * project's own, with several history shards, as users run it in production.
 */
export type StackProfile = 'dev' | 'server';

export const STACK_PROFILES: readonly StackProfile[] = ['dev', 'server'];

export function stackProfile(env: Record<string, string | undefined> = process.env): StackProfile {
  const value = (env.STACK ?? '').trim() || 'dev';
  if ((STACK_PROFILES as readonly string[]).includes(value)) return value as StackProfile;
  throw new Error(`STACK=${value} is not a stack profile: use ${STACK_PROFILES.join(' or ')}`);
}
