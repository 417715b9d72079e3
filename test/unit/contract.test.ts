import { randomUUID } from 'node:crypto';
import { cartIdOfWorkflowId, cartItemsWorkflowId, checkoutWorkflowId } from '../../src/contract';

describe('workflow-ID schemes', () => {
  it('reads the cart back from a checkout id', () => {
    expect(cartIdOfWorkflowId(checkoutWorkflowId('CART-1.a:b'))).toBe('CART-1.a:b');
  });

  it('reads the cart back from an item change with a generated request id, dashes and all', () => {
    expect(cartIdOfWorkflowId(cartItemsWorkflowId('cart-with-dashes', randomUUID()))).toBe('cart-with-dashes');
  });

  it('does not guess the cart of an item change whose request id is not a UUID', () => {
    expect(cartIdOfWorkflowId(cartItemsWorkflowId('a-b', 'c-d'))).toBeUndefined();
  });

  it('knows no cart for other ids and non-strings', () => {
    expect(cartIdOfWorkflowId('probe-1')).toBeUndefined();
    expect(cartIdOfWorkflowId('checkout-')).toBeUndefined();
    expect(cartIdOfWorkflowId(42)).toBeUndefined();
  });
});
