/**
 * Worker Deployment Versioning: what a worker of a given version needs beyond its options. A new
 * deployment has no current version, and Temporal routes new workflows to versioned workers only once
 * one is set; this is where a worker makes its own version current (the first deploy, or `npm start`).
 * Later versions are made current by the operator (docs/DEPLOY.md).
 */
import type { Client } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { SetCurrentMode } from './config';

export type SetCurrentOutcome =
  /** This call made the version current. */
  | { kind: 'made-current'; previous: WorkerDeploymentVersion | undefined }
  /** It already was (another worker of the version, or the operator, got there first). */
  | { kind: 'already-current' }
  /** `if-none` found another version current: this one waits for the operator. */
  | { kind: 'left'; current: WorkerDeploymentVersion }
  | { kind: 'not-asked' };

interface Routing {
  current: WorkerDeploymentVersion | undefined;
  /** Build ids the deployment knows (a version appears once one of its workers has polled). */
  buildIds: string[];
  conflictToken: Uint8Array;
}

const NOT_FOUND = 5;

/** The deployment's routing, or undefined while it does not exist (none of its workers has polled yet). */
export async function describeRouting(client: Client, deploymentName: string): Promise<Routing | undefined> {
  try {
    const res = await client.workflowService.describeWorkerDeployment({ namespace: client.options.namespace, deploymentName });
    const info = res.workerDeploymentInfo;
    const current = info?.routingConfig?.currentDeploymentVersion;
    return {
      current: current?.buildId ? { deploymentName: current.deploymentName ?? deploymentName, buildId: current.buildId } : undefined,
      buildIds: (info?.versionSummaries ?? []).map((v) => v.deploymentVersion?.buildId ?? '').filter(Boolean),
      conflictToken: res.conflictToken,
    };
  } catch (err) {
    if ((err as { code?: number }).code === NOT_FOUND) return undefined;
    throw err;
  }
}

/**
 * Makes `version` the current version of its deployment (`always`), or only when the deployment has
 * none (`if-none`). Call it once the version's worker runs: Temporal refuses a version no worker has
 * polled. Retries until `signal` aborts or `timeoutMs` passes; two workers of one version starting
 * together are fine (the conflict token lets one win, the other then finds its version current).
 */
export async function setCurrentVersion(
  client: Client,
  version: WorkerDeploymentVersion,
  mode: SetCurrentMode,
  options: { identity?: string; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<SetCurrentOutcome> {
  if (mode === 'never') return { kind: 'not-asked' };
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let lastError: unknown;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    if (options.signal?.aborted) throw new Error('stopped before the version was made current');
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : ' (the version never appeared: is its worker polling?)';
      throw new Error(`could not make ${version.deploymentName}.${version.buildId} current${why}`);
    }
    try {
      const routing = await describeRouting(client, version.deploymentName);
      if (routing?.current?.buildId === version.buildId) return { kind: 'already-current' };
      if (routing?.current && mode === 'if-none') return { kind: 'left', current: routing.current };
      if (routing?.buildIds.includes(version.buildId)) {
        await client.workflowService.setWorkerDeploymentCurrentVersion({
          namespace: client.options.namespace,
          deploymentName: version.deploymentName,
          buildId: version.buildId,
          conflictToken: routing.conflictToken,
          identity: options.identity ?? client.options.identity,
        });
        return { kind: 'made-current', previous: routing.current };
      }
    } catch (err) {
      // A changed deployment (conflict token), a version that is still registering its task queues:
      // describe again and decide again.
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** One line for the log. */
export function describeOutcome(version: WorkerDeploymentVersion, outcome: SetCurrentOutcome): string {
  const name = `${version.deploymentName}.${version.buildId}`;
  switch (outcome.kind) {
    case 'made-current':
      return `made version ${name} current` + (outcome.previous ? ` (was ${outcome.previous.buildId})` : ' (the deployment had none)');
    case 'already-current':
      return `version ${name} is current`;
    case 'left':
      return `version ${name} is not current: ${outcome.current.deploymentName}.${outcome.current.buildId} is; new checkouts start there until an operator makes this one current (docs/DEPLOY.md)`;
    case 'not-asked':
      return `version ${name}: left to the operator (WORKER_SET_CURRENT=never)`;
  }
}
