/**
 * Optimal string alignment distance (restricted Damerau–Levenshtein): insertions, deletions,
 * substitutions and transpositions of adjacent characters each cost 1, no substring is edited twice.
 * Transpositions count once because they are the commonest typing slip (`gmial` for `gmail`);
 * plain Levenshtein would count them twice and need a looser threshold for everything else.
 */

/**
 * The OSA distance between `a` and `b`, or `max + 1` as soon as it is known to exceed `max` (the
 * suggestion code only asks "is it within 1 or 2?", so most comparisons stop after a row or two).
 */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (a === b) return 0;
  const width = b.length + 1;
  // Three rows: the one two back is needed for transpositions.
  let previous2 = new Array<number>(width).fill(0);
  let previous = new Array<number>(width);
  let current = new Array<number>(width);
  for (let j = 0; j < width; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    let rowMin = i;
    const ai = a.charCodeAt(i - 1);
    for (let j = 1; j < width; j++) {
      const bj = b.charCodeAt(j - 1);
      const cost = ai === bj ? 0 : 1;
      let value = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && ai === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === bj) {
        value = Math.min(value, (previous2[j - 2] ?? 0) + 1);
      }
      current[j] = value;
      if (value < rowMin) rowMin = value;
    }
    if (rowMin > max) return max + 1;
    [previous2, previous, current] = [previous, current, previous2];
  }
  const distance = previous[b.length] ?? max + 1;
  return distance > max ? max + 1 : distance;
}

/** QWERTY rows, each shifted half a key right of the one above, as on a physical keyboard. */
const KEYBOARD_ROWS = ['1234567890-', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm'] as const;

let neighbours: ReadonlyMap<string, string> | null = null;

/**
 * For each key, the keys that touch it on a QWERTY keyboard: left and right on its row, the two above
 * (same index and one to the right) and the two below (one to the left and same index).
 */
function keyNeighbours(): ReadonlyMap<string, string> {
  if (neighbours !== null) return neighbours;
  const map = new Map<string, string>();
  KEYBOARD_ROWS.forEach((row, r) => {
    const above = KEYBOARD_ROWS[r - 1] ?? '';
    const below = KEYBOARD_ROWS[r + 1] ?? '';
    for (let i = 0; i < row.length; i++) {
      const touching = [row[i - 1], row[i + 1], above[i], above[i + 1], below[i - 1], below[i]];
      map.set(row.charAt(i), touching.filter((key): key is string => key !== undefined).join(''));
    }
  });
  neighbours = map;
  return map;
}

/** True when keys `a` and `b` touch on a QWERTY keyboard (`o` and `0`, `m` and `n`, `t` and `y`). */
export function isKeyNeighbour(a: string, b: string): boolean {
  return keyNeighbours().get(a)?.includes(b) === true;
}

/**
 * OSA distance where hitting a key next to the intended one costs 0.5 instead of 1, so `nry` is 1 from
 * `net` (two neighbouring keys) while `nbc` stays 2. For short strings only (top-level domains): it
 * fills the whole table.
 */
export function keyboardDistance(a: string, b: string): number {
  const width = b.length + 1;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = new Array<number>(width).fill(0);
    row[0] = i;
    rows.push(row);
  }
  const first = rows[0] ?? [];
  for (let j = 0; j < width; j++) first[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] ?? [];
    const previous = rows[i - 1] ?? [];
    const ai = a.charAt(i - 1);
    for (let j = 1; j < width; j++) {
      const bj = b.charAt(j - 1);
      const cost = ai === bj ? 0 : isKeyNeighbour(ai, bj) ? 0.5 : 1;
      let value = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && ai === b.charAt(j - 2) && a.charAt(i - 2) === bj) {
        value = Math.min(value, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row[j] = value;
    }
  }
  return rows[a.length]?.[b.length] ?? Number.POSITIVE_INFINITY;
}
