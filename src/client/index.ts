/** The client library for services (see ./checkout-client). */
export { CheckoutClient } from './checkout-client';
export { asCheckoutError, transientTemporalError, unavailableDependency, waitEndedWithoutOutcome, waitExpired, type Unavailable } from './temporal-errors';
export type { NewCart } from '../carts';
export type * from './types';
