/**
 * webhookDeliveryWorkflow: one per webhook subscription (ID `webhook-<webstoreId>:<name>`), for as
 * long as the subscription exists. It delivers the store's matching events in cursor order through
 * an activity, one run after another with no timer between them: a caught-up run itself waits (up to
 * WEBHOOK_DELIVERY.idleWaitMs) for the next event, re-reading the subscription, so a PUT applies
 * without waking anything; when a delivery fails, Temporal retries the activity with backoff; when
 * every delivery has failed for a day it pauses the subscription and waits for a resume (a PUT or
 * resume signal). Its history is kept small by continuing as new. Workflow code: deterministic, no
 * I/O; the subscription and the feed are read by the activities.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  defineSignal,
  isCancellation,
  log,
  makeContinueAsNewFunc,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { WEBHOOK_DELIVERY, WEBHOOK_RESUME_SIGNAL_NAME, webhookNameProblem, type DeliverResult, type WebhookWorkflowInput } from '../src/contract';
import { businessError } from '../src/contract/failures';

export const resumeWebhookSignal = defineSignal(WEBHOOK_RESUME_SIGNAL_NAME);

/** What a run ends with when its subscription was deleted. */
export interface WebhookWorkflowResult {
  webstoreId: string;
  name: string;
  cursor: number;
  ended: 'DELETED';
}

/**
 * The longest a round of retries lasts before the workflow hears of it and checks the pause: the
 * delivery's schedule-to-close timeout (capped so that the pause comes a day after the first failure).
 */
const ROUND_MS = 60 * 60 * 1000;
const MIN_ROUND_MS = 1000;

const { recordWebhookStatus } = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { maximumInterval: '10s' } });

/** The delivery activity, its retries bounded by this round's length. */
function deliverWithin(roundMs: number) {
  return proxyActivities<Activities>({
    // A run waits at most idleWaitMs (1 min) for events, then stops taking them after 2 min; each
    // POST is bounded by its own timeout.
    startToCloseTimeout: '5m',
    // It heartbeats every second: a lost worker's run is retried within seconds.
    heartbeatTimeout: '10s',
    scheduleToCloseTimeout: roundMs,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: WEBHOOK_DELIVERY.maxRetryIntervalMs },
  }).deliverWebhookEvents;
}

type Round = 'gone' | 'more' | 'caught-up' | 'busy' | 'failing';

export async function webhookDeliveryWorkflow(input: WebhookWorkflowInput): Promise<WebhookWorkflowResult> {
  const delivery = new Delivery(input);
  setHandler(resumeWebhookSignal, () => delivery.wake());
  if (typeof input?.webstoreId !== 'string' || webhookNameProblem(input.name)) {
    throw businessError('INVALID_INPUT', 'the input must be { webstoreId, name } of a subscription');
  }
  upsertSearchAttributes({ WebstoreId: [input.webstoreId] });
  return await delivery.run();
}

class Delivery {
  private readonly webstoreId: string;
  private readonly name: string;
  private cursor: number;
  /** Workflow time (epoch ms) since which every delivery has failed; unset while deliveries succeed. */
  private failingSince: number | undefined;
  private lastError: string | undefined;
  /** A PUT or resume arrived since the last round: resume if paused. (A waiting run re-reads the subscription itself.) */
  private woken = false;
  private deliveredThisRun = 0;
  /** The last run found nothing new: the next one most likely waits for the next event. */
  private caughtUp = false;

  constructor(input: WebhookWorkflowInput) {
    this.webstoreId = input.webstoreId;
    this.name = input.name;
    this.cursor = input.cursor ?? 0;
    this.failingSince = input.failingSince;
  }

  wake(): void {
    this.woken = true;
  }

  async run(): Promise<WebhookWorkflowResult> {
    for (let rounds = 0; ; rounds++) {
      if (rounds > 0 && this.historyIsFull(rounds)) return await this.continueAsNew();
      const round = await this.deliver();
      if (round === 'gone') {
        this.details('ended: the subscription was deleted');
        await condition(allHandlersFinished);
        return { webstoreId: this.webstoreId, name: this.name, cursor: this.cursor, ended: 'DELETED' };
      }
      if (round === 'failing' && this.failedTooLong()) await this.pauseUntilResumed();
      // 'caught-up': the run waited for events before it returned, so the next one starts at once.
      else if (round === 'busy') await this.pollLater();
      this.caughtUp = round === 'caught-up' || round === 'busy';
    }
  }

