/**
 * `node dist/src/workflow-bundle.js <file>`: writes the workflow bundle at build time (the Dockerfile
 * does), so the worker started with WORKFLOW_BUNDLE_PATH=<file> loads it instead of running webpack at
 * every start. The bundle is the code of this build: make it again whenever workflows/ changes.
 */
import { writeFileSync } from 'node:fs';
import { bundleCheckoutWorkflows } from './worker';

async function main(out: string | undefined): Promise<void> {
  if (!out) throw new Error('usage: workflow-bundle.js <output file>');
  const { code } = await bundleCheckoutWorkflows();
  writeFileSync(out, code);
  console.log(`workflow bundle written to ${out} (${code.length} bytes)`);
}

main(process.argv[2]).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
