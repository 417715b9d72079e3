/**
 * The workflow bundle of the benchmark: every workflow of the product (unchanged) plus the bench-only
 * floor workflow, bundled once and shared by the checkout worker and the floor worker.
 */
export * from '../workflows';
export { benchFloorWorkflow, benchLifecycleWorkflow } from './floor-workflow';
