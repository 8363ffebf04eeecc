import unhomoglyph from "unhomoglyph";

/**
 * When two names are one to a reader. Names are shown as typed (Home Assistant entities, the web page), so
 * "Ａｌｉｃｅ" (fullwidth), "Аlice" (a Cyrillic А) or "AIice" (a capital I) next to "Alice" would be another
 * person who reads the same. Compared by Unicode TR39's confusable skeleton (unhomoglyph: Unicode's own
 * confusables data), after NFKC and full case folding.
 */

/** Full case folding as far as names need it: toUpperCase maps "ß" to "SS", "ﬀ" to "FF", "ς" to "Σ". */
const caseFold = (text: string): string => text.toUpperCase().toLowerCase();

/** TR39's skeleton: NFD, each character replaced by its prototype, NFD again. */
const skeleton = (text: string): string => unhomoglyph(text.normalize("NFD")).normalize("NFD");

/**
 * Two keys of what a name looks like: its skeleton as written ("AIice" is "Alice": TR39 is case-sensitive)
 * and its skeleton whatever the case ("ALICE", "Straße" and "STRASSE"). Folding after a case-sensitive
 * skeleton would make "Ian" (I for l) and "Lan" one name; two keys keep them apart.
 */
export function lookAlikeKeys(name: string): readonly [asWritten: string, anyCase: string] {
  const compatible = name.normalize("NFKC").replace(/ +/g, " ");
  return [skeleton(compatible), caseFold(skeleton(caseFold(compatible)))];
}

/** Whether a reader could take one name for the other. */
export function looksAlike(a: readonly [string, string], b: readonly [string, string]): boolean {
  return a[0] === b[0] || a[1] === b[1];
}

/** Scripts whose letters stand in for each other (Cyrillic "а" for Latin "a", Greek "Ο" for "O"). */
const LOOK_ALIKE_SCRIPTS = ["Latin", "Greek", "Cyrillic", "Armenian", "Cherokee"].map(
  (script) => [script, new RegExp(`\\p{Script=${script}}`, "u")] as const,
);

/**
 * Why a new name reads as something it is not, or null: letters of two look-alike scripts ("Аlice" with a
 * Cyrillic А, whose id would be "lice"), or characters nobody sees.
 */
export function deceptiveNameReason(name: string): string | null {
  if (/\p{Default_Ignorable_Code_Point}/u.test(name)) return "must not contain invisible characters";
  const scripts = LOOK_ALIKE_SCRIPTS.filter(([, letter]) => letter.test(name)).map(([script]) => script);
  if (scripts.length > 1) {
    return `mixes ${scripts.join(" and ")} letters, which look alike; write it in one script`;
  }
  return null;
}
