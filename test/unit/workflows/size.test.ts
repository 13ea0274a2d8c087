import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// Workflow code stays small enough to read (issue 16): no function in src/workflows is longer
// than about 80 lines, so a stage, a wait or a handler is read in one screen.

const ROOT = path.join(__dirname, '..', '..', '..', 'src', 'workflows');
const MAX_LINES = 80;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every function (declaration, method, arrow, expression) of a file longer than the limit, as `file:line name (n lines)`. */
function longFunctions(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const name = node.name && ts.isIdentifier(node.name) ? node.name.text : '(anonymous)';
      if (end - start + 1 > MAX_LINES) found.push(`${path.relative(ROOT, file)}:${start + 1} ${name} (${end - start + 1} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('workflow code size', () => {
  it(`has no function longer than ${MAX_LINES} lines in src/workflows`, () => {
    const files = sourceFiles(ROOT);
    expect(files.length).toBeGreaterThan(10);
    expect(files.flatMap(longFunctions)).toEqual([]);
  });
});
