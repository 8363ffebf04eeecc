// Minimal types for the part of node-record-lpcm16 (CJS, untyped) that voiceid uses: its recorder
// command builders, one module each. voiceid spawns the command itself to control env, stdio and restarts.
declare module "node-record-lpcm16/recorders/*.js" {
  interface RecorderOptions {
    sampleRate: number;
    channels: number;
    /** sox/arecord file type; voiceid always uses "raw". */
    audioType: string;
    device?: string;
    endOnSilence?: boolean;
    threshold?: number;
    thresholdStart?: number | null;
    thresholdEnd?: number | null;
    silence?: string;
  }

  interface RecorderCommand {
    cmd: string;
    args: Array<string | number>;
    spawnOptions?: { env?: Record<string, string | undefined> };
  }

  const recorder: (options: RecorderOptions) => RecorderCommand;
  export default recorder;
}
