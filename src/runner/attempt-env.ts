/** The variables every attempt gets (DESIGN.md "Attempt environment"). */
export const SEED_VARIABLES = [
  "TEST_SEED",
  "GO_TEST_SEED",
  "JEST_SEED",
  "VITE_TEST_SEED",
  "MOCHA_SEED",
] as const;

export function attemptEnv(
  base: NodeJS.ProcessEnv,
  commandEnv: Record<string, string>,
  attempt: { index: number; seed: number; slot: number },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, ...commandEnv };
  for (const name of SEED_VARIABLES) env[name] = String(attempt.seed);
  env.ATTEMPT = String(attempt.index);
  env.FLAKY_SLOT = String(attempt.slot);
  // Python randomizes str hashes per process; pinning it to the attempt seed keeps that variation
  // across attempts and makes a failing seed replayable. A user's own setting wins.
  env.PYTHONHASHSEED ??= String(attempt.seed);
  return env;
}
