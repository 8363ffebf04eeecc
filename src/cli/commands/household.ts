import { newHouseholdKey } from "../../household/crypto.js";
import { parseCommandArgs } from "../args.js";
import { UsageError } from "../errors.js";

/** `voiceid household key`: a new household key, for household.key (or keyFile) on every node. */
export async function householdCommand(argv: string[]): Promise<number> {
  const { positionals } = parseCommandArgs(argv, {});
  if (positionals.length !== 1 || positionals[0] !== "key")
    throw new UsageError("usage: voiceid household key");
  process.stdout.write(`${newHouseholdKey()}\n`);
  return 0;
}
