/** The shared test media (real files nobody here wrote), beside the repository: ../shared/assets. */
import path from 'node:path';

export const ASSETS = path.resolve(import.meta.dirname, '../../../shared/assets');
export const VIDEO = path.join(ASSETS, 'video');
export const IMAGES = path.join(ASSETS, 'images');
export const MODELS = path.join(ASSETS, 'models');
