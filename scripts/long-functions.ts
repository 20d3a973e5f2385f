// Lists the functions in src/ longer than a limit (150 lines by default), longest first, measured on the
// TypeScript compiler's own parse: a function runs from its first token to its closing brace, inner
// functions included (a closure that holds thirty others is one long function); a class is not a
// function, its methods are measured one by one. test/unit/function-length.test.ts holds the line.
// Usage: node --import tsx scripts/long-functions.ts [limit]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface LongFunction {
  /** Path from the repository root. */
  readonly file: string;
  readonly name: string;
  /** 1-based line of the function's first token. */
  readonly line: number;
  readonly lines: number;
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return walk(path);
      return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
    });
}

/** The name a reader would search for: the declaration's own, or that of what it is assigned to. */
function nameOf(node: ts.FunctionLikeDeclaration, file: ts.SourceFile): string {
  if (node.name !== undefined) return node.name.getText(file);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (
    ts.isVariableDeclaration(parent) ||
    ts.isPropertyAssignment(parent) ||
    ts.isPropertyDeclaration(parent)
  ) {
    return parent.name.getText(file);
  }
  if (ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText(file).slice(0, 40)})`;
  return '(anonymous)';
}

function isFunctionWithBody(node: ts.Node): node is ts.FunctionLikeDeclaration {
  return (
    (ts.isFunctionDeclaration(node) ||
      ts.isFunctionExpression(node) ||
      ts.isArrowFunction(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isConstructorDeclaration(node) ||
      ts.isGetAccessorDeclaration(node) ||
      ts.isSetAccessorDeclaration(node)) &&
    node.body !== undefined
  );
}

/** Every function in the `.ts` files under `dir` longer than `limit` lines, longest first. */
export function longFunctions(limit = 150, dir = join(root, 'src')): LongFunction[] {
  const found: LongFunction[] = [];
  for (const path of walk(dir)) {
    const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (isFunctionWithBody(node)) {
        const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
        const lines = file.getLineAndCharacterOfPosition(node.getEnd()).line - start + 1;
        if (lines > limit) {
          found.push({ file: relative(root, path), name: nameOf(node, file), line: start + 1, lines });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return found.sort((a, b) => b.lines - a.lines);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const limit = Number(process.argv[2] ?? 150);
  for (const f of longFunctions(limit)) {
    console.log(`${String(f.lines).padStart(4)}  ${f.name}  ${f.file}:${f.line}`);
  }
}
