// The experiment config schema: one zod schema is the single source of truth for validation (CLI,
// backend, extension diagnostics) and for schemas/experiment.schema.json (editor validation).
import { z } from 'zod';
import { suggest } from '../util/suggest';

export const BACKEND_CHOICES = ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu', 'webgpu'] as const;

const positiveInt = z.number().int().min(1);
const fraction = (max: number) => z.number().min(0).max(max);

const splitFractions = z
  .object({
    val: fraction(0.9).default(0.2).describe('Fraction of cases held out for validation.'),
    test: fraction(0.9).default(0.2).describe('Fraction of cases held out for the final test evaluation.'),
    seed: z.number().int().default(42).describe('Seed of the deterministic split.'),
  })
  .strict();

const splitLists = z
  .object({
    train: z.array(z.string()).min(1).describe('Case ids (file stems) used for training.'),
    val: z.array(z.string()).min(1).describe('Case ids used for validation.'),
    test: z.array(z.string()).default([]).describe('Case ids used for the test evaluation.'),
  })
  .strict();

export const dataSchema = z
  .object({
    format: z.enum(['png', 'nifti']).default('png').describe('png: 2D PNG/JPEG images; nifti: 3D .nii/.nii.gz volumes.'),
    images: z.string().min(1).describe('Folder of images, relative to the config file.'),
    masks: z.string().min(1).optional().describe('Folder of masks (png), relative to the config file.'),
    labels: z.string().min(1).optional().describe('Folder of label volumes (nifti), relative to the config file.'),
    classes: z.array(z.string().min(1)).min(2).describe('Class names; index = class id in the masks. Class 0 is background.'),
    size: z.tuple([positiveInt, positiveInt]).optional().describe('[H, W]: 2D images are resized to this size (bilinear; masks nearest).'),
    channels: z.union([z.literal(1), z.literal(3)]).default(1).describe('Input channels: 1 converts RGB to grey.'),
    split: z.union([splitFractions, splitLists]).default({ val: 0.2, test: 0.2, seed: 42 }),
    skipUnreadable: z.boolean().default(false).describe('Skip unreadable images with a warning instead of stopping.'),
    patch: z.tuple([positiveInt, positiveInt, positiveInt]).optional().describe('[D, H, W] training patch for 3D volumes.'),
    foregroundOversample: fraction(1).default(0.33).describe('Fraction of 3D patches centred on foreground (nnU-Net: 0.33).'),
    clip: z.tuple([z.number(), z.number()]).optional().describe('[lo, hi] intensity window applied before z-scoring (e.g. CT).'),
    cacheMB: z.number().min(0).default(512).describe('Memory budget for decoded, resized cases.'),
    previewCases: z.number().int().min(0).max(64).default(4).describe('Validation cases rendered to predictions/ each epoch.'),
  })
  .strict();

export const modelSchema = z
  .object({
    arch: z.enum(['unet2d', 'unet3d']).default('unet2d'),
    depth: z.number().int().min(1).max(6).default(3).describe('Number of resolution levels.'),
    filters: z.number().int().min(1).max(512).default(16).describe('Filters at the first level; doubled at each level.'),
    norm: z.enum(['batch', 'instance', 'none']).default('batch'),
    dropout: z.number().min(0).max(0.9).default(0),
    head: z.enum(['softmax', 'sigmoid']).default('softmax').describe('softmax over C classes (as in the paper), or sigmoid (binary only).'),
  })
  .strict();

/** A loss entry: a name plus that loss's options (checked against the loss registry). */
export const lossEntrySchema = z.object({ name: z.string().min(1) }).catchall(z.unknown());

export const trainSchema = z
  .object({
    epochs: positiveInt.default(20),
    batchSize: positiveInt.default(4),
    optimizer: z.enum(['adam', 'sgd']).default('adam').describe('adam, or sgd with Nesterov momentum.'),
    lr: z.number().gt(0).default(0.001),
    momentum: z.number().min(0).lt(1).default(0.9).describe('Nesterov momentum for sgd.'),
    seed: z.number().int().default(1),
    augment: z.boolean().default(true),
    stepsPerEpoch: positiveInt.optional().describe('Steps per epoch (default: one pass over the training cases; 3D: patches).'),
    logEvery: positiveInt.default(1).describe('Log the training loss every N steps.'),
    workers: z
      .union([positiveInt, z.literal('auto')])
      .default('auto')
      .describe('Data-parallel slices per batch on the single-threaded backends (wasm, cpu): the main thread plus N − 1 worker threads. auto: one per core, at most the batch size and 4. Ignored on tensorflow, tensorflow-gpu and webgpu.'),
    plateau: z
      .union([
        z.literal(false),
        z.object({ factor: z.number().gt(0).lt(1).default(0.5), patience: z.number().int().min(0).default(5), minLr: z.number().min(0).default(1e-6) }).strict(),
      ])
      .default({ factor: 0.5, patience: 5, minLr: 1e-6 })
      .describe('ReduceLROnPlateau on the validation loss, or false.'),
    earlyStopping: z
      .union([z.literal(false), z.object({ patience: z.number().int().min(1).default(10), minDelta: z.number().min(0).default(0) }).strict()])
      .default(false)
      .describe('Stop when the validation loss has not improved for `patience` epochs, or false.'),
    checkpointEvery: positiveInt.default(1).describe('Save the `last` checkpoint every N epochs.'),
  })
  .strict();

