export default async function globalTeardown(): Promise<void> {
  const stops = globalThis.__B2B_TEST_STACK__ ?? [];
  for (const stop of stops.reverse()) await stop();
}
