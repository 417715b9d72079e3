/**
 * Where the time of one cancel goes, read from the checkout's workflow history (server timestamps):
 * the workflow task that handled the cancel (schedule → start → complete), then the
 * cancelCartAsyncOperation activity (schedule → start → complete), against the client's send time and
 * the moment the benchmark saw the cart Active. Client and dev server share the machine's clock.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { CANCEL_ACTIVITY_TYPE, checkoutWorkflowId } from '../src/contract';
import { summarize, type Summary } from './stats';

const E = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function ms(ts: HistoryEvent['eventTime']): number {
  if (!ts) return NaN;
  const s = ts.seconds as unknown as number | { toNumber(): number } | null | undefined;
  const seconds = typeof s === 'number' ? s : s ? s.toNumber() : 0;
  return seconds * 1000 + (ts.nanos ?? 0) / 1e6;
}

function id(v: unknown): number {
  return typeof v === 'number'
    ? v
    : v && typeof (v as { toNumber?: () => number }).toNumber === 'function'
      ? (v as { toNumber(): number }).toNumber()
      : Number(v);
}

export interface CancelTimeline {
  /** Client send → the workflow task that handles the cancel is scheduled (signal/update RPC, history write). */
  sendToTaskScheduled: number;
  /** Workflow task schedule → start: matching and the worker's poll (sticky queue). */
  workflowTaskScheduleToStart: number;
  /** Workflow task start → complete: the worker runs the workflow code and answers. */
  workflowTaskStartToComplete: number;
  /** cancelCartAsyncOperation schedule → start: matching and the worker's activity poll. */
  activityScheduleToStart: number;
  /** Activity start → complete: the MongoDB read + conditional write, and the completion RPC. */
  activityStartToComplete: number;
  /** Activity start → the benchmark's read that saw Active. */
  activityStartToObserved: number;
}

/** The timeline of the cancel of one checkout run, or undefined if the history does not show one. */
export async function cancelTimeline(
  client: Client,
  cartId: string,
  runId: string | undefined,
  sentEpochMs: number,
  observedEpochMs: number,
): Promise<CancelTimeline | undefined> {
  const history = await client.workflow.getHandle(checkoutWorkflowId(cartId), runId).fetchHistory();
  const events = history.events ?? [];
  const byId = new Map(events.map((e) => [id(e.eventId), e]));
  const scheduled = events.find(
    (e) => e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED && e.activityTaskScheduledEventAttributes?.activityType?.name === CANCEL_ACTIVITY_TYPE,
  );
  if (!scheduled) return undefined;
  const wftCompleted = byId.get(id(scheduled.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId));
  const wftStarted = wftCompleted && byId.get(id(wftCompleted.workflowTaskCompletedEventAttributes?.startedEventId));
  const wftScheduled = wftCompleted && byId.get(id(wftCompleted.workflowTaskCompletedEventAttributes?.scheduledEventId));
  const schedId = id(scheduled.eventId);
  const started = events.find(
    (e) => e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_STARTED && id(e.activityTaskStartedEventAttributes?.scheduledEventId) === schedId,
  );
  const completed = events.find(
    (e) =>
      (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED && id(e.activityTaskCompletedEventAttributes?.scheduledEventId) === schedId) ||
      (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_FAILED && id(e.activityTaskFailedEventAttributes?.scheduledEventId) === schedId),
  );
  if (!wftCompleted || !wftStarted || !wftScheduled || !started || !completed) return undefined;
  const t = {
    wftScheduled: ms(wftScheduled.eventTime),
    wftStarted: ms(wftStarted.eventTime),
    wftCompleted: ms(wftCompleted.eventTime),
    actScheduled: ms(scheduled.eventTime),
    actStarted: ms(started.eventTime),
    actCompleted: ms(completed.eventTime),
  };
  return {
    sendToTaskScheduled: t.wftScheduled - sentEpochMs,
    workflowTaskScheduleToStart: t.wftStarted - t.wftScheduled,
    workflowTaskStartToComplete: t.wftCompleted - t.wftStarted,
    activityScheduleToStart: t.actStarted - t.actScheduled,
    activityStartToComplete: t.actCompleted - t.actStarted,
    activityStartToObserved: observedEpochMs - t.actStarted,
  };
}

export type TimelineSummary = Record<keyof CancelTimeline, Summary>;

export function summarizeTimelines(timelines: CancelTimeline[]): TimelineSummary | undefined {
  if (timelines.length === 0) return undefined;
  const keys = Object.keys(timelines[0]) as Array<keyof CancelTimeline>;
  return Object.fromEntries(keys.map((k) => [k, summarize(timelines.map((t) => t[k]))])) as TimelineSummary;
}
