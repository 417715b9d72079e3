export default async function globalTeardown(): Promise<void> {
  await globalThis.__B2B_TEST_STACK__?.stop();
}
