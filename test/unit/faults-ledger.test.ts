/** The fault suite's model of item changes: which final quantities the ledger allows for a SKU. */
import { allowedQuantities, type Op } from '../../faults/ledger';

let seq = 0;
function op(kind: Op['kind'], outcome: Op['outcome'], quantity?: number, key?: string): Op {
  seq++;
  return {
    id: seq,
    client: 'c0',
    cartId: 'cart-1',
    kind,
    via: 'http',
    sku: 'SKU-1',
    sentAt: seq,
    answers: [],
    outcome,
    ...(quantity !== undefined ? { quantity } : {}),
    ...(key ? { key } : {}),
  };
}
const allowed = (...ops: Op[]) => [...allowedQuantities(ops)].sort((a, b) => a - b);

describe('allowedQuantities', () => {
  it('an acknowledged add must be there exactly once', () => {
    expect(allowed(op('add', 'applied', 3))).toEqual([3]);
  });

  it('the same request twice with one Idempotency-Key is one effect; without a key, two', () => {
    expect(allowed(op('add', 'applied', 2, 'k1'), op('add', 'applied', 2, 'k1'))).toEqual([2]);
    expect(allowed(op('add', 'applied', 2), op('add', 'applied', 2))).toEqual([4]);
  });

  it('a refused change changes nothing; one without a definite answer may or may not have landed', () => {
    expect(allowed(op('add', 'applied', 1), op('add', 'refused', 5))).toEqual([1]);
    expect(allowed(op('add', 'applied', 1), op('add', 'unknown', 5))).toEqual([1, 6]);
  });

  it('a keyed request retried until acknowledged counts once, whatever its earlier attempts answered', () => {
    expect(allowed(op('add', 'unknown', 4, 'k2'), op('add', 'applied', 4, 'k2'))).toEqual([4]);
  });

  it('set and remove replace the quantity', () => {
    expect(allowed(op('add', 'applied', 2), op('set', 'applied', 5))).toEqual([5]);
    expect(allowed(op('add', 'applied', 2), op('set', 'applied', 5), op('remove', 'applied'))).toEqual([0]);
    expect(allowed(op('add', 'applied', 2), op('remove', 'unknown'))).toEqual([0, 2]);
  });

  it('a change accepted (202) must land, unless the cart was closed before it could', () => {
    expect(allowed(op('add', 'applied', 1), op('set', 'accepted', 4))).toEqual([4]);
    expect([...allowedQuantities([op('add', 'applied', 1), op('set', 'accepted', 4)], true)].sort()).toEqual([1, 4]);
  });
});
