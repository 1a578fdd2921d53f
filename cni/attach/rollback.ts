/**
 * Undo stack for an ADD: every step that changes something registers how to undo it, and a
 * failing ADD undoes them newest first, so a failed ADD leaves the host as it found it. Undo
 * failures are collected, not thrown: the error the caller sees is the one that made ADD fail.
 */
export class Rollback {
  private readonly steps: { label: string; undo: () => Promise<void> | void }[] = [];

  push(label: string, undo: () => Promise<void> | void): void {
    this.steps.push({ label, undo });
  }

  /** Undoes every registered step, newest first; returns the undo steps that failed. */
  async run(): Promise<string[]> {
    const failures: string[] = [];
    for (const step of this.steps.reverse()) {
      try {
        await step.undo();
      } catch (err) {
        failures.push(`${step.label}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.steps.length = 0;
    return failures;
  }

  /**
   * Runs `work`; when it throws, undoes what was registered and rethrows the original error,
   * with any undo failure appended to its message.
   */
  async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      const failures = await this.run();
      if (failures.length > 0 && err instanceof Error) err.message += ` (and undoing the partial ADD failed: ${failures.join('; ')})`;
      throw err;
    }
  }
}
