import path from 'node:path';
import ts from 'typescript';

/** One TypeScript project of a `tsc -b` build, its paths relative to the repository root. */
export interface TsProject {
  files: string[];
  references: string[];
}

/**
 * Every project `tsc -b <entries>` builds (the entries and all they reference, transitively),
 * each with the source files TypeScript itself resolves from its include/exclude/files.
 */
export function tsProjectGraph(root: string, entries: readonly string[]): Map<string, TsProject> {
  const relative = (file: string) => path.relative(root, file).split(path.sep).join('/');
  const graph = new Map<string, TsProject>();
  const visit = (project: string) => {
    if (graph.has(project)) return;
    const parsed = ts.getParsedCommandLineOfConfigFile(
      path.join(root, project),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
          throw new Error(`${project}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`);
        },
      },
    );
    if (!parsed) throw new Error(`${project}: cannot be read`);
    if (parsed.errors.length) {
      throw new Error(`${project}: ${parsed.errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))}`);
    }
    const references = (parsed.projectReferences ?? []).map((ref) => relative(ts.resolveProjectReferencePath(ref)));
    graph.set(project, { files: parsed.fileNames.map(relative), references });
    for (const reference of references) visit(reference);
  };
  for (const entry of entries) visit(path.posix.normalize(entry));
  return graph;
}
