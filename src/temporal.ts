/** Temporal connections (through envconfig settings) and the search attributes the project needs. */
import { Client, Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from './contract';
import { temporalSettings, type TemporalSettings } from './config';
import { dataConverter } from './data-converter';

export async function connectClient(settings: TemporalSettings = temporalSettings()): Promise<Client> {
  const connection = await Connection.connect(settings.connectionOptions);
  return new Client({ connection, namespace: settings.namespace, dataConverter });
}

const GRPC_ALREADY_EXISTS = 6;

const INDEXED_VALUE_TYPES: Record<string, number> = {
  Text: 1,
  Keyword: 2,
  Int: 3,
  Double: 4,
  Bool: 5,
  Datetime: 6,
  KeywordList: 7,
};

/**
 * Registers the project's search attributes where they are missing. Works on the dev server and
 * self-hosted clusters; on Temporal Cloud (where this API is not offered) it says what to do by hand.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set([...Object.keys(existing.customAttributes ?? {}), ...Object.keys(existing.systemAttributes ?? {})]);
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !known.has(name));
  if (missing.length === 0) return [];
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_VALUE_TYPES[type]])),
    });
  } catch (err) {
    if ((err as { code?: number }).code === GRPC_ALREADY_EXISTS) return [];
    throw new Error(
      `cannot register search attributes ${missing.map(([n, t]) => `${n} (${t})`).join(', ')} in namespace ${namespace}: ` +
        `${(err as Error).message}. Register them once by hand (temporal operator search-attribute create, or the Cloud UI).`,
    );
  }
  return missing.map(([name]) => name);
}
