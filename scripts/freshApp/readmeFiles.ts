import { isAbsolute, normalize } from 'node:path';

/** A file an app takes from the README: its path in the app and its text, word for word. */
export interface ReadmeFile {
  path: string;
  content: string;
  /** The line of README.md its block starts on, for messages. */
  line: number;
}

/**
 * The fenced code blocks of a README whose info string names a file (```ts file=lib/auth.ts),
 * for an app on the given Next.js major: a block with `next=16` goes only to Next 16 apps.
 * Throws when a block names a path outside the app or two blocks give one app the same file.
 *
 * @example readmeFiles(readFileSync('README.md', 'utf8'), 15) // [{ path: 'lib/auth.ts', … }, …]
 */
export function readmeFiles(markdown: string, nextMajor: number): ReadmeFile[] {
  const lines = markdown.split('\n');
  const files: ReadmeFile[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,}|~{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    // CommonMark: the block ends at a line of at least as many of the same fence characters.
    const close = new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`);
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !close.test(lines[i]!); i++) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`README.md:${start + 1}: the code block is never closed`);
    const attributes = Object.fromEntries(
      open[2]!
        .trim()
        .split(/\s+/)
        .filter((word) => word.includes('='))
        .map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]),
    );
    const path = attributes.file;
    if (!path) continue;
    if (attributes.next !== undefined && Number(attributes.next) !== nextMajor) continue;
    if (isAbsolute(path) || normalize(path).startsWith('..')) throw new Error(`README.md:${start + 1}: file=${path} is outside the app`);
    const twin = files.find((f) => normalize(f.path) === normalize(path));
    if (twin) throw new Error(`README.md:${start + 1}: file=${path} is given twice for Next ${nextMajor} (also at line ${twin.line})`);
    files.push({ path, content: `${body.join('\n')}\n`, line: start + 1 });
  }
  return files;
}
