/**
 * What a checkout knows while it runs: the view the query answers (phase and state), which request
 * came first, and the answer each waiting Update gets. The handlers and the story change it only
 * through the methods below.
 */
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  log,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  BACKGROUND_STEPS,
  MESSAGES,
  cartIdProblem,
  normalizeCancelRequest,
  stepOutcomeText,
  type BackgroundStep,
  type CancelCheckoutRequest,
  type CancelOutcome,
  type CheckoutInput,
  type CheckoutResult,
  type CheckoutView,
  type LockResult,
  type PlaceOrderResult,
  type RecalculateCheckoutRequest,
  type RejectedSignal,
  type StepOutcome,
} from '../../src/contract';
import { businessError, lockLostFailure, workflowFailureOf } from '../../src/contract/failures';
import type { UndecodablePayload } from '../payload-converter';
import { checkoutDetails, itemChangeText, type DetailsContext } from '../summaries';
import { FINAL_STATE_PATCH, ORDER_WAITS_FOR_STEPS_PATCH } from './patches';

export const DEFAULT_LEASE_MS = 30 * 60 * 1000;

/** How many unreadable signals the view keeps for operators (the count goes on). */
const MAX_REJECTED_SIGNALS = 10;

/** The answer one waiting Update gets: set once (the first answer stands), awaited by its handler. */
export class Answer<T> {
  private settled?: { ok: T } | { failure: ApplicationFailure };

  resolve(value: T): void {
    this.settled ??= { ok: value };
  }

  reject(failure: ApplicationFailure): void {
    this.settled ??= { failure };
  }

  get succeeded(): boolean {
    return this.settled !== undefined && 'ok' in this.settled;
  }

  async wait(): Promise<T> {
    await condition(() => this.settled !== undefined);
    const settled = this.settled!;
    if ('failure' in settled) throw settled.failure;
    return settled.ok;
  }
}

/**
 * The buyer's and the services' requests. The first one wins, because it is the one the other side
 * was answered on: a cancel that came first refuses every later order and interrupts the steps; an
 * order that came first waits until every step has completed (an order is never placed on a cart
 * whose taxes and total were not computed), a later cancel interrupts nothing and is refused with
 * INVALID_OPERATION once the order is placed.
 */
export interface Decision {
  first?: 'cancel' | 'order';
  /** The first cancel; later ones change nothing. */
  cancel?: CancelCheckoutRequest;
  /** The steps must stop: a cancel won (or the history predates ORDER_WAITS_FOR_STEPS_PATCH). */
  stopSteps: boolean;
}

/**
 * Item changes applied through the checkout (the store's checkoutPolicy `recalculate`), one at a
 * time. While one is pending the steps stand still (the running one was interrupted) and the story
 * waits; once applied, the steps run again from `nextStep`.
 */
export interface Recalculations {
  /** Updates accepted and not yet answered. */
  pending: number;
  /** A change is being written (one at a time, in the order their handlers got here). */
  applying: boolean;
  /** Changes applied so far; each step carries the number it belongs to. */
  applied: number;
}

export class Checkout {
  readonly cartId: string;
  /** Stable across retries of this run's activities and unique per checkout. */
  readonly sessionId: string;
  readonly view: CheckoutView;
  readonly decision: Decision = { stopSteps: false };
  readonly lock = new Answer<void>();
  readonly cancel = new Answer<CancelOutcome>();
  readonly order = new Answer<PlaceOrderResult>();
  readonly recalculations: Recalculations = { pending: 0, applying: false, applied: 0 };
  /** Index in BACKGROUND_STEPS of the first step not completed (with the cart's current items). */
  nextStep = 0;
  /** Facts for the current details operators read in the UI. Not a command: only queries see them. */
  private readonly details: DetailsContext;
  private stepsScope?: CancellationScope;
  /** The run carries its search attributes (set once the input is valid). */
  private searchable = false;

  constructor(readonly input: CheckoutInput) {
    this.cartId = input?.cartId;
    this.sessionId = workflowInfo().firstExecutionRunId;
    this.view = {
      cartId: this.cartId,
      sessionId: this.sessionId,
      phase: 'LOCKING',
      state: 'Start',
      ...(typeof input?.requestId === 'string' ? { requestId: input.requestId } : {}),
    };
    this.details = typeof input?.requestedBy === 'string' ? { requestedBy: input.requestedBy } : {};
  }

  get leaseMs(): number {
    return this.input.leaseMs ?? DEFAULT_LEASE_MS;
  }

