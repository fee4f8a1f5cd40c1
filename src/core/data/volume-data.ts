// Placeholder until the NIfTI volume loader lands (issue 4); replaced by the 3D implementation.
import type { ExperimentConfig } from '../config';
import type { TrainingData } from '../train/data-source';

export async function openVolumeData(_config: ExperimentConfig, configPath: string, _onWarning?: (m: string) => void): Promise<TrainingData> {
  throw new Error(`${configPath}: data.format nifti is not supported by this build yet`);
}
