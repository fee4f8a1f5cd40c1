// Mask-preview panel channel (host <-> webview). Case arrays travel as typed arrays (structured clone),
// loaded one case at a time on request. Imports only src/protocol.
import type { RunStatus } from './training';

export interface MaskCaseInfo {
  /** Index into predictions/previews.json `cases`. */
  index: number;
  id: string;
  /** [H, W] or [D, H, W]. */
  spatial: number[];
  dsc: number | null;
  nll: number;
}

export interface MaskCaseData {
  index: number;
  spatial: number[];
  channels: number;
  numClasses: number;
  /** Float32 [...spatial, channels]. */
  image: Float32Array;
  /** Uint8 [...spatial], class ids. */
  labels: Uint8Array;
  /** Float32 [...spatial, probChannels]; probChannels is numClasses, or 1 for a sigmoid head. */
  probs: Float32Array;
  probChannels: number;
}

export type MasksHostMessage =
  | {
      type: 'snapshot';
      runDir: string;
      runId: string;
      label: string;
      status: RunStatus;
      classes: string[];
      numClasses: number;
      cases: MaskCaseInfo[];
      /** Why there is nothing to show (no previews yet, unreadable file); null otherwise. */
      problem: string | null;
    }
  | ({ type: 'case' } & MaskCaseData)
  | { type: 'caseFailed'; index: number; message: string };

export type MasksWebviewMessage =
  | { type: 'ready' }
  | { type: 'getCase'; index: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };

export type SliceAxis = 'axial' | 'coronal' | 'sagittal';

export interface MasksViewState {
  panel: 'masks';
  runDir: string;
  caseIndex: number;
  search: string;
  sort: 'index' | 'dsc';
  classIndex: number;
  threshold: number;
  opacity: { truth: number; prediction: number; heat: number; entropy: number };
  axis: SliceAxis;
  /** Slice per axis (3D only). */
  slice: Record<SliceAxis, number>;
}
