/**
 * The one place that reads configuration from the environment. Temporal connection settings
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS, profiles) go through
 * @temporalio/envconfig, as every Temporal user expects; this file adds the project's own settings.
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { DEFAULT_WORKER_DEPLOYMENT_NAME } from './contract';
import { LOG_LEVELS } from './logging';
// tsc copies package.json into dist/ beside the compiled code, so this works in the image too.
import { version as PACKAGE_VERSION } from '../package.json';

export const DEFAULTS = {
  temporalAddress: '127.0.0.1:7233',
  temporalNamespace: 'default',
  temporalUiPort: 8233,
  mongoPort: 27017,
  mongoDb: 'b2b_checkout',
  apiPort: 3000,
  checkoutLeaseMs: 30 * 60 * 1000,
  apiWaitMs: 10_000,
  apiMongoTimeoutMs: 3_000,
  idempotencyTtlS: 24 * 60 * 60,
  /** Per bearer token: generous, so a well-behaved service (and the test and fault suites) never meets it. */
  rateLimitPerMin: 6000,
  workerShutdownGraceS: 30,
  workerDeploymentName: DEFAULT_WORKER_DEPLOYMENT_NAME,
} as const;

export interface TemporalSettings {
  connectionOptions: NativeConnectionOptions & { address: string };
  namespace: string;
}

type Env = Record<string, string | undefined>;

/** Temporal connection settings from envconfig (env vars and the optional TOML profile). */
export function temporalSettings(env: Env = process.env): TemporalSettings {
  const overrideEnvVars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const { connectionOptions, namespace } = loadClientConnectConfig({ overrideEnvVars });
  return {
    connectionOptions: { ...connectionOptions, address: connectionOptions.address ?? DEFAULTS.temporalAddress },
    namespace: namespace ?? DEFAULTS.temporalNamespace,
  };
}

export interface AppSettings {
  /** Set when the user points at a running MongoDB; otherwise the stack starts one. */
  mongoUri: string | undefined;
  mongoDb: string;
  /** Set when the user points at a running Temporal; otherwise the stack starts the dev server. */
  temporalAddress: string | undefined;
  temporalUiPort: number;
  apiPort: number;
  /** Interface the HTTP API binds; 0.0.0.0 in containers. */
  apiHost: string;
  checkoutLeaseMs: number;
  logLevel: string;
  /** API_TOKENS: bearer token → role. Empty when unset (npm start then makes a pair and prints it). */
  apiTokens: Map<string, ApiRole>;
  /** API_WAIT_MS: how long an HTTP request waits on a workflow before answering 202 (the work goes on). */
  apiWaitMs: number;
  /** API_MONGO_TIMEOUT_MS: the API's MongoDB server selection timeout, so an outage answers 503 quickly. */
  apiMongoTimeoutMs: number;
  /** IDEMPOTENCY_TTL_S: how long the API keeps an Idempotency-Key and its answer. */
  idempotencyTtlS: number;
  /** RATE_LIMIT_PER_MIN: requests a minute per bearer token before 429 RATE_LIMITED; 0 turns the limit off. */
  rateLimitPerMin: number;

  // Worker observability (docs/observability.md).
  /** WORKER_METRICS_ADDRESS: host:port of the worker's Prometheus endpoint (/metrics); unset = no metrics. */
  workerMetricsAddress: string | undefined;

  // Worker process (docs/docker.md).
  /**
   * WORKER_SHUTDOWN_GRACE_S: after SIGTERM, how long running activities may go on before the SDK
   * cancels them. Compose's `stop_grace_period` on the worker must be longer, or Docker kills it first.
   */
  workerShutdownGraceS: number;
  /** WORKFLOW_BUNDLE_PATH: a workflow bundle made at build time (the image's); unset = bundle workflows/ at start. */
  workflowBundlePath: string | undefined;

  // Worker Deployment Versioning (docs/DEPLOY.md).
  /** The worker's deployment version; undefined with WORKER_VERSIONING=off (an unversioned worker). */
  workerDeployment: WorkerDeploymentSettings | undefined;
}

/** When a worker makes its own version the deployment's current one (WORKER_SET_CURRENT). */
export type SetCurrentMode = 'if-none' | 'always' | 'never';
const SET_CURRENT_MODES: readonly SetCurrentMode[] = ['if-none', 'always', 'never'];

export interface WorkerDeploymentSettings {
  /** WORKER_DEPLOYMENT_NAME (default b2b-checkout). */
  deploymentName: string;
  /** WORKER_BUILD_ID; default the image's version (B2B_CHECKOUT_VERSION, baked in by the Dockerfile), else package.json's. */
  buildId: string;
  /**
   * WORKER_SET_CURRENT; undefined when unset, and then the entry point decides: a worker process
   * `if-none` (the first deploy only), `npm start` `always` (its workers are the only ones).
   */
  setCurrent: SetCurrentMode | undefined;
}

export type ApiRole = 'service' | 'admin';

