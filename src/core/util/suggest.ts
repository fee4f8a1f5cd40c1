// "Did you mean …?" for names typed by people: the closest candidate by edit distance, when it is
// close enough to be a plausible typo.

export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = cur;
  }
  return prev[n] as number;
}

/** The candidate closest to `name` (case-insensitive), if within max(2, a third of its length) edits. */
export function suggest(name: string, candidates: readonly string[]): string | null {
  const lower = name.toLowerCase();
  // A fragment of a longer name ('gpu' → 'tensorflow-gpu', 'dscp' → 'dscpp') beats edit distance.
  if (lower.length >= 3) {
    const containing = candidates.filter((c) => c.toLowerCase() !== lower && c.toLowerCase().includes(lower)).sort((a, b) => a.length - b.length);
    if (containing[0]) return containing[0];
  }
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === null || best === name) return null;
  return bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}