  /** The INVALID_INPUT failure of a malformed input, or undefined. */
  inputFailure(): ApplicationFailure | undefined {
    const problem = cartIdProblem(this.cartId);
    if (problem) return businessError('INVALID_INPUT', problem);
    if (!Number.isInteger(this.leaseMs) || this.leaseMs <= 0) return businessError('INVALID_INPUT', 'leaseMs must be a positive integer', this.cartId);
    return undefined;
  }

  /** A cancel from a signal, an Update, the lease or a failed step. Signals are not deduplicated: only the first cancel counts. */
  requestCancel(req: CancelCheckoutRequest | undefined): void {
    const decision = this.decision;
    if (decision.cancel) return;
    const cancel = normalizeCancelRequest(req);
    decision.cancel = cancel;
    decision.first ??= 'cancel';
    this.view.cancelRequested = cancel;
    log.info('cancel requested', { cartId: this.cartId, reason: cancel.reason, requestedBy: cancel.requestedBy, first: decision.first });
    this.show();
    const stepsAhead = this.view.phase === 'LOCKING' || this.view.phase === 'PROCESSING';
    // An order that came first lets the steps finish. The patch's marker is written here, at the
    // point where older runs stopped the steps, so their histories replay.
    if (decision.first === 'order' && stepsAhead && patched(ORDER_WAITS_FOR_STEPS_PATCH)) return;
    decision.stopSteps = true;
    this.stepsScope?.cancel();
  }

  async cancelAndWait(req: CancelCheckoutRequest): Promise<CancelOutcome> {
    this.requestCancel(req);
    return await this.cancel.wait();
  }

  async orderAndWait(): Promise<PlaceOrderResult> {
    this.decision.first ??= 'order';
    return await this.order.wait();
  }

  async waitForLock(): Promise<CheckoutView> {
    await this.lock.wait();
    return { ...this.view };
  }

  /** A signal whose argument could not be decoded: not a request of anyone we can read, so it changes nothing. */
  rejectSignal(signal: string, payload: UndecodablePayload): void {
    const rejected: RejectedSignal = { signal, encoding: payload.encoding, problem: payload.problem };
    this.view.rejectedSignals = [...(this.view.rejectedSignals ?? []), rejected].slice(-MAX_REJECTED_SIGNALS);
    this.details.rejectedSignalCount = (this.details.rejectedSignalCount ?? 0) + 1;
    log.warn('rejected a signal whose argument could not be decoded; the checkout goes on', { cartId: this.cartId, ...rejected, bytes: payload.bytes });
    this.show();
  }

  /** The input is valid: from here on the run is found by its cart and state. */
  begin(): void {
    upsertSearchAttributes({ CartId: [this.cartId], CheckoutState: ['Start'] });
    this.searchable = true;
    this.details.leaseMs = this.leaseMs;
    this.show();
  }

  locked(lock: LockResult): void {
    if (lock.webstoreId) upsertSearchAttributes({ WebstoreId: [lock.webstoreId] });
    if (lock.webstoreId) this.details.webstoreId = lock.webstoreId;
    if (lock.accountId) this.details.accountId = lock.accountId;
    log.info('cart locked', { cartId: this.cartId, webstoreId: lock.webstoreId, accountId: lock.accountId });
    this.setPhase('PROCESSING');
    this.lock.resolve();
  }

  /** Runs the background steps in a scope that a winning cancel cancels, interrupting the running step. */
  async stoppable<T>(steps: () => Promise<T>): Promise<T> {
    try {
      return await CancellationScope.cancellable(async () => {
        this.stepsScope = CancellationScope.current();
        return await steps();
      });
    } finally {
      this.stepsScope = undefined;
    }
  }

  setPhase(phase: CheckoutView['phase']): void {
    this.view.phase = phase;
    this.show();
  }

  /** A background step completed: its state, and what it answered for operators (not a command). */
  stepCompleted(step: BackgroundStep, outcome: StepOutcome | undefined): void {
    if (outcome) this.details.steps = [...(this.details.steps ?? []), stepOutcomeText(step, outcome)];
    this.nextStep = BACKGROUND_STEPS.indexOf(step) + 1;
    this.setState(step);
  }

  get recalculating(): boolean {
    return this.recalculations.pending > 0;
  }

  /** A recalculateCheckout Update was accepted: the steps stop (the running one is interrupted) until it is answered. */
  recalculationAccepted(req: RecalculateCheckoutRequest): void {
    this.recalculations.pending++;
    log.info('item change accepted: recalculating', { cartId: this.cartId, requestId: req.requestId, requestedBy: req.requestedBy });
    this.stepsScope?.cancel();
  }

  /** The step the next applied change runs again from: Confirm Price, or an earlier one not completed yet. */
  get recalculateFrom(): BackgroundStep {
    return BACKGROUND_STEPS[Math.min(this.nextStep, BACKGROUND_STEPS.indexOf('Confirm Price'))];
  }

