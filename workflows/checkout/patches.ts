/**
 * The checkout's patches. Each guards commands that older histories do not have: where the history
 * lacks a patch's marker, replay takes the old path. Keep every `patched()` call at its point in the
 * command sequence; remove one with deprecatePatch once no checkout from before it can still run
 * (leases are 30 min).
 */

/** Checkouts started before this patch end without a last CheckoutState upsert. */
export const FINAL_STATE_PATCH = 'checkout-state-at-end';

/**
 * Before this patch a cancel that arrived after the order interrupted the background steps, and a
 * step that failed after the order still let the order through: orders were placed without taxes or
 * totals.
 */
export const ORDER_WAITS_FOR_STEPS_PATCH = 'order-waits-for-steps';

/** Before this patch a run whose step found the cart no longer held waited out its lease. */
export const LOCK_LOST_PATCH = 'lock-lost-ends-run';
