import type { VoiceCommand } from "./command.js";

/** Recent commands kept for the API and the web page. */
export const RECENT_COMMANDS = 20;

export interface RecentCommands {
  /** Whether transcripts are kept (wyoming.showTranscripts); without it every transcript is null. */
  showTranscripts: boolean;
  /** Newest first. */
  commands: VoiceCommand[];
}

/**
 * The last few voice commands, in memory only. Transcripts are private: kept only when the user asked
 * for them (wyoming.showTranscripts), and never written anywhere.
 */
export class CommandLog {
  private readonly commands: VoiceCommand[] = [];

  constructor(private readonly showTranscripts: boolean) {}

  add(command: VoiceCommand): void {
    this.commands.unshift({ ...command, transcript: null });
    this.commands.length = Math.min(this.commands.length, RECENT_COMMANDS);
  }

  transcribed(command: VoiceCommand, text: string): void {
    if (!this.showTranscripts) return;
    const kept = this.commands.find((c) => c.id === command.id);
    if (kept) kept.transcript = text;
  }

  recent(): RecentCommands {
    return { showTranscripts: this.showTranscripts, commands: this.commands.map((c) => ({ ...c })) };
  }
}