  /** An accepted change was answered; when it was applied, the steps from `fromStep` run again. */
  recalculationSettled(applied?: { req: RecalculateCheckoutRequest; recalculation: number; fromStep: BackgroundStep }): void {
    this.recalculations.pending--;
    if (!applied) return;
    const from = BACKGROUND_STEPS.indexOf(applied.fromStep);
    this.recalculations.applied = applied.recalculation;
    this.nextStep = Math.min(this.nextStep, from);
    this.view.recalculations = applied.recalculation;
    const rerun = BACKGROUND_STEPS.slice(from);
    this.details.steps = this.details.steps?.filter((text) => !rerun.some((step) => text.startsWith(`${step} via`)));
    this.details.lastChange = itemChangeText(applied.req.change, applied.req.requestedBy);
    this.details.recalculations = applied.recalculation;
    if (this.view.phase === 'READY') this.view.phase = 'PROCESSING';
    this.setState(from === 0 ? 'Start' : BACKGROUND_STEPS[from - 1]);
  }

  /**
   * When an item change is pending, waits for it (a cancel that wins ends the wait) and answers true:
   * the story then runs the steps again. False when none is pending or a cancel stopped the steps.
   */
  async recalculated(): Promise<boolean> {
    if (!this.recalculating || this.decision.stopSteps) return false;
    this.setPhase('PROCESSING');
    await condition(() => !this.recalculating || this.decision.stopSteps);
    return true;
  }

  /** The last completed step's outcome, for the summary of the command that follows it. */
  get lastOutcome(): string | undefined {
    return this.details.steps?.at(-1);
  }

  setState(state: CheckoutView['state']): void {
    this.view.state = state;
    upsertSearchAttributes({ CheckoutState: [state] });
    this.show();
  }

  orderPlaced(orderId: string): void {
    this.order.resolve({ orderId });
    this.view.orderId = orderId;
    this.setState('Complete');
    log.info('order placed', { cartId: this.cartId, orderId });
  }

  canceled(outcome: CancelOutcome): void {
    const cancel = this.decision.cancel!;
    this.cancel.resolve(outcome);
    // The session is archived and its operation Canceled: say so to searches (CheckoutState="Canceled").
    if (patched(FINAL_STATE_PATCH)) upsertSearchAttributes({ CheckoutState: ['Canceled'] });
    log.info('checkout canceled', { cartId: this.cartId, reason: cancel.reason, requestedBy: cancel.requestedBy, unlocked: outcome.canceled });
  }

  /**
   * The one way a checkout ends Failed: every waiting handler gets its answer (`final`, or for a
   * pending cancel `cancelAnswer`), operators see why, and the run waits for the handlers to finish
   * (a run that closes with Updates in flight leaves their callers without an answer). Returns
   * `final` for the caller to throw.
   */
  async fail(final: ApplicationFailure, cancelAnswer?: CancelOutcome): Promise<ApplicationFailure> {
    this.lock.reject(final);
    if (cancelAnswer) this.cancel.resolve(cancelAnswer);
    else this.cancel.reject(final);
    this.order.reject(final);
    this.view.phase = 'DONE';
    this.view.state = 'Error';
    if (this.searchable && patched(FINAL_STATE_PATCH)) upsertSearchAttributes({ CheckoutState: ['Error'] });
    this.details.failure = { type: final.type ?? 'Error', message: final.message };
    this.show();
    log.warn('checkout failed', { cartId: this.cartId, errorType: final.type, error: final.message });
    await condition(allHandlersFinished);
    return final;
  }

  /** The activity's result. Its business failure ends the run Failed with that failure; anything else is thrown on. */
  async orFail<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (err) {
      throw await this.fail(workflowFailureOf(err));
    }
  }

  /** Ends the run with LOCK_LOST: the cart was taken from it while its steps ran. */
  async failLockLost(): Promise<ApplicationFailure> {
    this.order.reject(businessError('INVALID_OPERATION', MESSAGES.lockLostNoOrder, this.cartId));
    const cancelAnswer = { cartId: this.cartId, canceled: false, reason: this.decision.cancel?.reason ?? 'LOCK_LOST' };
    return await this.fail(lockLostFailure(this.cartId), cancelAnswer);
  }

  async finish(result: CheckoutResult): Promise<CheckoutResult> {
    this.view.outcome = result.outcome;
    this.setPhase('DONE');
    await condition(allHandlersFinished);
    return result;
  }

  private show(): void {
    setCurrentDetails(checkoutDetails(this.view, this.details));
  }
}