  private async deliver(): Promise<Round> {
    this.woken = false;
    const startedAt = Date.now();
    this.details(this.failingSince !== undefined ? 'retrying' : this.caughtUp ? 'caught up: waiting for events' : 'delivering');
    let result: DeliverResult;
    try {
      result = await deliverWithin(this.roundMs()).executeWithOptions({ summary: this.deliverSummary() }, [{ webstoreId: this.webstoreId, name: this.name }]);
    } catch (err) {
      // A whole round of retries failed (its timeout came first): the receiver has not taken the
      // event since at least the round's start.
      if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
      this.failingSince ??= startedAt;
      this.lastError = innermostMessage(err);
      return 'failing';
    }
    if (result.gone) return 'gone';
    this.cursor = result.cursor;
    this.deliveredThisRun += result.delivered;
    if (result.delivered > 0 || !result.failure) {
      this.failingSince = undefined;
      this.lastError = undefined;
    }
    return result.more ? 'more' : result.busy ? 'busy' : 'caught-up';
  }

  private roundMs(): number {
    if (this.failingSince === undefined) return ROUND_MS;
    const untilPause = this.failingSince + WEBHOOK_DELIVERY.pauseAfterMs - Date.now();
    return Math.min(ROUND_MS, Math.max(MIN_ROUND_MS, untilPause));
  }

  private failedTooLong(): boolean {
    return this.failingSince !== undefined && Date.now() - this.failingSince >= WEBHOOK_DELIVERY.pauseAfterMs;
  }

  /** The worker had no room for another waiting run: read again after a timer, as before long-polling. */
  private async pollLater(): Promise<void> {
    this.details('caught up: its worker is busy waiting for other subscriptions, polling');
    const summary = `caught up at cursor ${this.cursor}, worker busy: read again in ${WEBHOOK_DELIVERY.busyPollMs} ms, or when woken`;
    await condition(() => this.woken, WEBHOOK_DELIVERY.busyPollMs, { summary });
  }

  private async pauseUntilResumed(): Promise<void> {
    const pausedAt = Date.now();
    const since = new Date(this.failingSince!).toISOString();
    this.details(`paused since ${new Date(pausedAt).toISOString()}: waiting for a PUT or resume`);
    await recordWebhookStatus.executeWithOptions({ summary: `pause webhook ${this.name} of ${this.webstoreId}: failing since ${since}` }, [
      { webstoreId: this.webstoreId, name: this.name, status: 'paused', at: pausedAt, ...(this.lastError ? { lastError: this.lastError } : {}) },
    ]);
    log.warn('webhook subscription paused: every delivery has failed for a day', {
      webstoreId: this.webstoreId,
      name: this.name,
      failingSince: since,
      lastError: this.lastError,
    });
    await condition(() => this.woken);
    await recordWebhookStatus.executeWithOptions({ summary: `resume webhook ${this.name} of ${this.webstoreId}` }, [
      { webstoreId: this.webstoreId, name: this.name, status: 'active', at: Date.now() },
    ]);
    this.failingSince = undefined;
    this.lastError = undefined;
  }

  /**
   * A history grows with every round; a new run starts with the cursor and the failing time. A
   * pinned run also moves to a new worker version here (the server says when one is current), so a
   * subscription that lives for months does not keep old workers alive.
   */
  private historyIsFull(rounds: number): boolean {
    const info = workflowInfo();
    return rounds >= WEBHOOK_DELIVERY.roundsPerRun || info.continueAsNewSuggested || info.targetWorkerDeploymentVersionChanged;
  }

  private async continueAsNew(): Promise<never> {
    await condition(allHandlersFinished);
    const upgrade = workflowInfo().targetWorkerDeploymentVersionChanged;
    const next = makeContinueAsNewFunc<typeof webhookDeliveryWorkflow>(upgrade ? { initialVersioningBehavior: 'AUTO_UPGRADE' } : {});
    return await next({
      webstoreId: this.webstoreId,
      name: this.name,
      cursor: this.cursor,
      ...(this.failingSince !== undefined ? { failingSince: this.failingSince } : {}),
    });
  }

  private deliverSummary(): string {
    const retry = this.failingSince !== undefined ? `, failing since ${new Date(this.failingSince).toISOString()}` : '';
    const wait = this.caughtUp ? `, waiting up to ${WEBHOOK_DELIVERY.idleWaitMs / 1000} s for them` : '';
    return `deliver ${this.webstoreId}'s events after cursor ${this.cursor} to webhook ${this.name}${retry}${wait}`;
  }

  /** The current details the Web UI shows for the subscription's workflow. */
  private details(state: string): void {
    const lines = [`**${state}** · webhook ${this.name} of store ${this.webstoreId}`, `cursor ${this.cursor} · ${this.deliveredThisRun} delivered in this run`];
    if (this.failingSince !== undefined) lines.push(`**failing since** ${new Date(this.failingSince).toISOString()}`);
    if (this.lastError) lines.push(`**last error** ${this.lastError}`);
    setCurrentDetails(lines.join('  \n'));
  }
}

/** The message of the deepest cause: the receiver's answer behind a timeout behind the activity failure. */
function innermostMessage(err: Error): string {
  let inner: Error = err;
  for (let depth = 0; inner.cause instanceof Error && depth < 10; depth++) inner = inner.cause;
  return inner.message;
}
