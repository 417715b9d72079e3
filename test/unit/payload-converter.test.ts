/** The worker's payload converter: encodes as the default one does, and turns what it cannot decode into a marker. */
import { defaultPayloadConverter } from '@temporalio/common';
import { isUndecodablePayload, payloadConverter } from '../../workflows/payload-converter';

const values: unknown[] = [{ reason: 'REQUESTED', requestedBy: 'svc' }, 'text', 42, null, undefined, [1, 'two'], new Uint8Array([1, 2, 3])];

test('good values are encoded byte for byte as the default converter encodes them, and decode back', () => {
  for (const value of values) {
    const ours = payloadConverter.toPayload(value);
    expect(ours).toEqual(defaultPayloadConverter.toPayload(value));
    expect(payloadConverter.fromPayload(ours)).toEqual(value);
  }
});

test('another encoding, or JSON that does not parse, becomes the same marker every time', () => {
  const protobuf = { metadata: { encoding: Buffer.from('binary/protobuf') }, data: Buffer.from([0x0a, 0x01, 0x41]) };
  const badJson = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{"reason": ') };
  for (const payload of [protobuf, badJson]) {
    const marker = payloadConverter.fromPayload(payload);
    expect(isUndecodablePayload(marker)).toBe(true);
    expect(payloadConverter.fromPayload(payload)).toEqual(marker);
  }
  expect(payloadConverter.fromPayload(protobuf)).toMatchObject({ encoding: 'binary/protobuf', problem: 'Unknown encoding: binary/protobuf', bytes: 3 });
  expect(payloadConverter.fromPayload(badJson)).toMatchObject({ encoding: 'json/plain', bytes: 11 });
  expect(isUndecodablePayload({ reason: 'REQUESTED' })).toBe(false);
});
