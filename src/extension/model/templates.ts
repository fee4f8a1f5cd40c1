// Templates of "DSC++: New Experiment Config". Each writes a complete, valid config (the unit tests
// validate every template with the same validator as the CLI). No vscode import.
import { dirname, isAbsolute, relative, sep } from 'node:path';

export type TemplateId = '2d-binary-png' | '3d-multiclass-nifti' | 'dsc-vs-dscpp';

export interface TemplateFolder {
  /** The config field the folder goes to. */
  key: 'images' | 'masks' | 'labels';
  /** The open-dialog title. */
  prompt: string;
}

export interface TemplateSpec {
  id: TemplateId;
  label: string;
  detail: string;
  /** Suggested file name (without folder). */
  fileName: string;
  folders: TemplateFolder[];
  /** Default class names (editable in the wizard). */
  classes: string[];
}

export const TEMPLATES: readonly TemplateSpec[] = [
  {
    id: '2d-binary-png',
    label: '2D binary segmentation (PNG)',
    detail: 'PNG/JPEG images and 0/255 or 0/1 masks paired by file name; a 2D U-Net trained with DSC++ (γ = 2).',
    fileName: 'binary-2d.dscpp.yaml',
    folders: [
      { key: 'images', prompt: 'Folder of images (PNG or JPEG)' },
      { key: 'masks', prompt: 'Folder of masks (same file names as the images, or with _mask/_seg/_label)' },
    ],
    classes: ['background', 'foreground'],
  },
  {
    id: '3d-multiclass-nifti',
    label: '3D multi-class segmentation (NIfTI)',
    detail: '.nii/.nii.gz volumes and label volumes with class ids; a 3D U-Net on patches, trained with DSC++ (γ = 2).',
    fileName: 'multiclass-3d.dscpp.yaml',
    folders: [
      { key: 'images', prompt: 'Folder of image volumes (.nii or .nii.gz)' },
      { key: 'labels', prompt: 'Folder of label volumes (class ids 0..C-1)' },
    ],
    classes: ['background', 'class1', 'class2'],
  },
  {
    id: 'dsc-vs-dscpp',
    label: 'DSC vs DSC++ comparison (2D PNG)',
    detail: 'The paper\'s comparison: soft Dice and DSC++ trained side by side with the same seed and split, then evaluated for calibration.',
    fileName: 'dsc-vs-dscpp.dscpp.yaml',
    folders: [
      { key: 'images', prompt: 'Folder of images (PNG or JPEG)' },
      { key: 'masks', prompt: 'Folder of masks (same file names as the images, or with _mask/_seg/_label)' },
    ],
    classes: ['background', 'foreground'],
  },
];

export interface TemplateParams {
  /** Experiment name (letters, digits, '.', '_', '-'). */
  name: string;
  /** Absolute path of the config file to write. */
  configPath: string;
  /** Absolute data folders by key. */
  folders: Partial<Record<TemplateFolder['key'], string>>;
  classes: string[];
}

/** A YAML scalar: plain when safe, else double-quoted (JSON strings are valid YAML). */
export function yamlScalar(s: string): string {
  return /^[A-Za-z0-9_./-][A-Za-z0-9_. /-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s) && !/^[-.\d]+$/.test(s) && !s.endsWith(' ') ? s : JSON.stringify(s);
}

/** A folder as written in the config: relative to the config file (forward slashes) when possible. */
export function configRelativePath(configPath: string, folder: string): string {
  if (!isAbsolute(folder)) return folder.split(sep).join('/');
  const rel = relative(dirname(configPath), folder);
  if (rel === '') return '.';
  if (isAbsolute(rel)) return folder.split(sep).join('/'); // another drive on Windows
  return rel.split(sep).join('/');
}

/** A valid experiment name from any text (e.g. a folder name). */
export function experimentName(text: string): string {
  const s = text.replace(/\.dscpp\.(ya?ml|json)$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').replace(/-+$/, '');
  return s || 'experiment';
}

/** Checks an experiment name like the validator does; returns a message or null. */
export function validateExperimentName(name: string): string | null {
  if (!name) return 'Enter a name';
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) ? null : 'Letters, digits, ".", "_" and "-" only, starting with a letter or digit';
}

