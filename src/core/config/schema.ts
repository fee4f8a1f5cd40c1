// The experiment config schema: one zod schema is the single source of truth for validation (CLI,
// backend, extension diagnostics) and for schemas/experiment.schema.json (editor validation).
import { z } from 'zod';

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
    sweep: z.record(z.string(), z.array(z.unknown()).min(1)).optional().describe('Cartesian product of values, e.g. { seed: [1, 2], "train.lr": [0.001, 0.0003] }.'),
    slurm: z.record(z.string(), z.unknown()).optional().describe('Slurm executor settings.'),
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
