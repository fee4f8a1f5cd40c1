// The webview side of a panel channel: a typed wrapper over acquireVsCodeApi, and the host-message
// listener. acquireVsCodeApi may be called once per page, so the wrapper is created once here.

interface VsCodeWebviewApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeWebviewApi;

export interface PanelApi<Out, State> {
  post(message: Out): void;
  /** The view state kept by VS Code (undefined on first open). */
  state(): Partial<State> | undefined;
  saveState(state: State): void;
}

let api: VsCodeWebviewApi | undefined;

export function panelApi<Out, State>(): PanelApi<Out, State> {
  api ??= acquireVsCodeApi();
  const a = api;
  return {
    post: (m) => a.postMessage(m),
    state: () => {
      const s = a.getState();
      return s !== null && typeof s === 'object' ? (s as Partial<State>) : undefined;
    },
    saveState: (s) => a.setState(s),
  };
}

/** Calls `handler` for every message from the host that has a string `type`. */
export function onHostMessage<In extends { type: string }>(handler: (message: In) => void): void {
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const data = event.data;
    if (data !== null && typeof data === 'object' && typeof (data as { type?: unknown }).type === 'string') {
      handler(data as In);
    }
  });
}

/** Reports an unexpected message type (the `never` branch of a handler's switch). */
export function unknownMessage(post: (m: { type: 'log'; level: 'warn'; message: string }) => void, message: never): void {
  const type = (message as { type?: unknown }).type;
  const text = `DSC++ panel: ignored a host message of unknown type ${JSON.stringify(type)}`;
  console.warn(text);
  post({ type: 'log', level: 'warn', message: text });
}

/**
 * Runs `draw` at most once per `minIntervalMs` (100 ms: at most 10 redraws a second), coalescing
 * every request made in between. The number of redraws is kept on <body data-redraws> for tests.
 */
export function redrawScheduler(draw: () => void, minIntervalMs = 100): { request(): void; now(): void } {
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let count = 0;
  const run = (): void => {
    timer = undefined;
    last = performance.now();
    count++;
    draw();
    document.body.dataset.redraws = String(count);
  };
  return {
    request(): void {
      if (timer !== undefined) return;
      const wait = Math.max(0, last + minIntervalMs - performance.now());
      timer = setTimeout(run, wait);
    },
    now(): void {
      if (timer !== undefined) clearTimeout(timer);
      run();
    },
  };
}
