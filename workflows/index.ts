/** Every workflow of the b2b-checkout task queue (the worker bundles this file). */
export { checkoutWorkflow } from './checkout/workflow';
export { cartItemsWorkflow } from './cart-items';
export { probeWorkflow } from './probe';
export { webhookDeliveryWorkflow } from './webhooks';
