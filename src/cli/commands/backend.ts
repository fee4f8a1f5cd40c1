import { listBackends } from '../../core/compute/backend';
import { defaultBackendsDirectory, installBackend, type InstallableBackend } from '../../core/compute/install';
import { parseArgs, stringFlag, UsageError, type Command } from '../command';
import { table } from '../progress';

const usage = `Usage: dscpp-lab backend list [--backends-dir D] [--json]
       dscpp-lab backend install tensorflow|tensorflow-gpu [--backends-dir D]

list     every compute backend with available / unavailable and the reason, and the one 'auto' picks.
install  installs @tensorflow/tfjs-node (tensorflow) or @tensorflow/tfjs-node-gpu (tensorflow-gpu) with npm
         into the backends directory (default: $DSCPP_BACKENDS_DIR or ~/.dscpp-lab/backends), where
         training and the VS Code extension find it. Needs internet access (libtensorflow is downloaded
         by the package's install script); tensorflow-gpu also needs CUDA 11.2 and cuDNN 8.1.`;

export const backendCommand: Command = {
  name: 'backend',
  summary: 'list compute backends, or install tfjs-node / tfjs-node-gpu on demand',
  usage,
  async run(argv) {
    const p = parseArgs(argv, { values: ['backends-dir'], booleans: ['json'] }, 'backend');
    const [sub, what] = p.positionals;
    const dir = stringFlag(p, 'backends-dir') ?? defaultBackendsDirectory();
    if (sub === 'list') {
      const { backends, auto } = await listBackends({ backendsDirectory: dir });
      if (p.flags.has('json')) {
        process.stdout.write(JSON.stringify({ auto, backendsDirectory: dir, backends }, null, 2) + '\n');
        return 0;
      }
      process.stdout.write(table(['backend', 'status', 'detail'], backends.map((b) => [b.name + (b.name === auto ? ' (auto)' : ''), b.available ? 'available' : 'unavailable', b.reason])) + '\n');
      process.stdout.write(`\nbackends directory: ${dir}\n`);
      return 0;
    }
    if (sub === 'install') {
      if (what !== 'tensorflow' && what !== 'tensorflow-gpu') throw new UsageError(`backend install: expected 'tensorflow' or 'tensorflow-gpu', got ${what ? `'${what}'` : 'nothing'}`);
      process.stdout.write(`installing ${what} into ${dir} …\n`);
      const r = await installBackend(what as InstallableBackend, dir, (s) => process.stderr.write(s));
      process.stdout.write(`${r.ok ? '✔' : '✖'} ${r.message}\n`);
      return r.ok ? 0 : 1;
    }
    throw new UsageError(`backend: expected 'list' or 'install', got ${sub ? `'${sub}'` : 'nothing'}`);
  },
};
