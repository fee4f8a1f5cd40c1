// Opens the dataset a config describes as the trainer's TrainingData.
import { resolveConfigPath, type ExperimentConfig } from '../config';
import { Dataset2D } from '../data/dataset2d';
import { mixSeed } from '../data/augment';
import type { Batch, EvalCase, SplitName, TrainingData } from './data-source';

class ImageData2D implements TrainingData {
  readonly dims = 2 as const;
  readonly channels: number;
  readonly classes: string[];
  readonly inputSpatial: number[];
  constructor(
    private readonly ds: Dataset2D,
    private readonly seed: number,
    private readonly augment: boolean,
  ) {
    this.channels = ds.channels;
    this.classes = [...ds.classes];
    this.inputSpatial = [ds.height, ds.width];
  }
  get warnings(): string[] {
    return this.ds.warnings;
  }
  caseIds(split: SplitName): string[] {
    return this.ds.cases(split);
  }
  stepsPerEpoch(batchSize: number): number {
    return this.ds.numBatches('train', batchSize);
  }
  async *trainBatches(epoch: number, batchSize: number): AsyncIterable<Batch> {
    for await (const b of this.ds.batchesAsync('train', { batchSize, shuffle: true, seed: mixSeed(this.seed, 0x7a11), epoch, augment: this.augment })) {
      yield { ids: b.ids, x: b.x, labels: b.labels, shape: b.shape };
    }
  }
  async *evalCases(split: SplitName, limit?: number): AsyncIterable<EvalCase> {
    const ids = this.ds.cases(split);
    for (const id of limit === undefined ? ids : ids.slice(0, limit)) {
      const c = this.ds.tryLoadCase(id);
      if (!c) continue; // unreadable and data.skipUnreadable: already warned
      yield { id, image: c.image, labels: c.mask, spatial: [c.height, c.width], meta: { imagePath: c.imagePath, maskPath: c.maskPath, originalSize: c.originalSize } };
    }
  }
  describe(): string {
    return `2D ${this.ds.height}×${this.ds.width}×${this.channels}, ${this.classes.length} classes; cases train ${this.ds.cases('train').length} / val ${this.ds.cases('val').length} / test ${this.ds.cases('test').length}`;
  }
}

export async function openTrainingData(config: ExperimentConfig, configPath: string, onWarning?: (m: string) => void): Promise<TrainingData> {
  const d = config.data;
  if (d.format === 'nifti') {
    const { openVolumeData } = await import('../data/volume-data');
    return openVolumeData(config, configPath, onWarning);
  }
  const imagesDir = resolveConfigPath(configPath, d.images);
  const masksDir = resolveConfigPath(configPath, d.masks as string);
  let size = d.size;
  if (!size) throw new Error(`${configPath}: data.size is required for 2D images (e.g. size: [128, 128])`);
  const ds = new Dataset2D({
    imagesDir,
    masksDir,
    classes: d.classes,
    size,
    channels: d.channels,
    skipUnreadable: d.skipUnreadable,
    split: d.split,
    augment: config.train.augment,
    cacheMB: d.cacheMB,
    onWarning,
  });
  size = [ds.height, ds.width];
  return new ImageData2D(ds, config.train.seed, config.train.augment);
}
