// 2D data pipeline: decoding, pairing, resizing, splitting, augmentation, batches and previews.
export * from './errors';
export * from './image';
export * from './resize';
export * from './pairing';
export * from './augment';
export * from './dataset2d';
export * from './preview';
