/** Reading workflow histories in assertions: what ran, with which attempt, and how it ended. */
import type { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
type Event = temporal.api.history.v1.IHistoryEvent;

export interface ActivityRun {
  activityType: string;
  scheduledEventId: number;
  input: unknown[];
  started?: Event;
  completed?: Event;
  failed?: Event;
  cancelRequested: boolean;
  canceled?: Event;
}

function decode(payloads: temporal.api.common.v1.IPayloads | null | undefined): unknown[] {
  return (payloads?.payloads ?? []).map((p) => (p.data ? JSON.parse(Buffer.from(p.data).toString('utf8')) : undefined));
}

/** Every activity of a history, in the order scheduled, with the events that belong to it. */
export function activityRuns(history: History): ActivityRun[] {
  const events = history.events ?? [];
  const runs = new Map<number, ActivityRun>();
  for (const e of events) {
    const id = Number(e.eventId);
    if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes;
      runs.set(id, { activityType: a.activityType?.name ?? '', scheduledEventId: id, input: decode(a.input), cancelRequested: false });
    }
    const ref =
      e.activityTaskStartedEventAttributes ??
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskCancelRequestedEventAttributes ??
      e.activityTaskCanceledEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (!ref) continue;
    const run = runs.get(Number(ref.scheduledEventId));
    if (!run) continue;
    if (e.activityTaskStartedEventAttributes) run.started = e;
    if (e.activityTaskCompletedEventAttributes) run.completed = e;
    if (e.activityTaskFailedEventAttributes) run.failed = e;
    if (e.activityTaskCancelRequestedEventAttributes) run.cancelRequested = true;
    if (e.activityTaskCanceledEventAttributes) run.canceled = e;
  }
  return [...runs.values()];
}

export function runsOf(history: History, activityType: string): ActivityRun[] {
  return activityRuns(history).filter((r) => r.activityType === activityType);
}

export function signalsOf(history: History, name: string): unknown[][] {
  return (history.events ?? [])
    .filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === name)
    .map((e) => decode(e.workflowExecutionSignaledEventAttributes?.input));
}

export function lastEvent(history: History): Event | undefined {
  return history.events?.at(-1);
}

export function eventsWith(history: History, attribute: keyof Event): Event[] {
  return (history.events ?? []).filter((e) => e[attribute] !== undefined && e[attribute] !== null);
}

/** The summary (user metadata) of an event, decoded: what the Web UI shows beside an activity or timer. */
export function summaryOf(event: Event): string | undefined {
  const data = event.userMetadata?.summary?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as string) : undefined;
}

/** Every event that scheduled an activity, with its activity type and summary. */
export function scheduledActivities(history: History): { activityType: string; summary: string | undefined }[] {
  return (history.events ?? [])
    .filter((e) => e.activityTaskScheduledEventAttributes)
    .map((e) => ({ activityType: e.activityTaskScheduledEventAttributes?.activityType?.name ?? '', summary: summaryOf(e) }));
}
