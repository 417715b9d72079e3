/**
 * Workflow tests in Temporal's time-skipping test server, with stub activities: the workflow's own
 * logic (leases, which request wins, failures) without MongoDB, in seconds even when hours pass.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import type { Activities } from '../../activities';
import { dataConverter } from '../../src/data-converter';
import { bundleCheckoutWorkflows } from '../../src/worker';
import {
  CLOSED_CART_MESSAGE,
  ERROR_CODES,
  SEARCH_ATTRIBUTES,
  type CancelInput,
  type CancelOutcome,
  type ErrorCode,
  type LockInput,
  type LockResult,
  type PlaceOrderInput,
  type StepInput,
  type StepResult,
} from '../../src/contract';
import { ensureTemporalTestServer } from '../../stack/provision';
import { quietRuntime } from './env';

type StubbedName = 'lockCartForCheckout' | 'runCheckoutStep' | 'cancelCartAsyncOperation' | 'placeOrder';

/** One call of a stub activity, as the workflow made it. */
export interface StubCall {
  activity: StubbedName;
  input: unknown;
  attempt: number;
}

/**
 * What a stub does before (or instead of) its default: it may wait on a Gate, throw (an
 * ApplicationFailure, or any error for a transient failure), or answer; undefined lets the default answer.
 */
export interface StubBehaviour {
  lockCartForCheckout?: (input: LockInput, attempt: number) => Promise<LockResult | undefined>;
  runCheckoutStep?: (input: StepInput, attempt: number) => Promise<StepResult | undefined>;
  cancelCartAsyncOperation?: (input: CancelInput, attempt: number) => Promise<CancelOutcome | undefined>;
  placeOrder?: (input: PlaceOrderInput, attempt: number) => Promise<{ orderId: string; version: number } | undefined>;
}

/** The failure a real activity throws for a business error (see toApplicationFailure in src/contract/failures.ts). */
export function businessError(code: ErrorCode, message: string, cartId: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: code,
    message,
    nonRetryable: true,
    details: [{ errorCode: code, httpStatus: ERROR_CODES[code], cartId }],
  });
}

/** A point a stub activity waits at until the test opens it; `reached` resolves once it is waiting. */
export class Gate {
  private openIt!: () => void;
  private reachedIt!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.openIt = resolve));
  readonly reached = new Promise<void>((resolve) => (this.reachedIt = resolve));

  open(): void {
    this.openIt();
  }

  /**
   * Waits in an activity until the gate opens, heartbeating so that a cancel of the activity reaches
   * it (cancellation is delivered in heartbeat responses). Rejects with the cancellation then.
   */
  async pass(): Promise<void> {
    this.reachedIt();
    const ctx = Context.current();
    let open = false;
    void this.opened.then(() => (open = true));
    while (!open) {
      ctx.heartbeat();
      await Promise.race([this.opened, ctx.sleep(50)]);
    }
  }
}

/**
 * Activities that do what the real ones answer on a healthy cart, record every call, and let a test
 * replace any of them. Cart state is modelled just enough for the workflow: a cart closed by
 * placeOrder refuses a later cancel with INVALID_OPERATION, as the real cart store does.
 */
export class StubActivities {
  readonly calls: StubCall[] = [];
  /** Steps whose stub was cancelled by the workflow while it ran. */
  readonly cancelledSteps: string[] = [];
  private closed = false;

  constructor(private readonly behaviour: StubBehaviour = {}) {}

  callsOf(activity: StubbedName): StubCall[] {
    return this.calls.filter((c) => c.activity === activity);
  }

  /** The inputs of every call to one activity, in order. */
  inputsOf<T = Record<string, unknown>>(activity: StubbedName): T[] {
    return this.callsOf(activity).map((c) => c.input as T);
  }

  private record(activity: StubbedName, input: unknown): number {
    const attempt = Context.current().info.attempt;
    this.calls.push({ activity, input, attempt });
    return attempt;
  }

  /** Typed as the real activities, so the worker and the workflow agree on names and shapes. */
  activities(): Pick<Activities, StubbedName> {
    return {
      lockCartForCheckout: async (input) => {
        const attempt = this.record('lockCartForCheckout', input);
        const answer = await this.behaviour.lockCartForCheckout?.(input, attempt);
        if (answer) return answer;
        return { cartId: input.cartId, sessionId: input.sessionId, webstoreId: 'store-1', accountId: 'acct-1', itemCount: 1, version: 1 };
      },
      runCheckoutStep: async (input) => {
        const attempt = this.record('runCheckoutStep', input);
        try {
          const answer = await this.behaviour.runCheckoutStep?.(input, attempt);
          return answer ?? { step: input.step, held: true };
        } catch (err) {
          if (Context.current().cancellationSignal.aborted) this.cancelledSteps.push(input.step);
          throw err;
        }
      },
      cancelCartAsyncOperation: async (input) => {
        const attempt = this.record('cancelCartAsyncOperation', input);
        const answer = await this.behaviour.cancelCartAsyncOperation?.(input, attempt);
        if (answer) return answer;
        if (this.closed) throw businessError('INVALID_OPERATION', CLOSED_CART_MESSAGE, input.cartId);
        return { cartId: input.cartId, canceled: true, reason: input.reason, status: 'Active' };
      },
      placeOrder: async (input) => {
        const attempt = this.record('placeOrder', input);
        const placed = (await this.behaviour.placeOrder?.(input, attempt)) ?? { orderId: input.orderId, version: 2 };
        this.closed = true;
        return placed;
      },
    };
  }
}

export interface TimeSkippingEnv {
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundle;
  /** Runs `fn` with a worker of these stubs on a task queue of its own, then shuts the worker down. */
  withWorker<T>(stubs: StubActivities, fn: (taskQueue: string) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * The SDK gives the server 5 s to listen, a fixed limit; a JVM on a loaded machine (parallel test
 * files, CI) sometimes needs longer. A server that missed it is not left running, so trying again is safe.
 */
async function startTestServer(executable: string, attempts = 4): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: executable } },
        client: { dataConverter },
      });
    } catch (err) {
      if (attempt >= attempts || !/did not start within/.test(String((err as Error).message))) throw err;
    }
  }
}

/** The test server from provisioning (`npm run provision`), the workflows bundled once, this project's data converter. */
export async function setupTimeSkipping(): Promise<TimeSkippingEnv> {
  // The test server does not advertise every capability of a full server; core warns about it on each worker.
  quietRuntime('ERROR');
  const server = await ensureTemporalTestServer(process.env, () => undefined);
  if (server.kind !== 'executable') throw new Error(`Temporal test server: ${server.why}`);
  const env = await startTestServer(server.path);
  // The test server knows no custom search attributes, and a workflow that upserts an unknown one
  // fails every workflow task (BadSearchAttributes). It does not implement ListSearchAttributes, so
  // src/temporal.ts's ensureSearchAttributes cannot be used: add them outright (a fresh server each time).
  const { IndexedValueType } = temporal.api.enums.v1;
  const types: Record<(typeof SEARCH_ATTRIBUTES)[keyof typeof SEARCH_ATTRIBUTES], number> = { Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD };
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(Object.entries(SEARCH_ATTRIBUTES).map(([name, type]) => [name, types[type]])),
  });
  const bundle = await bundleCheckoutWorkflows();
  return {
    env,
    bundle,
    async withWorker(stubs, fn) {
      const taskQueue = `timeskip-${randomUUID().slice(0, 8)}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue,
        workflowBundle: bundle,
        activities: stubs.activities(),
        dataConverter,
      });
      return worker.runUntil(fn(taskQueue));
    },
    close: () => env.teardown(),
  };
}
