// Names, options, defaults and build-time validation of the loss family. No tfjs here, so the config
// validator (and the JSON schema / docs generators) can use it cheaply.
import { suggest } from '../util/suggest';

export const LOSS_NAMES = ['dice', 'dscpp', 'tversky', 'tversky++', 'focal_tversky', 'focal_tversky++', 'ce', 'focal', 'combo', 'combo++', 'unified_focal', 'unified_focal++'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

export const REDUCTIONS = ['mean', 'sum', 'none'] as const;
export type Reduction = (typeof REDUCTIONS)[number];

/** Options of every loss (each loss accepts the subset listed in LOSS_OPTION_KEYS). */
export type LossOptions = {
  /** Smoothing ε added to numerator and denominator of the region ratios (Dice, Tversky). */
  smooth?: number;
  /** DSC++ exponent γ of FP_γ = Σ((1−y)·p)^γ and FN_γ = Σ(y·(1−p))^γ (the ++ variants). */
  gamma?: number;
  /** Tversky δ: weight of FN (1−δ on FP); Unified Focal: class weight δ (foreground) / 1−δ (background). */
  delta?: number;
  /** Focal exponent γf (focal: (1−p)^γf; focal Tversky: (1−TI)^γf; Unified Focal: suppression/enhancement). */
  focalGamma?: number;
  /** Combo: weight w of the region term (1−w on CE); Unified Focal: λ on AFTL (1−λ on AFL). */
  weight?: number;
  /** Include class 0 (the background) in the class mean. */
  includeBackground?: boolean;
  /** Sum TP/FP/FN over the batch too (one region ratio per class for the whole batch). */
  batchDice?: boolean;
  /** One weight ≥ 0 per channel: a weighted mean over classes (region losses) or weighted class sum (CE). */
  classWeights?: number[];
  /** 'mean' (a scalar), 'sum' (sum of the per-sample losses), 'none' (per-sample losses, [N]). */
  reduction?: Reduction;
};

export type LossOptionKey = keyof LossOptions;

const REGION_COMMON: LossOptionKey[] = ['smooth', 'includeBackground', 'batchDice', 'classWeights', 'reduction'];
const PIXEL_COMMON: LossOptionKey[] = ['includeBackground', 'classWeights', 'reduction'];
const UNIFIED_COMMON: LossOptionKey[] = ['smooth', 'batchDice', 'reduction', 'weight', 'delta', 'focalGamma'];

/** Which options each loss accepts. */
export const LOSS_OPTION_KEYS: Readonly<Record<LossName, readonly LossOptionKey[]>> = {
  dice: REGION_COMMON,
  dscpp: [...REGION_COMMON, 'gamma'],
  tversky: [...REGION_COMMON, 'delta'],
  'tversky++': [...REGION_COMMON, 'delta', 'gamma'],
  focal_tversky: [...REGION_COMMON, 'delta', 'focalGamma'],
  'focal_tversky++': [...REGION_COMMON, 'delta', 'focalGamma', 'gamma'],
  ce: PIXEL_COMMON,
  focal: [...PIXEL_COMMON, 'focalGamma'],
  combo: [...REGION_COMMON, 'weight'],
  'combo++': [...REGION_COMMON, 'weight', 'gamma'],
  unified_focal: UNIFIED_COMMON,
  'unified_focal++': [...UNIFIED_COMMON, 'gamma'],
};

const VALUE_DEFAULTS: Required<Omit<LossOptions, 'classWeights'>> = {
  smooth: 1e-6,
  gamma: 2,
  delta: 0.7,
  focalGamma: 0.75,
  weight: 0.5,
  includeBackground: true,
  batchDice: false,
  reduction: 'mean',
};

const PER_LOSS_DEFAULTS: Partial<Record<LossName, LossOptions>> = {
  focal: { focalGamma: 2 },
  unified_focal: { delta: 0.6, focalGamma: 0.5 },
  'unified_focal++': { delta: 0.6, focalGamma: 0.5 },
};

/**
 * Default options per loss (every accepted option except classWeights, whose default is "all classes
 * weigh 1"). For docs and the config schema.
 */
export const LOSS_DEFAULTS: Readonly<Record<LossName, Readonly<LossOptions>>> = Object.fromEntries(
  LOSS_NAMES.map((n) => {
    const out: Record<string, unknown> = {};
    for (const k of LOSS_OPTION_KEYS[n]) {
      if (k === 'classWeights') continue;
      const perLoss = PER_LOSS_DEFAULTS[n]?.[k];
      out[k] = perLoss !== undefined ? perLoss : VALUE_DEFAULTS[k];
    }
    return [n, Object.freeze(out)];
  }),
) as Record<LossName, Readonly<LossOptions>>;

/** Options a loss does not take, with the reason shown to the user instead of a plain "unknown option". */
const NOT_APPLICABLE: Partial<Record<LossOptionKey, (n: LossName) => string | null>> = {
  includeBackground: (n) => (n.startsWith('unified_focal') ? 'the Unified Focal loss treats class 0 as the background by definition' : null),
  classWeights: (n) => (n.startsWith('unified_focal') ? "the Unified Focal loss weighs classes with 'delta'" : null),
  batchDice: (n) => (n === 'ce' || n === 'focal' ? 'it is a per-voxel loss with no region terms' : null),
  smooth: (n) => (n === 'ce' || n === 'focal' ? 'it is a per-voxel loss with no region ratio' : null),
};

export function isLossName(n: string): n is LossName {
  return (LOSS_NAMES as readonly string[]).includes(n);
}

function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * The error text createLoss would throw for this name and these options, or null when they are valid.
 * Undefined values count as absent. The config validator calls this.
 */
export function validateLossOptions(name: string, options: Record<string, unknown>): string | null {
  if (!isLossName(name)) {
    const hint = suggest(name, LOSS_NAMES);
    return `unknown loss '${name}'${hint ? `; did you mean '${hint}'?` : ''}`;
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return `${name}: options must be an object, got ${show(options)}`;
  const allowed = LOSS_OPTION_KEYS[name];
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined) continue;
    if (!(allowed as readonly string[]).includes(k)) {
      const why = (NOT_APPLICABLE as Record<string, ((n: LossName) => string | null) | undefined>)[k]?.(name);
      if (why) return `${name}: option '${k}' does not apply: ${why} (options: ${allowed.join(', ')})`;
      const hint = suggest(k, allowed);
      return `${name}: unknown option '${k}'${hint ? `; did you mean '${hint}'?` : ''} (options: ${allowed.join(', ')})`;
    }
    switch (k as LossOptionKey) {
      case 'gamma':
        if (!isNum(v) || v <= 0) return `${name}: option 'gamma' must be a number > 0, got ${show(v)}`;
        break;
      case 'focalGamma':
        if (!isNum(v) || v < 0) return `${name}: option 'focalGamma' must be a number >= 0, got ${show(v)}`;
        if (name.startsWith('unified_focal') && v >= 1) return `${name}: option 'focalGamma' must be a number in [0, 1) for the Unified Focal loss (the foreground term is (1−TI)^(1−focalGamma)), got ${show(v)}`;
        break;
      case 'smooth':
        if (!isNum(v) || v < 0) return `${name}: option 'smooth' must be a number >= 0, got ${show(v)}`;
        break;
      case 'delta':
      case 'weight':
        if (!isNum(v) || v < 0 || v > 1) return `${name}: option '${k}' must be a number in [0, 1], got ${show(v)}`;
        break;
      case 'includeBackground':
      case 'batchDice':
        if (typeof v !== 'boolean') return `${name}: option '${k}' must be true or false, got ${show(v)}`;
        break;
      case 'reduction':
        if (typeof v !== 'string' || !(REDUCTIONS as readonly string[]).includes(v)) return `${name}: option 'reduction' must be one of 'mean', 'sum', 'none', got ${show(v)}`;
        break;
      case 'classWeights':
        if (!Array.isArray(v) || v.length === 0 || v.some((w) => !isNum(w) || w < 0) || v.every((w) => w === 0)) {
          return `${name}: option 'classWeights' must be a non-empty list of numbers >= 0, not all zero, got ${show(v)}`;
        }
        break;
    }
  }
  if (options.includeBackground === false && Array.isArray(options.classWeights) && options.classWeights.slice(1).every((w) => w === 0)) {
    return `${name}: option 'classWeights' ${show(options.classWeights)} selects no class once includeBackground is false`;
  }
  return null;
}

/** Defaults merged with the given options (validated first). */
export function resolveLossOptions(name: LossName, options: LossOptions): Required<Omit<LossOptions, 'classWeights'>> & { classWeights: number[] | null } {
  const o: LossOptions = { ...LOSS_DEFAULTS[name] };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as Record<string, unknown>)[k] = v;
  return {
    smooth: o.smooth ?? VALUE_DEFAULTS.smooth,
    gamma: o.gamma ?? 1,
    delta: o.delta ?? VALUE_DEFAULTS.delta,
    focalGamma: o.focalGamma ?? 0,
    weight: o.weight ?? VALUE_DEFAULTS.weight,
    includeBackground: o.includeBackground ?? true,
    batchDice: o.batchDice ?? false,
    reduction: o.reduction ?? 'mean',
    classWeights: o.classWeights ? [...o.classWeights] : null,
  };
}
