// "DSC++: New Experiment Config": pick a template, the data folders, the classes and a name, then
// write a valid config and open it.
import * as vscode from 'vscode';
import { basename, dirname, join } from 'node:path';
import { experimentName, parseClassList, renderTemplate, TEMPLATES, validateExperimentName, type TemplateParams, type TemplateSpec } from './model/templates';

export async function newExperimentConfig(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showQuickPick(
    TEMPLATES.map((t) => ({ label: t.label, detail: t.detail, spec: t })),
    { title: 'DSC++: New Experiment Config (1/5): template', placeHolder: 'Choose a template', matchOnDetail: true },
  );
  if (!picked) return undefined;
  const spec: TemplateSpec = picked.spec;
  const root = vscode.workspace.workspaceFolders?.[0]?.uri;
  const folders: TemplateParams['folders'] = {};
  let step = 2;
  for (const f of spec.folders) {
    const uris = await vscode.window.showOpenDialog({
      title: `DSC++: New Experiment Config (${step++}/5): ${f.prompt}`,
      openLabel: `Use as ${f.key}`,
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      defaultUri: folders.images ? vscode.Uri.file(dirname(folders.images)) : root,
    });
    if (!uris?.[0]) return undefined;
    folders[f.key] = uris[0].fsPath;
  }
  const classText = await vscode.window.showInputBox({
    title: `DSC++: New Experiment Config (4/5): classes`,
    prompt: 'Class names, comma-separated, background first (index = class id in the masks)',
    value: spec.classes.join(', '),
    validateInput: (v) => parseClassList(v).error,
  });
  if (classText === undefined) return undefined;
  const { classes } = parseClassList(classText);
  const suggested = experimentName(basename(dirname(folders.images ?? '')) || spec.id);
  const name = await vscode.window.showInputBox({
    title: 'DSC++: New Experiment Config (5/5): experiment name',
    prompt: 'Runs go to runs/<name>/ beside the config',
    value: suggested,
    validateInput: validateExperimentName,
  });
  if (name === undefined) return undefined;
  const base = root ?? vscode.Uri.file(dirname(folders.images ?? ''));
  const target = await vscode.window.showSaveDialog({
    title: 'Save the experiment config',
    defaultUri: vscode.Uri.file(join(base.fsPath, `${name}.dscpp.yaml`)),
    filters: { 'DSC++ experiment config': ['yaml'] },
    saveLabel: 'Create Config',
  });
  if (!target) return undefined;
  let file = target.fsPath;
  if (!/\.dscpp\.ya?ml$/i.test(file)) file = file.replace(/(\.ya?ml)?$/i, '.dscpp.yaml');
  const text = renderTemplate(spec.id, { name, configPath: file, folders, classes });
  const uri = vscode.Uri.file(file);
  await vscode.workspace.fs.writeFile(uri, Buffer.from(text, 'utf8'));
  await vscode.window.showTextDocument(uri);
  return uri;
}
