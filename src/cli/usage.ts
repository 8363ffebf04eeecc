export const USAGE = `Usage: voiceid <command> [options]

Commands:
  run [--config FILE] [--input FILE|-] [--realtime]   run the daemon (microphone by default)
  embed <wav> [--json] [--no-trim]                    print the voiceprint of a WAV file
  enroll <name> <wav>...                              add enrolment samples for a speaker
  identify <wav> [--json]                             who is speaking in a WAV file
  diarize <wav> [--json|--rttm]                       who spoke when in a recording
  speakers [--json] [--model ID]                      list enrolled speakers, with their voiceprints of the
                                                      encoder in use: enrolled, simulated rooms, learned
  speakers rm <name>                                  remove a speaker and its samples
  speakers rename <name> <new name>                   rename (the id, and Home Assistant entities, stay)
  speakers threshold <name> <0..1|default> [--model ID]  a speaker's own threshold (for the encoder in use)
  speakers forget-learned <name>                      forget the voiceprints the daemon learned of a speaker
  voices [--json] [--ignored]                         voices the running daemon heard that nobody enrolled
  voices name <voice> <person>                        the voice is that person (created if new) from now on
  voices ignore <voice> [label]                       never report that voice again (the TV, the radio)
  voices unignore <voice>                             report it again
  voices forget <voice>                               delete its voiceprints and clips
  models fetch [--mirror DIR]                         fetch missing models and verify them
  models check                                        report which models are present and valid
  hardware [--json] [--remeasure]                     what this machine is, encoder speeds, the encoder chosen
  household key                                       print a new household key (64 hex digits) for
                                                      household.key on every node

Options for all commands:
  --data-dir DIR     registry and enrolment clips (env VOICEID_DATA_DIR)
  --models-dir DIR   model files (env VOICEID_MODELS_DIR, default <install dir>/models)
  -h, --help         this text

Exit codes: 0 ok, 1 failure (reason on stderr), 2 usage.
`;
