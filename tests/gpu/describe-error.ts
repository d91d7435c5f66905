// Errors do not cross page.evaluate with their class; probes use this to report what was thrown.

export interface ThrownError {
  name: string;
  code: string | undefined;
  message: string;
}

/** Runs `action` and describes what it threw, or returns null when it did not throw. */
export async function describeErrorForTest(action: () => unknown): Promise<ThrownError | null> {
  try {
    await action();
    return null;
  } catch (error) {
    const e = error as { name?: string; code?: string; message?: string };
    return { name: e.name ?? 'unknown', code: e.code, message: e.message ?? String(error) };
  }
}
