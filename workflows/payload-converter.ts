/**
 * The payload converter of the worker and the clients (`dataConverter.payloadConverterPath`). It
 * encodes exactly as the SDK's default converter does; it differs only in decoding a payload the
 * default converter cannot read (another encoding such as binary/protobuf, or JSON that does not
 * parse). The default converter throws there, and for a signal the SDK decodes the arguments while
 * it applies the workflow task: the task then fails on every attempt and the workflow is wedged (its
 * lease timer never fires). This converter returns an UndecodablePayload marker instead, which the
 * handlers recognise and refuse. It is loaded in the workflow sandbox, so it must stay deterministic:
 * the marker depends on the payload's bytes alone.
 */
import { defaultPayloadConverter, type Payload, type PayloadConverter } from '@temporalio/common';
import { decode } from '@temporalio/common/lib/encoding';

export const UNDECODABLE_PAYLOAD = 'b2bUndecodablePayload';

/** What a handler receives in place of an argument it cannot read. */
export interface UndecodablePayload {
  [UNDECODABLE_PAYLOAD]: true;
  /** The payload's `encoding` metadata, as sent. */
  encoding: string;
  /** Why it could not be decoded. */
  problem: string;
  /** Size of the payload's data, in bytes. */
  bytes: number;
}

export function isUndecodablePayload(value: unknown): value is UndecodablePayload {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[UNDECODABLE_PAYLOAD] === true;
}

function encodingOf(payload: Payload): string {
  const raw = payload.metadata?.encoding;
  if (!raw) return '(none)';
  try {
    return decode(raw).slice(0, 100);
  } catch {
    return '(unreadable)';
  }
}

class TolerantPayloadConverter implements PayloadConverter {
  toPayload<T>(value: T): Payload {
    return defaultPayloadConverter.toPayload(value);
  }

  fromPayload<T>(payload: Payload): T {
    try {
      return defaultPayloadConverter.fromPayload<T>(payload);
    } catch (err) {
      const marker: UndecodablePayload = {
        [UNDECODABLE_PAYLOAD]: true,
        encoding: encodingOf(payload),
        problem: (err instanceof Error ? err.message : String(err)).slice(0, 200),
        bytes: payload.data?.length ?? 0,
      };
      return marker as T;
    }
  }
}

export const payloadConverter: PayloadConverter = new TolerantPayloadConverter();
