/** commander's collector for a repeatable option (`--tenant a --tenant b`). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