/** Parses "background, nucleus" into class names; returns an error text for fewer than 2. */
export function parseClassList(text: string): { classes: string[]; error: string | null } {
  const classes = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (classes.length < 2) return { classes, error: 'Give at least two classes, background first (e.g. background, nucleus)' };
  if (new Set(classes).size !== classes.length) return { classes, error: 'Class names must be different' };
  return { classes, error: null };
}

export function renderTemplate(id: TemplateId, p: TemplateParams): string {
  const spec = TEMPLATES.find((t) => t.id === id);
  if (!spec) throw new Error(`unknown template '${id}'`);
  for (const f of spec.folders) if (!p.folders[f.key]) throw new Error(`template '${id}' needs the '${f.key}' folder`);
  const folder = (k: TemplateFolder['key']) => yamlScalar(configRelativePath(p.configPath, p.folders[k] as string));
  const classes = `[${p.classes.map(yamlScalar).join(', ')}]`;
  const head = `# DSC++ Lab experiment config (${spec.label}).\n# Paths are relative to this file. Reference: the README's "Experiment configs"; editors validate this\n# file against schemas/experiment.schema.json. Run it with "▶ Run experiment" above, or dscpp-lab train <file>.\n`;
  switch (id) {
    case '2d-binary-png':
      return `${head}name: ${yamlScalar(p.name)}
description: 2D binary segmentation trained with DSC++ (calibrated Dice).
data:
  format: png
  images: ${folder('images')}
  masks: ${folder('masks')}
  classes: ${classes}
  size: [128, 128]          # images are resized (bilinear; masks nearest neighbour)
  split: { val: 0.2, test: 0.2, seed: 42 }
model: { arch: unet2d, depth: 3, filters: 16, norm: batch, dropout: 0, head: softmax }
loss: { name: dscpp, gamma: 2 }
train: { epochs: 20, batchSize: 4, optimizer: adam, lr: 0.001, seed: 1, augment: true }
eval: { split: test, bins: 15 }
backend: auto               # auto | wasm | cpu | tensorflow | tensorflow-gpu | webgpu
output: runs                # runs/<name>/<run id>/ beside this file
`;
    case '3d-multiclass-nifti':
      return `${head}name: ${yamlScalar(p.name)}
description: 3D multi-class segmentation of NIfTI volumes trained with DSC++ (calibrated Dice).
data:
  format: nifti
  images: ${folder('images')}
  labels: ${folder('labels')}
  classes: ${classes}
  patch: [32, 32, 32]       # [D, H, W] training patches; evaluation uses a sliding window
  split: { val: 0.2, test: 0.2, seed: 42 }
model: { arch: unet3d, depth: 3, filters: 8, norm: instance, dropout: 0, head: softmax }
loss: { name: dscpp, gamma: 2 }
train: { epochs: 50, batchSize: 2, optimizer: adam, lr: 0.001, seed: 1, augment: true }
eval: { split: test, bins: 15, overlap: 0.5 }
backend: auto               # auto | wasm | cpu | tensorflow | tensorflow-gpu | webgpu
output: runs                # runs/<name>/<run id>/ beside this file
`;
    case 'dsc-vs-dscpp':
      return `${head}name: ${yamlScalar(p.name)}
description: Soft Dice (DSC) and DSC++ (gamma 2) trained side by side with the same seed and split (Yeung et al. 2022).
data:
  format: png
  images: ${folder('images')}
  masks: ${folder('masks')}
  classes: ${classes}
  size: [128, 128]
  split: { val: 0.2, test: 0.2, seed: 42 }
model: { arch: unet2d, depth: 3, filters: 16, norm: batch, dropout: 0, head: softmax }
losses:                     # one run per entry, same seed and split
  - { name: dice }
  - { name: dscpp, gamma: 2 }
train: { epochs: 20, batchSize: 4, optimizer: adam, lr: 0.001, seed: 1, augment: true }
eval: { split: test, bins: 15 }
backend: auto               # auto | wasm | cpu | tensorflow | tensorflow-gpu | webgpu
output: runs                # runs/<name>/<run id>/ beside this file
`;
    default: {
      const never: never = id;
      throw new Error(`unknown template ${String(never)}`);
    }
  }
}
