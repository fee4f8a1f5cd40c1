// Error types of the 2D data pipeline. Every message names the file (or the config field) and says how
// to fix the problem, so that the CLI can print it as it is.

/** A file that cannot be read or decoded as an image: corrupt, truncated, unsupported or missing. */
export class ImageDecodeError extends Error {
  override readonly name = 'ImageDecodeError';
  /** The path (or name) of the file. */
  readonly path: string;
  /** Why it failed, without the path. */
  readonly reason: string;

  constructor(path: string, reason: string) {
    super(`${path}: ${reason}`);
    this.path = path;
    this.reason = reason;
  }
}

/** A mask that decodes but does not hold valid class ids (out-of-range value, colour mask, size mismatch). */
export class MaskError extends Error {
  override readonly name = 'MaskError';
  readonly path: string;

  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** A data-set level problem: nothing pairs, a bad split, an unknown case id, bad options. */
export class DataError extends Error {
  override readonly name = 'DataError';
}