export function appSettings(env: Env = process.env): AppSettings {
  return {
    mongoUri: nonEmpty(env.MONGODB_URI),
    mongoDb: nonEmpty(env.MONGODB_DB) ?? DEFAULTS.mongoDb,
    temporalAddress: nonEmpty(env.TEMPORAL_ADDRESS),
    temporalUiPort: port(env, 'TEMPORAL_UI_PORT', DEFAULTS.temporalUiPort),
    apiPort: port(env, 'API_PORT', DEFAULTS.apiPort),
    apiHost: nonEmpty(env.API_HOST) ?? '127.0.0.1',
    checkoutLeaseMs: positiveInt(env, 'CHECKOUT_LEASE_MS', DEFAULTS.checkoutLeaseMs),
    logLevel: logLevel(env),
    apiTokens: parseApiTokens(env.API_TOKENS),
    apiWaitMs: positiveInt(env, 'API_WAIT_MS', DEFAULTS.apiWaitMs),
    apiMongoTimeoutMs: positiveInt(env, 'API_MONGO_TIMEOUT_MS', DEFAULTS.apiMongoTimeoutMs),
    idempotencyTtlS: positiveInt(env, 'IDEMPOTENCY_TTL_S', DEFAULTS.idempotencyTtlS),
    rateLimitPerMin: nonNegativeInt(env, 'RATE_LIMIT_PER_MIN', DEFAULTS.rateLimitPerMin),

    // Worker observability (docs/observability.md).
    workerMetricsAddress: nonEmpty(env.WORKER_METRICS_ADDRESS),

    // Worker process (docs/docker.md).
    workerShutdownGraceS: positiveInt(env, 'WORKER_SHUTDOWN_GRACE_S', DEFAULTS.workerShutdownGraceS),
    workflowBundlePath: nonEmpty(env.WORKFLOW_BUNDLE_PATH),

    // Worker Deployment Versioning (docs/DEPLOY.md).
    workerDeployment: workerDeployment(env),
  };
}

function workerDeployment(env: Env): WorkerDeploymentSettings | undefined {
  const versioning = oneOf(env, 'WORKER_VERSIONING', ['on', 'off'] as const) ?? 'on';
  const deploymentName = versionPart(env, 'WORKER_DEPLOYMENT_NAME', DEFAULTS.workerDeploymentName);
  const buildId = versionPart(env, 'WORKER_BUILD_ID', nonEmpty(env.B2B_CHECKOUT_VERSION) ?? PACKAGE_VERSION);
  const setCurrent = oneOf(env, 'WORKER_SET_CURRENT', SET_CURRENT_MODES);
  return versioning === 'off' ? undefined : { deploymentName, buildId, setCurrent };
}

/**
 * A deployment name or build id. Temporal joins them as `<deployment>.<buildId>`, so a deployment
 * name may not contain a dot; both are kept to characters that are safe in a shell and a URL.
 */
function versionPart(env: Env, name: 'WORKER_DEPLOYMENT_NAME' | 'WORKER_BUILD_ID', fallback: string): string {
  const raw = nonEmpty(env[name]) ?? fallback;
  const allowed = name === 'WORKER_DEPLOYMENT_NAME' ? /^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$/ : /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;
  if (!allowed.test(raw)) {
    const chars = name === 'WORKER_DEPLOYMENT_NAME' ? 'letters, digits, _ and -' : 'letters, digits, . _ + and -';
    throw new ConfigError(`${name} must be 1-200 ${chars}, starting with a letter or digit, got "${raw}"`);
  }
  return raw;
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[]): T | undefined {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return undefined;
  if (!(values as readonly string[]).includes(raw)) throw new ConfigError(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

/** `token=role,token=role` with roles service and admin; tokens of at least 16 characters. */
export function parseApiTokens(raw: string | undefined): Map<string, ApiRole> {
  const tokens = new Map<string, ApiRole>();
  for (const entry of (raw ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const eq = entry.lastIndexOf('=');
    const token = eq > 0 ? entry.slice(0, eq).trim() : '';
    const role = eq > 0 ? entry.slice(eq + 1).trim() : '';
    if (role !== 'service' && role !== 'admin') {
      throw new ConfigError(`API_TOKENS: each entry must be token=service or token=admin (entry ${tokens.size + 1} is not)`);
    }
    if (token.length < 16 || /\s/.test(token)) {
      throw new ConfigError(`API_TOKENS: token ${tokens.size + 1} must be at least 16 characters without spaces`);
    }
    tokens.set(token, role);
  }
  return tokens;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function logLevel(env: Env): string {
  const level = nonEmpty(env.LOG_LEVEL) ?? 'info';
  if (!Object.hasOwn(LOG_LEVELS, level.toLowerCase())) {
    throw new ConfigError(`LOG_LEVEL must be one of ${Object.keys(LOG_LEVELS).join(', ')}, got "${level}"`);
  }
  return level;
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new ConfigError(`${name} must be a positive integer, got "${raw}"`);
  }
  return n;
}

function nonNegativeInt(env: Env, name: string, fallback: number): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer (0: off), got "${raw}"`);
  return n;
}

function port(env: Env, name: string, fallback: number): number {
  const n = positiveInt(env, name, fallback);
  if (n > 65535) throw new ConfigError(`${name} must be a TCP port (1-65535), got ${n}`);
  return n;
}

export class ConfigError extends Error {
  readonly errorCode = 'INVALID_CONFIGURATION';
}

/**
 * What an entry point prints when a setting is bad: one line naming the setting and the code, no
 * stack (the stack points into this file and says nothing the message does not).
 */
export function configErrorLine(component: string, err: ConfigError): string {
  return `${component}: ${err.message} (${err.errorCode})`;
}
