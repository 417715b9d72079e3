/** Transitional: the error classes and failure helpers live in the contract (src/contract). */
export { CART_CONTENDED, CartContendedError, CheckoutError, isErrorCode } from './contract';
export { findCheckoutError, toApplicationFailure, toRetryableFailure } from './contract/failures';
