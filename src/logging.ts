/**
 * Structured logs: one JSON object a line, `{ time, level, msg, cartId?, workflowId?, ... }`.
 * The worker's SDK runtime logger writes through here, so the lines the SDK emits, the workflow
 * `log` (which carries workflowId, runId, workflowType) and the activity `log` (activityId,
 * activityType, workflowId) all come out in this one format, with the cart id added where the
 * workflow id names it.
 */
import { DefaultLogger, type LogEntry, type LogLevel, type LogMetadata } from '@temporalio/worker';
import { cartIdOfWorkflowId } from './contract';

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: Record<Level, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR' };

export type Write = (line: string) => void;

const stdout: Write = (line) => process.stdout.write(line + '\n');

/** The SDK log level for LOG_LEVEL (case-insensitive), or an error naming the allowed values. */
export function sdkLogLevel(logLevel: string): LogLevel {
  const level = LOG_LEVELS[logLevel.toLowerCase() as Level];
  if (!level) throw new Error(`LOG_LEVEL must be one of ${Object.keys(LOG_LEVELS).join(', ')}, got "${logLevel}"`);
  return level;
}

/** One JSON line. Errors become { name, message, stack }, bigints strings; a value that can't be serialized is named. */
export function formatLine(time: Date, level: string, msg: string, fields: Record<string, unknown> = {}): string {
  const cartId = fields.cartId ?? cartIdOfWorkflowId(fields.workflowId);
  const record = { time: time.toISOString(), level: level.toLowerCase(), msg, ...(cartId !== undefined ? { cartId } : {}), ...fields };
  try {
    return JSON.stringify(record, replacer);
  } catch (err) {
    return JSON.stringify({ time: record.time, level: record.level, msg, logError: `fields not serializable: ${String(err)}` });
  }
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

/** The SDK runtime logger (installRuntime in src/worker.ts): every entry a JSON line at `level` and above. */
export function jsonRuntimeLogger(level: LogLevel, write: Write = stdout): DefaultLogger {
  return new DefaultLogger(level, (entry: LogEntry) => {
    const time = new Date(Number(entry.timestampNanos / 1_000_000n));
    // The activity task token is an opaque blob, as long as the rest of the line: left out.
    const { taskToken: _token, ...meta } = entry.meta ?? {};
    write(formatLine(time, entry.level, entry.message, meta));
  });
}

export interface AppLogger {
  debug(msg: string, fields?: LogMetadata): void;
  info(msg: string, fields?: LogMetadata): void;
  warn(msg: string, fields?: LogMetadata): void;
  error(msg: string, fields?: LogMetadata): void;
}

/** A logger for the process's own lines (startup, shutdown), in the same format; `component` names the part. */
export function appLogger(component: string, logLevel = 'info', write: Write = stdout): AppLogger {
  const order: Level[] = ['trace', 'debug', 'info', 'warn', 'error'];
  const min = order.indexOf(sdkLogLevel(logLevel).toLowerCase() as Level);
  const at =
    (level: Level) =>
    (msg: string, fields: LogMetadata = {}) => {
      if (order.indexOf(level) >= min) write(formatLine(new Date(), level, msg, { component, ...fields }));
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