export const evalSchema = z
  .object({
    split: z.enum(['test', 'val']).default('test'),
    checkpoint: z.enum(['best', 'last']).default('best'),
    bins: z.number().int().min(2).max(100).default(15),
    thresholds: z.array(z.number().gt(0).lt(1)).min(1).optional().describe('Thresholds of the sweep (default 0.05..0.95 by 0.05).'),
    temperature: z.boolean().default(true).describe('Fit temperature scaling on the validation split.'),
    previewCases: z.number().int().min(0).max(64).default(8),
    overlap: z.number().min(0).lt(1).default(0.5).describe('3D sliding-window overlap.'),
    skip: z.boolean().default(false).describe('Skip the test evaluation after training.'),
  })
  .strict();

// ---- Slurm executor and sweeps ----

const oneLine = (what: string) => z.string().min(1).regex(/^[^\r\n]*$/, `${what} on one line`);
const slurmWord = (what: string) => z.string().regex(/^[\w.,:=+-]+$/, `${what} (letters, digits and . , : = + - _ only)`);

export const slurmSchema = z
  .object({
    partition: slurmWord('a partition name').optional().describe('--partition'),
    account: slurmWord('an account name').optional().describe('--account'),
    qos: slurmWord('a QOS name').optional().describe('--qos'),
    gres: slurmWord('generic resources such as gpu:1').optional().describe('Generic resources per run, e.g. gpu:1 (--gres).'),
    cpus: positiveInt.default(1).describe('CPU cores per run (--cpus-per-task).'),
    mem: z.string().regex(/^\d+[KMGT]?$/i, 'a memory size such as 8G or 4000M').optional().describe('Memory per run (--mem), e.g. 8G.'),
    time: z
      .string()
      .regex(/^((\d+-)?\d+(:\d{1,2}){0,2}|UNLIMITED|INFINITE)$/, 'a Slurm time limit such as 30, 02:00:00 or 1-12:00:00')
      .optional()
      .describe('Time limit per run (--time): minutes, HH:MM:SS or D-HH:MM:SS.'),
    arrayLimit: positiveInt.optional().describe('At most this many runs of a sweep at once (--array=0-N%limit).'),
    jobName: slurmWord('a job name').optional().describe('Job name (default dscpp-<experiment>).'),
    extraSbatch: z
      .array(oneLine('an sbatch option').regex(/^(#SBATCH\s+)?--?[A-Za-z]/, 'an sbatch option such as --constraint=a100'))
      .default([])
      .describe('Further #SBATCH options, one per item, e.g. --constraint=a100.'),
    setup: z.array(oneLine('a shell command')).default([]).describe('Shell lines run before training on the compute node, e.g. module load nodejs/20.'),
    node: oneLine('a path').optional().describe('The Node.js (>= 20) executable on the compute nodes (default: node on the PATH after setup).'),
  })
  .strict();

export type SlurmConfig = z.output<typeof slurmSchema>;

const SWEEP_SECTIONS: Record<string, z.ZodType> = { train: trainSchema, model: modelSchema, data: dataSchema };

/** The object schema inside defaults, optionals and unions (e.g. train.plateau), if any. */
function objectInside(s: z.ZodType): z.ZodObject | null {
  for (let cur: z.ZodType | undefined = s, i = 0; cur && i < 8; i++) {
    if (cur instanceof z.ZodObject) return cur;
    if (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional) cur = cur.unwrap() as z.ZodType;
    else if (cur instanceof z.ZodUnion) cur = (cur.options as z.ZodType[]).find((o) => o instanceof z.ZodObject);
    else return null;
  }
  return null;
}

/** The schema of the config field a sweep key names ('seed', 'train.lr', 'data.size'), or why the key is not sweepable. */
export function sweepFieldSchema(key: string): { schema: z.ZodType } | { error: string } {
  const path = key === 'seed' ? ['train', 'seed'] : key.split('.');
  const [section, ...fields] = path;
  const root = section === undefined ? undefined : SWEEP_SECTIONS[section];
  if (!root || fields.length === 0) return { error: `unknown sweep key '${key}': expected losses, seed, or a dotted path under train., model. or data. (e.g. train.lr, model.filters, data.size)` };
  let s: z.ZodType = root;
  for (const [i, f] of fields.entries()) {
    const obj = objectInside(s);
    const allowed = obj ? Object.keys(obj.shape) : [];
    const next = obj?.shape[f] as z.ZodType | undefined;
    if (!next) {
      const where = [section, ...fields.slice(0, i)].join('.');
      const hint = suggest(f, allowed);
      return { error: `unknown field '${f}' in sweep key '${key}'${hint ? `; did you mean '${where}.${hint}'?` : ''}${allowed.length ? ` (fields of ${where}: ${allowed.join(', ')})` : ` (${where} has no fields)`}` };
    }
    s = next;
  }
  return { schema: s };
}

function checkSweep(sweep: Record<string, unknown[]>, ctx: z.core.$RefinementCtx<Record<string, unknown[]>>): void {
  if ('seed' in sweep && 'train.seed' in sweep) ctx.addIssue({ code: 'custom', path: ['train.seed'], message: `'seed' and 'train.seed' name the same field; keep one` });
  for (const [key, values] of Object.entries(sweep)) {
    const seen = new Set<string>();
    values.forEach((v, i) => {
      const k = JSON.stringify(v);
      if (seen.has(k)) ctx.addIssue({ code: 'custom', path: [key, i], message: `duplicate value ${k} in sweep key '${key}'` });
      seen.add(k);
    });
    if (key === 'losses') {
      values.forEach((v, i) => {
        const ok = (typeof v === 'string' && v.length > 0) || (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { name?: unknown }).name === 'string');
        if (!ok) ctx.addIssue({ code: 'custom', path: [key, i], message: `expected a loss name (e.g. dscpp) or a loss entry (e.g. { name: dscpp, gamma: 2 }), found ${JSON.stringify(v)}` });
      });
      continue;
    }
    const field = sweepFieldSchema(key);
    if ('error' in field) {
      ctx.addIssue({ code: 'custom', path: [key], message: field.error });
      continue;
    }
    values.forEach((v, i) => {
      const r = field.schema.safeParse(v);
      if (!r.success) ctx.addIssue({ code: 'custom', path: [key, i], message: `${JSON.stringify(v)} is not a valid ${key === 'seed' ? 'train.seed' : key}: ${r.error.issues[0]?.message ?? 'invalid value'}` });
    });
  }
}

export const experimentSchema = z
  .object({
    $schema: z.string().optional(),
    name: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only, starting with a letter or digit')
      .describe('Experiment name; runs go to <output>/<name>/.'),
    description: z.string().optional(),
    data: dataSchema,
    model: modelSchema.default({ arch: 'unet2d', depth: 3, filters: 16, norm: 'batch', dropout: 0, head: 'softmax' }),
    loss: lossEntrySchema.optional().describe('One loss (or use `losses`).'),
    losses: z.array(lossEntrySchema).min(1).optional().describe('Several losses: one run per entry, same seed and split.'),
    train: trainSchema.default(trainSchema.parse({})),
    eval: evalSchema.default(evalSchema.parse({})),
    backend: z.enum(BACKEND_CHOICES).default('auto'),
    output: z.string().min(1).default('runs').describe('Runs folder, relative to the config file.'),
    sweep: z
      .record(z.string(), z.array(z.unknown()).min(1))
      .superRefine(checkSweep)
      .optional()
      .describe('Cartesian product of values, one run each: keys losses, seed, or a dotted path under train., model. or data. (e.g. { losses: [dice, dscpp], seed: [1, 2], "train.lr": [0.001, 0.0003] }).'),
    slurm: slurmSchema.optional().describe('Slurm executor settings (dscpp-lab sweep --executor slurm).'),
  })
  .strict();

export type ExperimentInput = z.input<typeof experimentSchema>;
type Parsed = z.output<typeof experimentSchema>;
export type LossEntry = { name: string; [option: string]: unknown };

/** A validated config, with `losses` always filled (from `loss` or `losses`). */
export type ExperimentConfig = Omit<Parsed, 'loss' | 'losses'> & { losses: LossEntry[] };
export type DataConfig = Parsed['data'];
export type ModelConfig = Parsed['model'];
export type TrainConfig = Parsed['train'];
export type EvalConfig = Parsed['eval'];

export function experimentJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(experimentSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, $id: 'https://dscpp-lab.dev/schemas/experiment.schema.json', title: 'DSC++ Lab experiment config' };
}
