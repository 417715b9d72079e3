/**
 * Structured logs through pino: one JSON object a line, `{ level, time, component?, msg, cartId?, ... }`
 * with the level as a word and the time in ISO 8601. The API's request lines (fastify's logger), the
 * worker's Temporal SDK runtime logger (SDK, workflow `log` with workflowId/runId/workflowType,
 * activity `log` with activityId/activityType, the native core's forwarded lines) and the processes'
 * own lines all come out of the same pino configuration, with the cart id added where a workflow id
 * names it, and secrets (Authorization headers, tokens, provider and webhook secrets) redacted.
 */
import type { LogLevel, LogMetadata } from '@temporalio/common';
import pino, { type DestinationStream, type Logger } from 'pino';
import { cartIdOfWorkflowId } from './contract';

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export type { Logger };

export const LOG_LEVELS: Record<Level, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR' };

export type Write = (line: string) => void;

/** The SDK log level for LOG_LEVEL (case-insensitive), or an error naming the allowed values. */
export function sdkLogLevel(logLevel: string): LogLevel {
  const level = LOG_LEVELS[logLevel.toLowerCase() as Level];
  if (!level) throw new Error(`LOG_LEVEL must be one of ${Object.keys(LOG_LEVELS).join(', ')}, got "${logLevel}"`);
  return level;
}

/** Where a secret can sit in a log entry: request headers, tokens, provider and webhook secrets. */
export const REDACTED_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  'token',
  '*.token',
  'tokens',
  '*.tokens',
  'apiKey',
  '*.apiKey',
  'secret',
  '*.secret',
  '*.*.secret',
  'body.secret',
  'signingSecret',
  '*.signingSecret',
  'password',
  '*.password',
];

/** An error as a log field: name, message, the gRPC status or driver code, details, stack, and its cause chain. */
export function serializeError(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, replacer) ?? 'null') as unknown;
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    const cause = (value as { cause?: unknown }).cause;
    // A gRPC status (Temporal) or a driver code (MongoDB) is what tells one failure from another.
    const code = (value as { code?: unknown }).code;
    const details = (value as { details?: unknown }).details;
    return {
      name: value.name,
      message: value.message,
      ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
      ...(typeof details === 'string' ? { details } : {}),
      stack: value.stack,
      ...(cause !== undefined ? { cause } : {}),
    };
  }
  return value;
}

/** The time of the entry being written, when it is not now (an SDK entry carries its own). */
let entryTime: string | undefined;

export interface LoggerOptions {
  /** LOG_LEVEL (default info), or silent. */
  level?: string;
  /** Which part writes (api, worker, launcher): a field of every line. */
  component?: string;
  /** Where lines go (default stdout); tests capture them. */
  destination?: DestinationStream | Write;
}

/** The one pino configuration of the project. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = (options.level ?? 'info').toLowerCase();
  if (level !== 'silent') sdkLogLevel(level);
  const destination = typeof options.destination === 'function' ? lineStream(options.destination) : (options.destination ?? pino.destination({ sync: true }));
  return pino(
    {
      level,
      base: options.component ? { component: options.component } : null,
      timestamp: () => `,"time":"${entryTime ?? new Date().toISOString()}"`,
      // Errors anywhere in an entry (with their cause chains) and bigints become JSON before pino writes it.
      formatters: { level: (label) => ({ level: label }), log: (entry) => serializeError(entry) as Record<string, unknown> },
      mixin: (fields: object) => {
        const f = fields as { cartId?: unknown; workflowId?: unknown };
        const cartId = f.cartId ?? cartIdOfWorkflowId(f.workflowId);
        return cartId !== undefined ? { cartId } : {};
      },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}

/** A pino destination that hands each line (without its newline) to `write`. */
export function lineStream(write: Write): DestinationStream {
  return { write: (chunk: string) => write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk) };
}

/** Writes one entry with its own time (an SDK entry's timestamp, or a test's). */
function at<T>(time: Date | undefined, fn: () => T): T {
  entryTime = time?.toISOString();
  try {
    return fn();
  } finally {
    entryTime = undefined;
  }
}

/** One JSON line, as the loggers write it (the unit tests' view of the format). */
export function formatLine(time: Date, level: string, msg: string, fields: Record<string, unknown> = {}): string {
  let line = '';
  const logger = createLogger({ level: 'trace', destination: (l) => (line = l) });
  at(time, () => logger[level.toLowerCase() as Level](fields, msg));
  return line;
}

/** Writes one entry at `level` with its own time (an SDK entry's timestamp) instead of now. */
export function logAt(logger: Logger, level: string, time: Date | undefined, fields: object, msg: string): void {
  at(time, () => logger[level.toLowerCase() as Level](fields, msg));
}

export interface AppLogger {
  debug(msg: string, fields?: LogMetadata): void;
  info(msg: string, fields?: LogMetadata): void;
  warn(msg: string, fields?: LogMetadata): void;
  error(msg: string, fields?: LogMetadata): void;
}

/** A logger for the process's own lines (startup, shutdown), in the same format; `component` names the part. */
export function appLogger(component: string, logLevel = 'info', write?: Write): AppLogger {
  const logger = createLogger({ level: logLevel, component, ...(write ? { destination: write } : {}) });
  return {
    debug: (msg, fields = {}) => logger.debug(fields, msg),
    info: (msg, fields = {}) => logger.info(fields, msg),
    warn: (msg, fields = {}) => logger.warn(fields, msg),
    error: (msg, fields = {}) => logger.error(fields, msg),
  };
}
