// A minimal typed event emitter for the vscode-free model (the vscode layer wraps it in Disposables).

export type Listener<T> = (value: T) => void;

export class Emitter<T> {
  private listeners: Listener<T>[] = [];

  /** Adds a listener; returns a function that removes it. */
  on(listener: Listener<T>): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  fire(value: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(value);
      } catch (e) {
        // One failing listener must not stop the others (or the run manager).
        process.stderr.write(`dscpp-lab: listener failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      }
    }
  }

  clear(): void {
    this.listeners = [];
  }
}
