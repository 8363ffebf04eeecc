// Public surface of the models capability (CLI and daemon import from here).
export {
  allPresent,
  type CheckModelsOptions,
  checkModels,
  type ModelFileState,
  type ModelFileStatus,
} from "./check.js";
export { runModelsCheck, runModelsFetch } from "./commands.js";
export {
  ArchiveFormatError,
  ManifestError,
  ModelChecksumError,
  ModelConversionError,
  ModelFetchError,
  PickleError,
  TorchCheckpointError,
} from "./errors.js";
export { type FetchAction, type FetchedFile, type FetchModelsOptions, fetchModels } from "./fetch.js";
export { formatFetchReport, formatModelCheck } from "./format.js";
export {
  type DerivedFile,
  type DownloadedFile,
  findModel,
  isDerivedFile,
  loadManifest,
  type Manifest,
  type ModelEntry,
  type ModelFile,
  type ModelSource,
  parseManifest,
} from "./manifest.js";
export { defaultManifestPath, modelFilePath, repoRoot, resolveModelsDir } from "./paths.js";
export {
  convertResemblyzerToOnnx,
  RESEMBLYZER_INPUT_NAME,
  RESEMBLYZER_OUTPUT_NAME,
} from "./resemblyzer-onnx.js";
