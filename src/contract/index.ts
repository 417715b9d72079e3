/**
 * The contract other services and our own parts rely on, defined once: names and ID schemes
 * (./names), the shapes that cross a boundary (./types), error codes and messages (./errors) and
 * validation (./validation). Free of Node, MongoDB and the Temporal SDK, so workflow code, the store
 * and services in any layer can import it. The message definitions (./messages) and the failure
 * helpers (./failures) use only sandbox-safe Temporal exports and are imported by their own paths.
 */
export * from './names';
export * from './types';
export * from './errors';
export * from './validation';
export * from './integrations';
// Cart events (issue 12).
export * from './events';
// Webhooks (issue 12).
export * from './webhooks';
